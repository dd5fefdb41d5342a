"""``OperationStore``, ``SubscriptionStore``, ``WorkQueue`` and the lines in memory, for tests only (never
deployed): the second implementations the contract suites run against.

It keeps what the services rely on (ETag-conditional writes, newest-first pages, expiry markers,
message visibility and pop receipts) without Azure, so the service tests run on it with a
``FakeClock``; ``MemoryHost`` is the Functions host's side of the queue.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.backoff import visibility_seconds
from shared.domain.errors import (
    BackgroundOperationError,
    ConcurrencyConflict,
    OperationNotFound,
    StorageUnavailable,
    SubscriptionNotFound,
)
from shared.domain.operation import Operation
from shared.domain.subscriptions import Subscription
from shared.domain.throughput import Finish
from shared.storage.keys import expired_bound, expiry_marker
from shared.storage.ports import Comparison, ExpiredRow, KeptEvent, KeyClaim, ListQuery, Page, Sent
from shared.storage.table_store import from_entity, to_entity
from shared.storage.work_messages import encode

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "ge": operator.ge, "le": operator.le, "gt": operator.gt, "lt": operator.lt}


def _holds(op: Operation, comparison: Comparison) -> bool:
    """As Table Storage compares: a column the row does not have matches nothing."""
    values = {"backgroundoperationid": op.id, **to_entity(op)}
    if comparison.column not in values:
        return False
    return _OPERATORS[comparison.operator](values[comparison.column], comparison.value)


class MemoryOperationStore:
    """Background operation rows in a dict, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Operation] = {}
        self._markers: dict[str, str] = {}  # operation id -> its expiry marker, once finished
        self._finishes: dict[str, tuple[Finish, str]] = {}  # operation id -> its finish marker, and its runas
        self._keys: dict[str, KeyClaim] = {}  # idempotency key hash -> its row
        self._versions = itertools.count(1)

    def _store(self, op: Operation, versionnumber: int) -> Operation:
        # Through the Table entity and back, so that values come back as Table Storage gives them
        # (times in UTC, parameters as JSON).
        stored = from_entity(to_entity(op.with_changes(versionnumber=versionnumber))).with_changes(
            etag=f'W/"datetime{next(self._versions)}"')
        self._rows[op.id] = stored
        if op.is_terminal:
            self._markers[op.id] = expiry_marker(op.id, op.expires_at)
            self._finishes[op.id] = Finish(stored.endtime or stored.modifiedon, op.name, op.status), op.runas
        return dataclasses.replace(stored)

    def create(self, op: Operation) -> Operation:
        """Insert a new row; ConcurrencyConflict when the id exists."""
        with self._lock:
            if op.id in self._rows or op.idempotencykey in self._keys:
                raise ConcurrencyConflict(f"Operation {op.id} or its key already exists.")
            if op.idempotencykey:
                self._keys[op.idempotencykey] = KeyClaim(op.id, False, f"key{next(self._versions)}")
            return self._store(op, 1)

    def create_many(self, ops: Sequence[Operation]) -> list[Operation | BackgroundOperationError]:
        """Insert new rows; each is its row or its ConcurrencyConflict."""
        answers: list[Operation | BackgroundOperationError] = []
        for op in ops:
            try:
                answers.append(self.create(op))
            except ConcurrencyConflict as e:
                answers.append(e)
        return answers

    def get(self, operation_id: str) -> Operation:
        """The row; raises OperationNotFound."""
        with self._lock:
            try:
                return dataclasses.replace(self._rows[operation_id])
            except KeyError:
                raise OperationNotFound(operation_id) from None

    def replace(self, op: Operation) -> Operation:
        """Write the row if it still has ``op.etag``."""
        with self._lock:
            current = self._rows.get(op.id)
            if current is None:
                raise OperationNotFound(op.id)
            if current.etag != op.etag:
                raise ConcurrencyConflict(f"Operation {op.id} changed while it was being written.")
            return self._store(op, op.versionnumber + 1)

    def delete(self, op: Operation) -> None:
        """Delete the row; succeeds when it is already gone. A row whose key was accepted stays."""
        with self._lock:
            claim = self._keys.get(op.idempotencykey)
            if claim is not None and claim.operation_id == op.id and claim.accepted:
                return
        self._forget(op.id)

    def find_key(self, hashed: str) -> KeyClaim | None:
        """The key's row, if it has one."""
        with self._lock:
            return self._keys.get(hashed)

    def accept_key(self, hashed: str, etag: str | None = None) -> None:
        """Mark the key's operation accepted (if the key's row still has ``etag``)."""
        with self._lock:
            claim = self._keys.get(hashed)
            if claim is None or (etag is not None and claim.etag != etag):
                raise ConcurrencyConflict(f"The key {hashed} changed or is gone.")
            self._keys[hashed] = KeyClaim(claim.operation_id, True, f"key{next(self._versions)}")

    def _forget(self, operation_id: str) -> None:
        with self._lock:
            row = self._rows.get(operation_id)
            if row is not None and row.idempotencykey:
                self._keys.pop(row.idempotencykey, None)
            self._rows.pop(operation_id, None)
            self._markers.pop(operation_id, None)
            self._finishes.pop(operation_id, None)

    def list(self, query: ListQuery) -> Page:
        """Rows matching every comparison (and the owner, if the query names one), newest first."""
        with self._lock:
            rows = sorted((op for op in self._rows.values() if all(_holds(op, c) for c in query.where)
                           and query.owner in (None, op.runas)
                           and (query.after is None or op.id > query.after)), key=lambda op: op.id)
        page = rows[:query.top]
        return Page(page, page[-1].id if len(rows) > query.top else None)

    def finished(self, since: datetime, *, owner: str | None = None, name: str | None = None) -> Iterator[Finish]:
        """The finishes from ``since`` on (of ``owner``'s operations, of ``name``)."""
        with self._lock:
            return iter([finish for finish, runas in self._finishes.values() if finish.endtime >= since
                         and owner in (None, runas) and name in (None, finish.name)])

    def list_expired(self, now: datetime) -> Iterator[ExpiredRow]:
        """Finished rows past their TTL, by their markers."""
        bound = expired_bound(now)
        with self._lock:
            expired = sorted((marker, op_id) for op_id, marker in self._markers.items() if marker < bound)
        return iter([ExpiredRow(op_id, marker) for marker, op_id in expired])

    def delete_expired(self, rows: Iterable[ExpiredRow]) -> int:
        """Delete these rows; returns how many are gone (ones already deleted count too)."""
        deleted = 0
        for row in rows:
            self._forget(row.operation_id)
            deleted += 1
        return deleted

    def ping(self) -> None:
        """Always answers."""


class MemoryLines:
    """``Lines`` in a dict of sorted ticket sets."""

    def __init__(self) -> None:
        self._lines: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def join(self, key: str, tickets: Sequence[str]) -> None:
        with self._lock:
            self._lines.setdefault(key, set()).update(tickets)

    def first(self, key: str, count: int) -> list[str]:
        with self._lock:
            return sorted(self._lines.get(key, ()))[:count]

    def leave(self, key: str, ticket: str) -> None:
        with self._lock:
            self._lines.get(key, set()).discard(ticket)


class MemoryKeptEvents:
    """``KeptEvents`` in a dict: each event by its key, and who it is kept for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, tuple[KeptEvent, set[str]]] = {}

    def keep(self, event: KeptEvent, subscriber_ids: Sequence[str]) -> None:
        with self._lock:
            self._events.setdefault(event.key, (event, set()))[1].update(subscriber_ids)

    def waiting(self, subscriber_id: str, count: int, after: str = "") -> list[KeptEvent]:
        with self._lock:
            return [event for key, (event, who) in sorted(self._events.items())
                    if subscriber_id in who and key > after][:count]

    def sent(self, event: KeptEvent, subscriber_id: str) -> None:
        with self._lock:
            self._events.get(event.key, (event, set()))[1].discard(subscriber_id)

    def drop_before(self, key: str) -> int:
        with self._lock:
            old = [k for k in self._events if k < key]
            for k in old:
                del self._events[k]
            return len(old)


class MemorySubscriptionStore:
    """Event subscriptions in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}

    def create(self, sub: Subscription) -> Subscription:
        """Insert a new subscription."""
        with self._lock:
            if sub.id in self._subscriptions:
                raise ConcurrencyConflict(f"Subscription {sub.id} already exists.")
            self._subscriptions[sub.id] = dataclasses.replace(sub, etag=uuid.uuid4().hex)
            return self._subscriptions[sub.id]

    def get(self, subscription_id: str) -> Subscription:
        """One subscription; raises SubscriptionNotFound."""
        with self._lock:
            try:
                return self._subscriptions[subscription_id]
            except KeyError:
                raise SubscriptionNotFound(subscription_id) from None

    def list(self) -> list[Subscription]:
        """Every subscription."""
        with self._lock:
            return list(self._subscriptions.values())

    def replace(self, sub: Subscription) -> Subscription:
        """Write the subscription if it still has ``sub.etag``; ConcurrencyConflict or SubscriptionNotFound."""
        with self._lock:
            stored = self._subscriptions.get(sub.id)
            if stored is None:
                raise SubscriptionNotFound(sub.id)
            if stored.etag != sub.etag:
                raise ConcurrencyConflict(f"Subscription {sub.id} changed since it was read.")
            self._subscriptions[sub.id] = dataclasses.replace(sub, etag=uuid.uuid4().hex)
            return self._subscriptions[sub.id]

    def delete(self, subscription_id: str) -> None:
        """Delete a subscription; raises SubscriptionNotFound when there is none."""
        with self._lock:
            if self._subscriptions.pop(subscription_id, None) is None:
                raise SubscriptionNotFound(subscription_id)


START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeClock:
    """One fake time for the services (a datetime) and for the queue's visibility (seconds): it moves only
    when a test says so (``pass_``), or when a ``MemoryHost`` waits for a message to show."""

    def __init__(self, start: datetime = START) -> None:
        self.start = self.now = start

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return (self.now - self.start).total_seconds()

    def pass_(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class MemoryMessage:
    """A message as a host receives it: its id, current pop receipt and how often it was received."""

    id: str
    body: str
    pop_receipt: str = ""
    dequeue_count: int = 0
    visible_at: float = 0.0
    inserted_at: float = 0.0

    @property
    def content(self) -> str:
        """The body, by the name the queue SDK gives it."""
        return self.body


class MemoryWorkQueue:
    """``WorkQueue`` in memory, with the visibility rules of Queue Storage that the services rely on.

    ``receive`` and ``delete`` are what a host does with the messages; the services never call them.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.work: dict[str, MemoryMessage] = {}
        self.events: dict[str, MemoryMessage] = {}

    def enqueue(self, operation_id: str, *, delay_seconds: float = 0, row: Operation | None = None,
                attempts: int = 0, wake: bool = False, once: bool = False) -> str:
        """Add a message (carrying ``row`` when it may, or ``attempts``) visible after ``delay_seconds``."""
        return self._add(self.work, encode(operation_id, row, attempts, wake), delay_seconds)

    def enqueue_event(self, body: str, *, delay_seconds: float = 0) -> Sent:
        """Add a message for the ``notify`` function, visible after ``delay_seconds``."""
        message_id = self._add(self.events, body, delay_seconds)
        return Sent(message_id, self.events[message_id].pop_receipt)

    def reschedule_event(self, sent: Sent, delay_seconds: float) -> Sent:
        """Make an events-queue message nobody has received yet visible after ``delay_seconds`` instead."""
        with self._lock:
            message = self._unreceived(sent)
            message.pop_receipt = uuid.uuid4().hex
            message.visible_at = self._clock() + visibility_seconds(delay_seconds)
            return Sent(message.id, message.pop_receipt)

    def delete_event(self, sent: Sent) -> None:
        """Delete an events-queue message nobody has received yet."""
        with self._lock:
            del self.events[self._unreceived(sent).id]

    def _unreceived(self, sent: Sent) -> MemoryMessage:
        message = self.events.get(sent.id)
        if message is None or message.pop_receipt != sent.pop_receipt:
            raise StorageUnavailable("Queue storage failed to change an event: MessageNotFound")
        return message

    def set_visibility(self, message_id: str, pop_receipt: str, delay_seconds: float) -> None:
        """Hide a received message for ``delay_seconds`` more; a stale pop receipt is refused."""
        with self._lock:
            message = self.work.get(message_id)
            if message is None or message.pop_receipt != pop_receipt:
                raise StorageUnavailable("Queue storage failed to delay a message: MessageNotFound")
            message.pop_receipt = uuid.uuid4().hex
            message.visible_at = self._clock() + visibility_seconds(delay_seconds)

    def ping(self) -> None:
        """Always answers."""

    def receive(self, *, visibility_seconds: float = 30, events: bool = False) -> MemoryMessage | None:
        """The oldest visible message, hidden for ``visibility_seconds`` with a new pop receipt (a copy)."""
        with self._lock:
            now = self._clock()
            visible = [m for m in (self.events if events else self.work).values() if m.visible_at <= now]
            if not visible:
                return None
            message = visible[0]
            message.dequeue_count += 1
            message.pop_receipt = uuid.uuid4().hex
            message.visible_at = now + visibility_seconds
            return dataclasses.replace(message)

    def oldest_waiting_seconds(self) -> float | None:
        """The age of the first visible work message, or None."""
        with self._lock:
            now = self._clock()
            visible = [m for m in self.work.values() if m.visible_at <= now]
            return now - visible[0].inserted_at if visible else None

    def put(self, body: str) -> str:
        """Add a work message with any body, as another sender might."""
        return self._add(self.work, body, 0)

    def first_visible_at(self, *, events: bool = False) -> float | None:
        """When the next message shows (on the queue's clock); None when the queue is empty."""
        with self._lock:
            return min((m.visible_at for m in (self.events if events else self.work).values()), default=None)

    def delete(self, message_id: str, pop_receipt: str, *, events: bool = False) -> bool:
        """Delete a received message; False (and nothing deleted) when the pop receipt is stale."""
        with self._lock:
            queue = self.events if events else self.work
            if message_id not in queue or queue[message_id].pop_receipt != pop_receipt:
                return False
            del queue[message_id]
            return True

    def _add(self, queue: dict[str, MemoryMessage], body: str, delay_seconds: float) -> str:
        now = self._clock()
        message = MemoryMessage(id=uuid.uuid4().hex, body=body, visible_at=now + visibility_seconds(delay_seconds),
                                pop_receipt=uuid.uuid4().hex, inserted_at=now)
        with self._lock:
            queue[message.id] = message
        return message.id



class MemoryHost:
    """The Functions host's side of a ``MemoryWorkQueue`` on a ``FakeClock``: what ``helpers.HostQueue`` does
    on Azurite, with waiting for a hidden message done by moving the clock instead of sleeping."""

    def __init__(self, queue: MemoryWorkQueue, clock: FakeClock, *, events: bool = False) -> None:
        self.queue, self.clock, self.events = queue, clock, events

    def try_receive(self, *, visibility_timeout: float = 30) -> MemoryMessage | None:
        """The oldest visible message, or None."""
        return self.queue.receive(visibility_seconds=visibility_timeout, events=self.events)

    def receive(self, *, visibility_timeout: float = 30, timeout: float = 15) -> MemoryMessage:
        """The next message: when none is visible, the clock passes to when the first one shows, if that is
        within ``timeout`` seconds (AssertionError otherwise)."""
        if (message := self.try_receive(visibility_timeout=visibility_timeout)) is not None:
            return message
        shows = self.queue.first_visible_at(events=self.events)
        assert shows is not None, "the queue is empty"
        wait = shows - self.clock.seconds()
        assert wait <= timeout, f"the next message shows in {wait:.1f} s, more than {timeout} s from now"
        self.clock.pass_(wait)
        message = self.try_receive(visibility_timeout=visibility_timeout)
        assert message is not None
        return message

    def delete(self, message: MemoryMessage) -> None:
        """What the host does when the function returns: a stale pop receipt is ignored, as the host does."""
        self.queue.delete(message.id, message.pop_receipt, events=self.events)

    def count(self) -> int:
        """Messages on the queue, hidden ones included."""
        return len(self.queue.events if self.events else self.queue.work)


class DownQueue:
    """A ``WorkQueue`` in an outage: every call fails as the Azure adapter reports it (StorageUnavailable)."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise StorageUnavailable(f"Queue storage failed ({name}): the service did not answer")

        return fail
