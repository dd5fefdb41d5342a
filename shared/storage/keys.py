"""Where rows live in Table Storage: the keys of the operations table's rows, from the operations' ids.

Table Storage has no TTL and no secondary index, so the layout does the work:

* An operation's row lives at PartitionKey = shard, RowKey = id, the shard being the id's last hex digit
  (one of 16): a status read is one point read, writes spread over 16 partitions, and listing a partition by
  RowKey is listing it newest first (``domain.ids``: ids sort newest first).
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
* A finished operation also has a *finish marker* in its partition, written in the same entity group
  transaction as its expiry marker: RowKey = ``p<end ms, 12 hex digits>-<id>``, with its name, status and
  ``runas``. ``p`` sorts between the owners' copies and the expiry markers, and the markers sort by when
  they finished: throughput (``domain.throughput``) asks each partition for a range of them. The expiry
  marker names it (``finish``), so that purge deletes it too.
* An operation submitted with an Idempotency-Key has a *key row* in its partition, inserted in the same entity
  group transaction as the row: RowKey = ``x<hash of the caller and the key>``, naming the operation and
  whether it was accepted (``domain.idempotency``). The operation's id ends in the hash's last digit, so the
  two share a partition. ``x`` sorts after the finish markers and before the expiry markers; the expiry
  marker names it (``key``), so that purge deletes it with the row.
* A line's tickets (``domain.lines``) are the rows of partition ``l<hash of the line's key>``, their RowKeys
  the tickets: ``l`` sorts after the 16 shard digits, so lines never mix with operations.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from ..domain.ids import epoch_ms, owner_key

SHARDS = tuple("0123456789abcdef")
MARKER_PREFIX = "~"  # sorts after 0-9a-f: marker rows come after every operation row
OWNER_PREFIX = "o"  # sorts after 0-9a-f and before "~": owners' copies sit between the rows and the markers
FINISH_PREFIX = "p"  # sorts after the owners' copies and before the expiry markers
KEY_PREFIX = "x"  # sorts after the finish markers and before the expiry markers
LINE_PREFIX = "l"  # a line's partition: sorts after the 16 shard digits, never mixing with them
_ID_CHARS = 36


def shard_of(operation_id: str) -> str:
    """The partition a row lives in: the id's last hex digit."""
    return operation_id[-1]


def owner_copy(runas: str, operation_id: str) -> str:
    """The RowKey of the owner's copy of an operation submitted as ``runas`` (non-empty)."""
    return f"{OWNER_PREFIX}{owner_key(runas)}-{operation_id}"


def key_row(hashed: str) -> tuple[str, str]:
    """The PartitionKey and RowKey of the row of an idempotency key whose hash is ``hashed``."""
    return hashed[-1], f"{KEY_PREFIX}{hashed}"


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
    return f"{MARKER_PREFIX}{epoch_ms(expires_at):012x}-{operation_id}{owner}"


def finish_marker(operation_id: str, endtime: datetime) -> str:
    """The RowKey of the marker that says this operation finished at ``endtime``."""
    return f"{FINISH_PREFIX}{epoch_ms(endtime):012x}-{operation_id}"


def finish_bound(moment: datetime) -> str:
    """Finish markers at or above this RowKey (and below FINISH_PREFIX's successor) finished at or after
    ``moment``."""
    return f"{FINISH_PREFIX}{epoch_ms(moment):012x}"


FINISH_END = chr(ord(FINISH_PREFIX) + 1)  # every finish marker sorts below it


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
    return f"{MARKER_PREFIX}{epoch_ms(now) + 1:012x}"


def partition_of(key: str) -> str:
    """The partition a line's tickets live in."""
    return LINE_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]
