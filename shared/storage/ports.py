"""The two small interfaces the services need from storage.

Implementations: ``table_store.TableOperationStore`` and
``work_queue.StorageWorkQueue`` (Azure Table and Queue Storage, or Azurite).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..domain.errors import BackgroundOperationError
from ..domain.operation import Operation
from ..domain.subscriptions import Subscription
from ..domain.throughput import Finish


@dataclass(frozen=True)
class Comparison:
    """``column operator value`` over a logical column (SPEC §3.3): what a list filter is made of."""

    column: str
    operator: str  # eq, ne, ge, le, gt or lt
    value: Any


@dataclass(frozen=True)
class ListQuery:
    """A page request: comparisons that must all hold, how many rows, and where the last page ended."""

    where: tuple[Comparison, ...] = ()
    top: int = 50
    after: str | None = None  # the last id of the previous page
    owner: str | None = None  # only the operations submitted as this principal (None: everyone's)


@dataclass(frozen=True)
class Page:
    """Rows newest first, and the id to continue after when there are more."""

    operations: list[Operation]
    next_after: str | None


@dataclass(frozen=True)
class ExpiredRow:
    """A finished operation whose time to live has passed, and the key of its expiry marker."""

    operation_id: str
    marker: str
    payloads: bool = False  # some of its parameters are kept in blobs
    finish: str = ""  # the key of its finish marker, if it has one
    key: str = ""  # the key of its idempotency key's row, if it has one


@dataclass(frozen=True)
class KeyClaim:
    """What the row of an idempotency key says (``domain.idempotency``): the operation it was first sent for,
    whether that one was accepted, and the row's ETag (to take the operation over on)."""

    operation_id: str
    accepted: bool
    etag: str


class OperationStore(Protocol):
    """Rows of the background operations table. Every update is ETag-conditional."""

    def create(self, op: Operation) -> Operation:
        """Insert a new row (and the row of its idempotency key, if it has one: ConcurrencyConflict when the key
        is taken); returns it with its ETag."""

    def create_many(self, ops: Sequence[Operation]) -> list[Operation | BackgroundOperationError]:
        """Insert new rows, those of a partition together; returns each with its ETag, or the error that
        kept it out (StorageUnavailable: it may have been written all the same)."""

    def get(self, operation_id: str) -> Operation:
        """One point read; raises OperationNotFound."""

    def replace(self, op: Operation) -> Operation:
        """Write the whole row if it still has ``op.etag``; raises ConcurrencyConflict or OperationNotFound.

        Writing a finished row also records when it expires, for ``list_expired``.
        """

    def delete(self, op: Operation) -> None:
        """Delete the row (and its owner's copy and key row); succeeds when it is already gone. A row whose key
        says it was accepted stays."""

    def find_key(self, hashed: str) -> KeyClaim | None:
        """The row of the idempotency key whose hash is ``hashed``, if there is one."""

    def accept_key(self, hashed: str, etag: str | None = None) -> None:
        """Record that the key's operation was accepted; with ``etag``, only if the key's row still has it
        (ConcurrencyConflict otherwise, or when it is gone)."""

    def list(self, query: ListQuery) -> Page:
        """Rows matching the query, newest first; with ``query.owner``, reading only that owner's rows."""

    def finished(self, since: datetime, *, owner: str | None = None, name: str | None = None) -> Iterator[Finish]:
        """The operations that finished at or after ``since``, from their finish markers, in no set order:
        only those submitted as ``owner`` when it is given, and of the operation ``name`` when it is."""

    def list_expired(self, now: datetime) -> Iterator[ExpiredRow]:
        """Finished rows whose time to live has passed, found without scanning live rows."""

    def delete_expired(self, rows: Iterable[ExpiredRow]) -> int:
        """Delete these rows (and their markers) in batches; returns how many are gone."""

    def ping(self) -> None:
        """Raise StorageUnavailable unless the table answers."""


@dataclass(frozen=True)
class Sent:
    """A message as it was added: its id and pop receipt, with which it can be changed until it is received."""

    id: str
    pop_receipt: str


class WorkQueue(Protocol):
    """The queue the worker function is triggered by; messages as ``work_messages`` writes them."""

    def enqueue(self, operation_id: str, *, delay_seconds: float = 0, row: Operation | None = None,
                attempts: int = 0, wake: bool = False, once: bool = False) -> str:
        """Add a message that becomes visible after ``delay_seconds``; returns its message id. It carries
        ``row`` when it may, or how many ``attempts`` were made before it (a retry sent as a new message),
        or says it is a ``wake`` (its turn came in its line: ``services.lines``). Raises StorageUnavailable,
        or PerhapsWritten when the message may have been added all the same; ``once``: in a single request
        (no retry that could add it twice)."""

    def enqueue_event(self, body: str, *, delay_seconds: float = 0) -> Sent:
        """Add a message to the events queue (one attempt at an event or a callback), visible after
        ``delay_seconds``; what it takes to change it before anyone receives it."""

    def reschedule_event(self, sent: Sent, delay_seconds: float) -> Sent:
        """Make an events-queue message nobody has received yet visible after ``delay_seconds`` from now
        instead; StorageUnavailable when someone has (its pop receipt changed) or it is gone."""

    def delete_event(self, sent: Sent) -> None:
        """Delete an events-queue message nobody has received yet; StorageUnavailable when someone has."""

    def set_visibility(self, message_id: str, pop_receipt: str, delay_seconds: float) -> None:
        """Hide a received message for ``delay_seconds`` more (used for retry backoff)."""

    def oldest_waiting_seconds(self) -> float | None:
        """How long the first work message a worker could take now has been on the queue (one peek); None when
        none is waiting. Raises StorageUnavailable."""

    def ping(self) -> None:
        """Raise StorageUnavailable unless the queue answers."""


class Lines(Protocol):
    """The tickets of the lines operations wait in to run one at a time (``domain.lines``)."""

    def join(self, key: str, tickets: Sequence[str]) -> None:
        """Put the tickets in line ``key`` (again, if they were)."""

    def first(self, key: str, count: int) -> list[str]:
        """The first ``count`` tickets of line ``key``, in the order they were taken."""

    def leave(self, key: str, ticket: str) -> None:
        """Take the ticket out of the line; succeeds when it is out already."""


@dataclass(frozen=True)
class KeptEvent:
    """An event kept for subscribers that were paused when it came: ``key`` orders it (``kept_key``)."""

    key: str
    payload: dict[str, Any]
    since: datetime


class KeptEvents(Protocol):
    """Events kept for paused subscribers until each is sent again (``services.events``): nothing looks at
    them while the pause lasts."""

    def keep(self, event: KeptEvent, subscriber_ids: Sequence[str]) -> None:
        """Keep ``event`` for these subscribers (as well as any it is kept for already)."""

    def waiting(self, subscriber_id: str, count: int, after: str = "") -> list[KeptEvent]:
        """The first ``count`` events kept for a subscriber whose keys sort after ``after``, in key order."""

    def sent(self, event: KeptEvent, subscriber_id: str) -> None:
        """The event is no longer kept for the subscriber (it was sent again)."""

    def drop_before(self, key: str) -> int:
        """Forget every event whose key sorts before ``key``, whoever it was kept for; how many."""


class SubscriptionStore(Protocol):
    """Subscriptions to the app's events."""

    def create(self, sub: Subscription) -> Subscription:
        """Insert a new subscription."""

    def get(self, subscription_id: str) -> Subscription:
        """One subscription; raises SubscriptionNotFound."""

    def replace(self, sub: Subscription) -> Subscription:
        """Write the subscription if it still has ``sub.etag``; ConcurrencyConflict or SubscriptionNotFound."""

    def list(self) -> list[Subscription]:
        """Every subscription."""

    def delete(self, subscription_id: str) -> None:
        """Delete a subscription; raises SubscriptionNotFound when there is none."""
