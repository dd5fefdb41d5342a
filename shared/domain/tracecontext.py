"""W3C Trace Context: reading a caller's ``traceparent``, and making one for what has none.

Each operation belongs to one trace: its submit request's (the caller's ``traceparent``, or a new trace when it
sent none or one that is not valid), recorded on its row (``Operation.traceparent``) so that every attempt,
retry, callback and event joins it. A value is read as the Trace Context recommendation says a receiver must:
version ``00`` exactly (a later version by its first four fields), lower-case hex, the trace and parent ids not
all zeros. Anything else starts a new trace, and is never echoed back or logged (it may be 10 KB of anything).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_LATER_VERSION = re.compile(r"(?!00|ff)[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?", re.DOTALL)
MAX_TRACEPARENT_CHARS = 512  # more is not a traceparent of any version worth reading
SAMPLED = 0x01


@dataclass(frozen=True)
class TraceParent:
    """One position in a trace: its trace id, the span's id, and its flags (bit 0: sampled)."""

    trace_id: str
    span_id: str
    flags: int = SAMPLED

    @property
    def header(self) -> str:
        """The ``traceparent`` header (version 00) for this position."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)


def parse(value: str | None) -> TraceParent | None:
    """The ``traceparent`` a caller sent, or None when there is none or it is not valid."""
    if not value or len(value) > MAX_TRACEPARENT_CHARS:
        return None
    match = _VERSION_00.fullmatch(value) or _LATER_VERSION.fullmatch(value)
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceParent(trace_id, span_id, int(flags, 16))


def child_of(parent: TraceParent | None) -> TraceParent:
    """A new span's position: under ``parent`` (its trace, its sampled flag), or the root of a new trace."""
    span_id = secrets.token_hex(8)
    if parent is None:
        return TraceParent(secrets.token_hex(16), span_id, SAMPLED)
    return TraceParent(parent.trace_id, span_id, parent.flags & SAMPLED)
