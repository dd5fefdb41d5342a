"""Requests waiting for an operation to finish (``Prefer: wait``), and the writes that finish one, in one process.

A row written finished (``rows.write``, every write of a row) wakes whoever in this process waits for it: a
request held for an operation this instance runs learns of its end at once, without reading storage. One that
another instance runs is learned of by reading the row every BGOPS_WAIT_POLL_SECONDS (``api.waiting``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Finishes:
    """Who waits for which operation, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Callable[[], None]]] = {}

    def watch(self, operation_id: str, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` (from the thread that wrote the row) once the operation is written finished; returns
        what stops watching."""
        with self._lock:
            self._waiting.setdefault(operation_id, []).append(wake)

        def stop() -> None:
            with self._lock:
                wakes = self._waiting.get(operation_id, [])
                if wake in wakes:
                    wakes.remove(wake)
                if not wakes:
                    self._waiting.pop(operation_id, None)

        return stop

    def finished(self, operation_id: str) -> None:
        """The operation was written finished: wake whoever waits for it."""
        with self._lock:
            wakes = list(self._waiting.get(operation_id, ()))
        for wake in wakes:
            wake()

    def waiting(self) -> int:
        """How many requests wait, for the tests and the bench."""
        with self._lock:
            return sum(map(len, self._waiting.values()))
