"""Operation ids, and the keys that place rows in Table Storage.

Table Storage has no TTL and no secondary index, so the layout does the work:

* An id is a GUID whose first 12 hex digits hold its creation time in
  milliseconds, *inverted* (``2**48 - 1 - ms``), so ids sort newest first;
  the 13th digit is the version nibble ``8`` (RFC 9562's custom layout) and
  the variant bits are set; the rest is random, and the last digit names one
  of 16 partitions (shards).
* The row lives at PartitionKey = shard, RowKey = id: a status read is one
  point read, writes spread over 16 partitions, and listing a partition by
  RowKey is listing it newest first.
* When an operation finishes, an *expiry marker* row is written in the same
  partition and the same entity group transaction: RowKey =
  ``~<expiry ms, 12 hex digits>-<id>``. ``~`` sorts after every hex digit, so
  markers never mix with operation rows, and they sort by expiry: purge asks
  each partition for the markers up to ``now`` and touches nothing else.
* An operation submitted by a signed-in principal (``runas``) also
  has an *owner's copy* in its partition, written in the same entity group
  transaction as the row every time: RowKey = ``o<owner key>-<id>``, the
  owner key being 16 hex digits of the principal id's SHA-256. ``o`` sorts
  between the ids and ``~``, and the copies of one owner sit together, newest
  first: listing one caller's operations reads a key range holding only that
  caller's rows, never a scan of everyone else's. Its marker ends in
  ``-<owner key>`` so that purge deletes the copy too.
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
SHARDS = tuple("0123456789abcdef")
MARKER_PREFIX = "~"  # sorts after 0-9a-f: marker rows come after every operation row
OWNER_PREFIX = "o"  # sorts after 0-9a-f and before "~": owners' copies sit between the rows and the markers
_ID_CHARS = 36


def _ms(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp loses a millisecond now and then.
    return min(max((moment - _EPOCH) // timedelta(milliseconds=1), 0), _MAX_MS)


def new_operation_id(created_at: datetime) -> str:
    """A new id for an operation created at ``created_at``."""
    rand = secrets.randbits(74)
    value = ((_MAX_MS - _ms(created_at)) << 80) | (0x8 << 76) | ((rand >> 62) << 64) | (0b10 << 62) \
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


def shard_of(operation_id: str) -> str:
    """The partition a row lives in: the id's last hex digit."""
    return operation_id[-1]


def owner_key(runas: str) -> str:
    """16 hex digits naming an owner in row keys (a principal id may hold characters a RowKey cannot)."""
    return hashlib.sha256(runas.encode()).hexdigest()[:16]


def owner_copy(runas: str, operation_id: str) -> str:
    """The RowKey of the owner's copy of an operation submitted as ``runas`` (non-empty)."""
    return f"{OWNER_PREFIX}{owner_key(runas)}-{operation_id}"


def owner_range(runas: str) -> tuple[str, str]:
    """RowKeys strictly between these two are the owner's copies (``.`` sorts right after ``-``)."""
    prefix = f"{OWNER_PREFIX}{owner_key(runas)}"
    return f"{prefix}-", f"{prefix}."


def row_operation_id(row_key: str) -> str:
    """The operation id of a row or of an owner's copy."""
    return row_key[-_ID_CHARS:]


def expiry_marker(operation_id: str, expires_at: datetime, runas: str = "") -> str:
    """The RowKey of the marker that says this finished operation expires at ``expires_at``."""
    owner = f"-{owner_key(runas)}" if runas else ""
    return f"{MARKER_PREFIX}{_ms(expires_at):012x}-{operation_id}{owner}"


def marker_operation_id(marker: str) -> str:
    """The operation id an expiry marker names."""
    start = len(MARKER_PREFIX) + 13
    return marker[start:start + _ID_CHARS]


def marker_copy(marker: str) -> str | None:
    """The RowKey of the owner's copy an expiry marker's operation has, if it has one."""
    owner = marker[len(MARKER_PREFIX) + 13 + _ID_CHARS + 1:]
    return f"{OWNER_PREFIX}{owner}-{marker_operation_id(marker)}" if owner else None


def expired_bound(now: datetime) -> str:
    """Every marker whose RowKey is below this has expired by ``now``."""
    return f"{MARKER_PREFIX}{_ms(now) + 1:012x}"


def parse_operation_id(text: str) -> str:
    """The canonical (lower-case) form of a GUID, or InvalidRequest saying what is wrong."""
    match = _GUID.match(text.strip()) if text else None
    if not match:
        raise InvalidRequest(f"'{text[:64]}' is not a background operation id: expected a GUID such as "
                             "3f2504e0-4f89-41d3-9a0c-0305e82c3301.")
    return (match.group(1) or match.group(2)).lower()
