"""The ``Prefer`` request header (RFC 7240): respond-async, wait, the callback URL, odata.maxpagesize,
odata.continue-on-error.

Preferences this app does not know are ignored, as RFC 7240 asks; a header
that cannot be read (a preference with no name, or anything outside RFC 7240's
syntax, ``SYNTAX``, which the OpenAPI document publishes) or a page size that
is not a positive whole number is refused, never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..domain.errors import InvalidRequest

CALLBACK_TOKENS = ("odata.callback", "callback")
CONTINUE_TOKENS = ("odata.continue-on-error", "continue-on-error")  # OData 4.0's name, and 4.01's
PAGE_SIZE_PREFERENCE = "odata.maxpagesize"
WAIT_PREFERENCE = "wait"
# Azure's front end drops a request after 230 s: a wait longer than that can never be honoured, so asking for one
# is a mistake to point out, not a wish to cut down (a shorter one beyond the app's maximum is cut down).
FRONT_END_SECONDS = 230
# The header's shape, bounded: a callback URL (at most 2,048 characters) and a few preferences fit well.
MAX_HEADER_CHARS = 4096
MAX_PREFERENCES = 16
MAX_PARAMETERS = 8

# RFC 7240 §2: preference = token [BWS "=" BWS word] *(OWS ";" [OWS parameter]), parameter = token [BWS "=" BWS
# word], in a list whose empty items are skipped (RFC 9110 §5.6.1); SYNTAX is a field value that is not empty,
# no spaces at its ends. A word is a quoted string (no escapes: a callback URL is taken as written) or, beyond
# RFC 7240's tokens, any visible ASCII but '"', ',' and ';', so that an unquoted URL reads too. Each run of
# spaces has one place in it, so a failed match cannot backtrack far; the counts are MAX_PREFERENCES and
# MAX_PARAMETERS.
_OWS = r"[ \t]*"
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_WORD = r'(?:[!#-+\--:<-~]+|"[^"\u0000-\u0008\u000a-\u001f\u007f]*")'
_VALUE = f"(?:{_OWS}=(?:{_OWS}{_WORD})?)?"
_PREFERENCE = f"{_TOKEN}{_VALUE}(?:{_OWS};(?:{_OWS}{_TOKEN}{_VALUE})?){{0,{MAX_PARAMETERS}}}"
_NEXT = f"{_OWS},(?:{_OWS}{_PREFERENCE})?"
# The first item is a preference or empty (the value then starts with its comma): never a space first.
SYNTAX = (f"{_PREFERENCE}(?:{_NEXT}){{0,{MAX_PREFERENCES - 1}}}"
          f"|,(?:{_OWS}{_PREFERENCE})?(?:{_NEXT}){{0,{MAX_PREFERENCES - 2}}}")
_SYNTAX = re.compile(f"(?:{SYNTAX})?")  # a value, or none


@dataclass(frozen=True)
class Preferences:
    """What the caller prefers: background processing, and where to call back."""

    respond_async: bool = False
    callback_url: str | None = field(default=None, repr=False)
    callback_token: str | None = None  # the syntax it came in, echoed in Preference-Applied
    max_page_size: int | None = None
    continue_on_error: bool = False  # a $batch goes on after a request fails
    wait: int | None = None  # seconds the caller will wait for the operation to finish (RFC 7240 §4.3)


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes (a quoted URL may hold , and ;)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _name_value(text: str) -> tuple[str, str | None]:
    name, _, value = text.partition("=")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return name.strip().lower(), (value if _ else None)


def _page_size(value: str | None) -> int:
    if value is None or not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < 1:
        raise InvalidRequest(f"Prefer: {PAGE_SIZE_PREFERENCE} must be a whole number of rows from 1 up, "
                             f"as in 'Prefer: {PAGE_SIZE_PREFERENCE}=100'.")
    return int(value)


def _wait(value: str | None) -> int:
    if value is None or not re.fullmatch(r"[0-9]{1,9}", value):
        raise InvalidRequest(f"Prefer: {WAIT_PREFERENCE} must be a whole number of seconds from 0, as in "
                             f"'Prefer: respond-async, {WAIT_PREFERENCE}=10'.")
    if int(value) > FRONT_END_SECONDS:
        raise InvalidRequest(f"Prefer: {WAIT_PREFERENCE}={int(value)} is longer than a request can be held (Azure "
                             f"ends it after {FRONT_END_SECONDS} s): ask for at most {FRONT_END_SECONDS}, and poll "
                             "Location after that.")
    return int(value)


def parse_prefer(header: str | None) -> Preferences:
    """``respond-async, odata.callback; url="..."`` (or the older ``callback; url=...``), ``wait=N`` and
    ``odata.maxpagesize=N``; InvalidRequest for a header that cannot be read."""
    respond_async, url, token, page_size, go_on, wait = False, None, None, None, False, None
    for preference in _checked(header or ""):
        name, value = _name_value(preference.split(";", 1)[0])
        if name == "respond-async":
            respond_async = True
        elif name in CALLBACK_TOKENS:
            params = _split(preference, ";")[1:]
            url, token = dict(_name_value(p) for p in params).get("url"), name
        elif name == PAGE_SIZE_PREFERENCE:
            page_size = _page_size(value)
        elif name in CONTINUE_TOKENS:
            go_on = (value or "true").lower() != "false"
        elif name == WAIT_PREFERENCE:
            wait = _wait(value)
    return Preferences(respond_async=respond_async, callback_url=url, callback_token=token,
                       max_page_size=page_size, continue_on_error=go_on, wait=wait)


def _checked(header: str) -> list[str]:
    """The header's preferences, once it is within bounds and reads as RFC 7240 has it; InvalidRequest otherwise."""
    if len(header) > MAX_HEADER_CHARS:
        raise InvalidRequest(f"The Prefer header is longer than {MAX_HEADER_CHARS} characters.")
    preferences = _split(header, ",")
    if len(preferences) > MAX_PREFERENCES:
        raise InvalidRequest(f"The Prefer header has more than {MAX_PREFERENCES} preferences.")
    for preference in preferences:
        if len(_split(preference, ";")) > MAX_PARAMETERS + 1:
            raise InvalidRequest(f"A preference in the Prefer header has more than {MAX_PARAMETERS} parameters.")
        if not _name_value(preference.split(";", 1)[0])[0]:
            raise InvalidRequest("The Prefer header has a preference with no name; send, for example, "
                                 "'Prefer: respond-async' or 'Prefer: odata.maxpagesize=100'.")
    if not _SYNTAX.fullmatch(header.strip(" \t")):  # spaces at its ends are no part of a field value
        raise InvalidRequest("The Prefer header cannot be read: send preferences as RFC 7240 has them, separated by "
                             "commas, such as 'respond-async, odata.callback; url=\"https://...\"'.")
    return preferences
