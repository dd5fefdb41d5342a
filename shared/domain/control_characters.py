"""Control characters, refused in every URL the app accepts (callback and notification URLs, request paths
and query strings): a NUL or a line break in a URL is never what a caller meant, and what a server, a log or
a storage query downstream makes of one is anyone's guess."""

from __future__ import annotations

import re

# C0 (U+0000 to U+001F), DEL (U+007F) and C1 (U+0080 to U+009F).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CONTROL_CHARACTERS = "control characters (U+0000 to U+001F and U+007F to U+009F, such as NUL), raw or percent-encoded"


def has_control_character(text: str) -> bool:
    """Whether ``text`` (already decoded: percent-decode a URL first) holds a C0 or C1 control character or DEL."""
    return _CONTROL.search(text) is not None
