"""The ``Prefer`` request header (RFC 7240): respond-async and the callback URL."""

from __future__ import annotations

from dataclasses import dataclass, field

CALLBACK_TOKENS = ("odata.callback", "callback")


@dataclass(frozen=True)
class Preferences:
    """What the caller prefers: background processing, and where to call back."""

    respond_async: bool = False
    callback_url: str | None = field(default=None, repr=False)
    callback_token: str | None = None  # the syntax it came in, echoed in Preference-Applied


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes (a quoted URL may hold , and ;)."""
    parts, current, quoted = [], [], False
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


def parse_prefer(header: str | None) -> Preferences:
    """``respond-async, odata.callback; url="..."`` (or the older ``callback; url=...``)."""
    respond_async, url, token = False, None, None
    for preference in _split(header or "", ","):
        name, *params = _split(preference, ";")
        name = _name_value(name)[0]
        if name == "respond-async":
            respond_async = True
        elif name in CALLBACK_TOKENS:
            url, token = dict(_name_value(p) for p in params).get("url"), name
    return Preferences(respond_async=respond_async, callback_url=url, callback_token=token)
