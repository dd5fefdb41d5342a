"""The absolute URLs the API hands back to a caller, and what they carry.

* **Base.** ``BGOPS_PUBLIC_BASE_URL`` when set (a custom domain, a gateway);
  else the platform's host name (``WEBSITE_HOSTNAME``); else, locally, the
  request's own. The scheme is the one the caller used: a TLS-terminating
  front end says so in ``X-Forwarded-Proto``. A ``Host`` header a client made
  up never reaches a URL the app hands out in Azure.
* **The caller's key.** A caller that authorised with ``?code=`` gets the key
  back on every URL it is meant to call next (``Location``, ``@odata.nextLink``,
  the status body's ``location``), as Durable Functions' ``statusQueryGetUri``
  does: a Power Automate flow polls ``Location`` with none of the headers or
  query of its first request. A key sent in ``x-functions-key`` is not copied
  into URLs. Callback payloads are built without any of this (no key).
* **The failure opt-in.** ``returnInternalServerErrorOnFailure`` rides along
  the same way, so a flow that asked for it on submit keeps it while polling.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import azure.functions as func

from ..domain.errors import InvalidRequest
from ..settings import Settings

KEY_PARAMETER = "code"
FAIL_ON_FAILURE = "returnInternalServerErrorOnFailure"
_SCHEMES = ("http", "https")


def public_base(req: func.HttpRequest, settings: Settings) -> str:
    """``scheme://host[:port]`` as clients reach the app."""
    if settings.public_base_url:
        return settings.public_base_url
    try:
        own = urlsplit(req.url)
        own.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InvalidRequest("The request's Host header cannot be read as a host name.") from None
    forwarded = req.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if settings.public_host_name:
        return f"{forwarded if forwarded in _SCHEMES else 'https'}://{settings.public_host_name}"
    return f"{forwarded if forwarded in _SCHEMES else own.scheme}://{own.netloc}"


def fail_on_failure(req: func.HttpRequest) -> bool:
    """``returnInternalServerErrorOnFailure``: true or false (any case), false when absent."""
    value = req.params.get(FAIL_ON_FAILURE)
    if value is None or value.strip().lower() == "false":
        return False
    if value.strip().lower() == "true":
        return True
    raise InvalidRequest(f"{FAIL_ON_FAILURE} must be true or false.")


def carried(req: func.HttpRequest) -> dict[str, str]:
    """The query parameters every URL handed back to this caller keeps: its key, its opt-in."""
    params = {}
    if req.params.get(KEY_PARAMETER):
        params[KEY_PARAMETER] = req.params[KEY_PARAMETER]
    if fail_on_failure(req):
        params[FAIL_ON_FAILURE] = "true"
    return params


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to its query string."""
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params, safe='$')}"
