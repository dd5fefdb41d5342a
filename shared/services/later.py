"""Writes that must happen although storage just failed: kept on this instance's disk, retried until done.

Storage can fail between two writes that belong together, and what is left must be finished once it
answers (``services.deferred`` says which writes these are). Each is a small JSON file in a folder of
its own (never a URL or a key), so that a host that dies and starts again finds them (``resume``). A
scheduler thread hands each one, when it is due, to a small pool of threads: several are tried at once,
each again after a pause that grows (``compute_backoff``) while storage fails, and none is given up
before it was tried and ``max_age`` has passed. Nothing starts before the first write is deferred or
``resume`` is called.

The folder is the instance's own: an instance that is taken away for good (scale-in) takes its
deferred writes with it; ``services.deferred`` says what that leaves and how each kind copes.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..domain.backoff import compute_backoff
from ..domain.errors import StorageUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deferred:
    """One write still to make: its kind, whose it is, when it was asked for, and what the kind needs."""

    kind: str
    operation_id: str
    added: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "id": self.operation_id, "added": self.added.isoformat(),
                           "details": self.details})

    @staticmethod
    def from_json(text: str) -> Deferred:
        data = json.loads(text)
        return Deferred(str(data["kind"]), str(data["id"]), datetime.fromisoformat(data["added"]),
                        dict(data.get("details") or {}))


@dataclass
class _Pending:
    item: Deferred
    path: Path
    tries: int = 0


class Later:
    """The deferred writes of one app (table), kept in ``folder`` and carried out by ``carry_out``.

    ``carry_out`` raises StorageUnavailable while storage fails (tried again later); any other error
    means the write can never be made (logged, and given up).
    """

    def __init__(self, folder: Path, carry_out: Callable[[Deferred], None], *, threads: int = 8,
                 base_seconds: float = 1.0, max_pause_seconds: float = 60.0,
                 max_age: timedelta = timedelta(days=1), clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        self.folder, self._carry_out, self._threads = folder, carry_out, threads
        self._base, self._max_pause, self._max_age, self._clock = base_seconds, max_pause_seconds, max_age, clock
        self._due: list[tuple[float, int, _Pending]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._running = 0
        self._pool: ThreadPoolExecutor | None = None

    def add(self, kind: str, operation_id: str, **details: Any) -> None:
        """Keep a write to make once storage answers, and start trying it."""
        item = Deferred(kind, operation_id, self._clock(), details)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{uuid.uuid4().hex}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(item.to_json())
        os.replace(temporary, path)  # whole or not at all, should the host die meanwhile
        log.warning("Storage failed; %s %s is kept to be done once it answers.", kind, operation_id)
        self._schedule(_Pending(item, path), self._base)

    def resume(self) -> int:
        """Take up the writes a host before this one left in the folder; returns how many."""
        found = 0
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                item = Deferred.from_json(path.read_text())
            except (OSError, ValueError, KeyError, TypeError):
                log.error("Dropped %s: it is not a deferred write.", path.name)
                path.unlink(missing_ok=True)
                continue
            self._schedule(_Pending(item, path), 0.0)
            found += 1
        if found:
            log.info("Took up %d deferred writes left by an earlier host.", found)
        return found

    def pending(self) -> int:
        """How many writes are kept and not yet done."""
        with self._cond:
            return len(self._due) + self._running

    def _schedule(self, pending: _Pending, delay: float) -> None:
        with self._cond:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="bgops-later")
                threading.Thread(target=self._hand_out, name="bgops-later-due", daemon=True).start()
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), pending))
            self._cond.notify()

    def _hand_out(self) -> None:
        """Give each write, once it is due, to the pool."""
        while True:
            with self._cond:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._cond.wait(None if not self._due else self._due[0][0] - time.monotonic())
                _, _, pending = heapq.heappop(self._due)
                assert self._pool is not None
                try:
                    self._pool.submit(self._try, pending)
                except RuntimeError:  # the interpreter is exiting: the write stays in its file for the next host
                    return
                self._running += 1

    def _try(self, pending: _Pending) -> None:
        item, again = pending.item, None
        try:
            self._carry_out(item)
            log.info("Storage answered: %s %s done.", item.kind, item.operation_id)
        except StorageUnavailable:
            pending.tries += 1
            if self._clock() - item.added < self._max_age:
                again = compute_backoff(pending.tries, base_seconds=self._base, max_seconds=self._max_pause)
            else:
                log.error("Gave up %s %s after %d tries over %s.", item.kind, item.operation_id, pending.tries,
                          self._max_age)
        except Exception:
            log.exception("Gave up %s %s: it cannot be done.", item.kind, item.operation_id)
        if again is None:
            pending.path.unlink(missing_ok=True)
        else:
            self._schedule(pending, again)
        with self._cond:
            self._running -= 1
