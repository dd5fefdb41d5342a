"""Counting storage transactions with azure-core's request hook.

The storage SDKs build their own pipelines and ignore ``per_call_policies``;
both run azure-core's custom hook policy (``raw_request_hook``) for every
request they send, retries included, which is what Azure bills.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any


class TransactionCounter:
    """Counts the storage requests clients send, by ``service METHOD``.

    ``counter.hook("table")`` is a client's ``raw_request_hook``; Azure
    Storage bills each such request as one transaction (a batch once).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def hook(self, service: str) -> Callable[[Any], None]:
        """A ``raw_request_hook`` that counts one client's requests under ``service``."""
        return lambda request: self.add(f"{service} {request.http_request.method}")

    def add(self, key: str) -> None:
        """Count one request."""
        with self._lock:
            self.counts[key] += 1

    @property
    def total(self) -> int:
        """All requests counted so far."""
        with self._lock:
            return sum(self.counts.values())

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.counts.clear()
