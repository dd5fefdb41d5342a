"""Who is calling, and which operations that caller may see and steer.

With function keys alone nobody vouches for a caller's identity: a key grants
every operation (``EVERYONE``). With App Service Authentication (Easy Auth)
on, the platform puts the signed-in principal in ``X-MS-CLIENT-PRINCIPAL-ID``
and its claims, base64 JSON, in ``X-MS-CLIENT-PRINCIPAL`` (and strips any a
client sent): the caller then owns the operations it submits, sees only
those, and sees all only with the admin app role.

``{"auth_typ": ..., "claims": [{"typ": ..., "val": ...}], "name_typ": ...,
"role_typ": ...}`` is the claims payload (learn.microsoft.com/azure/app-service/
configure-authentication-user-identities); an app role arrives as a claim
whose ``typ`` is ``role_typ`` (or ``roles``, Entra's own name for it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import Unauthenticated

PRINCIPAL_ID_HEADER = "X-MS-CLIENT-PRINCIPAL-ID"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
MAX_PRINCIPAL_CHARS = 16 * 1024  # the platform's claims header; larger is not the platform's


@dataclass(frozen=True)
class Caller:
    """A caller: its principal id (``""`` when nobody vouches for one) and whether it sees everything."""

    id: str
    admin: bool

    @property
    def owner(self) -> str | None:
        """Whose operations this caller lists: its own, or everyone's (None)."""
        return None if self.admin else self.id

    def may_see(self, runas: str) -> bool:
        """True when this caller may read and steer an operation submitted as ``runas``."""
        return self.admin or runas == self.id


EVERYONE = Caller("", admin=True)  # function keys alone: a key grants every operation


def caller_from(headers: Mapping[str, str], *, platform_authentication: bool, admin_role: str) -> Caller:
    """The caller a request comes from. Principal headers count only when the platform's authentication
    is on; then a request without a principal (anonymous access let through) is Unauthenticated."""
    if not platform_authentication:
        return EVERYONE
    principal = headers.get(PRINCIPAL_ID_HEADER, "").strip()
    if not principal:
        raise Unauthenticated("App Service Authentication is on and this request has no signed-in principal: "
                              "sign in (or send a bearer token for the app's registration) and try again.")
    return Caller(principal, admin=admin_role in roles_of(headers.get(PRINCIPAL_HEADER, "")))


def roles_of(encoded: str) -> frozenset[str]:
    """The app roles in an ``X-MS-CLIENT-PRINCIPAL`` payload; none when it is absent or unreadable."""
    if not encoded or len(encoded) > MAX_PRINCIPAL_CHARS:
        return frozenset()
    try:
        payload = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
        role_type = payload.get("role_typ") or "roles"
        return frozenset(str(claim["val"]) for claim in payload.get("claims") or ()
                         if isinstance(claim, dict) and claim.get("typ") in (role_type, "roles") and "val" in claim)
    except (binascii.Error, ValueError, AttributeError, TypeError):
        return frozenset()
