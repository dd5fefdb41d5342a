"""Operation ids: GUIDs that carry the row's place in Table Storage.

Table Storage has no TTL and no secondary index, so an id is laid out to make
both lookups cheap with nothing but the id in hand:

* hex digits 1-12 hold the row's expiry time (createdon + ttlinseconds) in
  milliseconds, *inverted* (``2**48 - 1 - ms``), so that ids sort newest
  expiry first and everything expired sorts at or after one key;
* the 13th digit is the version nibble ``8`` (RFC 9562 custom layout) and the
  variant bits are set, so it is a well-formed GUID;
* the rest is random; the last digit names one of 16 partitions (shards).

The row lives at PartitionKey = shard, RowKey = id: a status read is a point
read, writes spread over 16 partitions, and purge asks each partition for one
key range (``RowKey >= expired_bound(now)``) instead of scanning live rows.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timezone

from .errors import InvalidRequest

_MAX_MS = (1 << 48) - 1
_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
SHARDS = tuple("0123456789abcdef")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _prefix(inverted_ms: int) -> str:
    digits = f"{inverted_ms:012x}"
    return f"{digits[:8]}-{digits[8:]}"


def new_operation_id(expires_at: datetime) -> str:
    """A new id for a row that expires at ``expires_at``."""
    inverted = _MAX_MS - min(max(_ms(expires_at), 0), _MAX_MS)
    rand = secrets.randbits(80)
    value = (inverted << 80) | (0x8 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def expires_at(operation_id: str) -> datetime:
    """The expiry time an id carries (meaningless for ids made elsewhere)."""
    inverted = int(operation_id.replace("-", "")[:12], 16)
    return datetime.fromtimestamp((_MAX_MS - inverted) / 1000, tz=timezone.utc)


def shard_of(operation_id: str) -> str:
    """The partition a row lives in: the id's last hex digit."""
    return operation_id[-1]


def expired_bound(now: datetime) -> str:
    """The smallest RowKey of a row that has expired by ``now``."""
    return _prefix(_MAX_MS - min(_ms(now), _MAX_MS))


def parse_operation_id(text: str) -> str:
    """The canonical (lower-case) form of a GUID, or InvalidRequest saying what is wrong."""
    match = _GUID.match(text.strip()) if text else None
    if not match:
        raise InvalidRequest(f"'{text[:64]}' is not a background operation id: expected a GUID such as "
                             "3f2504e0-4f89-41d3-9a0c-0305e82c3301.")
    return match.group(1).lower()
