"""Operation ids: a GUID whose first 12 hex digits hold its creation time in milliseconds, *inverted*
(``2**48 - 1 - ms``), so that ids sort newest first; the 13th digit is the version nibble ``8`` (RFC 9562's
custom layout) and the variant bits are set; the rest is random. Where rows live in Table Storage, keyed by
these ids, is ``storage.keys``.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from .errors import InvalidRequest

_MAX_MS = (1 << 48) - 1
_G = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID = re.compile(rf"^(?:\{{({_G})\}}|({_G}))$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since 1970 as ids and row keys keep them (48 bits). Integer arithmetic: a float timestamp
    loses a millisecond now and then."""
    return min(max((moment - _EPOCH) // timedelta(milliseconds=1), 0), _MAX_MS)


def new_operation_id(created_at: datetime, shard: str | None = None) -> str:
    """A new id for an operation created at ``created_at``; ``shard``: its last hex digit (the partition its row
    lives in, ``storage.keys``), when it must be that one."""
    rand = secrets.randbits(74)
    if shard is not None:
        rand = (rand & ~0xF) | int(shard, 16)
    value = ((_MAX_MS - epoch_ms(created_at)) << 80) | (0x8 << 76) | ((rand >> 62) << 64) | (0b10 << 62) \
        | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def system_job_id(name: str) -> str:
    """The fixed id of the app's own system job ``name`` (the purge): the id layout with the oldest
    possible time, so that it sorts after every operation, and the rest taken from the name."""
    digest = int.from_bytes(hashlib.sha256(f"bgops system job {name}".encode()).digest()[:10], "big")
    value = (_MAX_MS << 80) | (0x8 << 76) | (((digest >> 62) & 0xFFF) << 64) | (0b10 << 62) \
        | (digest & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def created_at(operation_id: str) -> datetime:
    """The creation time an id carries (meaningless for ids made elsewhere)."""
    inverted = int(operation_id.replace("-", "")[:12], 16)
    return _EPOCH + timedelta(milliseconds=_MAX_MS - inverted)


def owner_key(runas: str) -> str:
    """16 hex digits naming an owner in row keys (a principal id may hold characters a RowKey cannot)."""
    return hashlib.sha256(runas.encode()).hexdigest()[:16]


def parse_operation_id(text: str) -> str:
    """The canonical (lower-case) form of a GUID, or InvalidRequest saying what is wrong."""
    match = _GUID.match(text.strip()) if text else None
    if not match:
        raise InvalidRequest(f"'{text[:64]}' is not a background operation id: expected a GUID such as "
                             "3f2504e0-4f89-41d3-9a0c-0305e82c3301.")
    return (match.group(1) or match.group(2)).lower()
