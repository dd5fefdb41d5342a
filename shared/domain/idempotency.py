"""Idempotency keys (the IETF HTTP API working group's ``Idempotency-Key`` draft): a submit that carries one is
made once per caller, however often it is sent again.

A key belongs to its caller (``runas``: two callers' same key are two operations) and is named in storage by a
hash of the two (``key_hash``), whose last hex digit is also the last digit of the operation's id, so that the
key's row and the operation's row share a partition and are written in one entity group transaction
(``storage.keys``). A request is the same request when its *fingerprint* is: the operation's name, its checked
inputs, its callback URL and its options, as canonical JSON, hashed.

A key's row says whether its operation was accepted (its first message queued). Until it says so, the request
that made it is still being processed (409 with Retry-After), unless that request has had time enough to queue
the message or give up (``ADOPT_AFTER``): a request that sees a key older than that, not yet accepted, takes the
operation over (its first request died between the row and the message) and queues a message for it.

Pure: the rules. Storage is ``storage.ports.OperationStore``; the use case is ``services.idempotency``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidRequest

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
# After this long a key that is not accepted yet is taken over: its first request queued its message or gave up
# well before (it tries for ``submission.SEND_SECONDS``), or it died.
ADOPT_AFTER = timedelta(seconds=15)


# What the header may hold, for the OpenAPI document as for the parser: a key as most clients send it (printable
# ASCII, no comma, not starting with a quote) or a Structured Field string (RFC 8941 §3.3.3), as the draft has it,
# of 1 to MAX_KEY_CHARS characters, either with spaces or tabs around it.
_BARE = r'[!#-+\--~](?:[ -+\--~]{0,253}[!-+\--~])?'
_QUOTED = r'"(?:[ !#-\[\]-~]|\\["\\]){1,255}"'
SYNTAX = f"[ \t]*(?:{_BARE}|{_QUOTED})[ \t]*"
_SYNTAX = re.compile(SYNTAX)
_ESCAPED = re.compile(r'\\(["\\])')
_TWO_QUOTED = re.compile(f"{_QUOTED}[ \t]*,")  # a quoted key, then another value: the header sent twice


def parse_key(header: str | None) -> str | None:
    """The key an ``Idempotency-Key`` header gives (None: none given), bare or quoted (``SYNTAX``);
    InvalidRequest naming what to fix. A header sent twice reaches the app as one whose values are joined with
    commas, so a bare key holding a comma is refused as two."""
    if header is None:
        return None
    text = header.strip(" \t")
    quoted = text.startswith('"')
    key = _ESCAPED.sub(r"\1", text[1:-1]) if quoted and len(text) > 1 and text.endswith('"') else text
    if not key:
        raise InvalidRequest(f"The {HEADER} header is empty: send a unique key, such as a new GUID, or leave the "
                             "header out.")
    if not all(" " <= ch <= "~" for ch in text):
        raise InvalidRequest(f"The {HEADER} must be printable ASCII (space to '~'): send a GUID, for example.")
    if len(key) > MAX_KEY_CHARS:
        raise InvalidRequest(f"The {HEADER} is {len(key)} characters long: send at most {MAX_KEY_CHARS}.")
    if _SYNTAX.fullmatch(header):
        return key
    if (not quoted and "," in text) or _TWO_QUOTED.match(text):
        raise InvalidRequest(f"Send one {HEADER} header with one key: this request has more than one (or a key "
                             "holding a comma: quote it, as \"a,b\").")
    raise InvalidRequest(f"The {HEADER} header cannot be read: send the key as it is, or as a quoted string "
                         "(\"<key>\", with \\\" for a quote and \\\\ for a backslash).")


def key_hash(runas: str, key: str) -> str:
    """32 hex digits naming the caller's key in storage (a key may hold characters a RowKey cannot)."""
    return hashlib.sha256(f"{runas}\n{key}".encode()).hexdigest()[:32]


def shard_of_key(hashed: str) -> str:
    """The partition the key's row and its operation's row share: the hash's last hex digit."""
    return hashed[-1]


def fingerprint(request: Mapping[str, Any]) -> str:
    """The request's fingerprint: its canonical JSON (keys sorted, no spaces, times as ISO 8601), hashed."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no canonical form")


def check_same(first_fingerprint: str, request_fingerprint: str, key: str, operation_id: str) -> None:
    """IdempotencyKeyReused unless the request is the one the key was first sent with."""
    if first_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(f"The {HEADER} '{key}' was first sent with a different request (operation "
                                   f"{operation_id}): send a new key for a new request, or the first request "
                                   "unchanged to get its answer.")


def still_in_use(key: str, created: datetime, now: datetime) -> IdempotencyKeyInUse | None:
    """The 409 to answer while the key's first request may still be queuing its operation; None once it has had
    time enough (the operation is then taken over)."""
    left = created + ADOPT_AFTER - now
    return key_in_use(key, math.ceil(left.total_seconds())) if left > timedelta(0) else None


def key_in_use(key: str, seconds: int) -> IdempotencyKeyInUse:
    """409: a request with the key is still being processed; try again in ``seconds`` (at least 1)."""
    named = f" '{key}'" if key else ""
    return IdempotencyKeyInUse(f"A request with the {HEADER}{named} is still being processed: send it again in "
                               "a few seconds to get its answer.", max(1, seconds))
