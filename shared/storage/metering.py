"""Counting storage transactions with an azure-core per-call policy."""

from __future__ import annotations

import threading
from collections import Counter

from azure.core.pipeline.policies import SansIOHTTPPolicy


class TransactionCounter:
    """Counts the storage requests clients send, by ``service METHOD``.

    ``counter.policy("table")`` goes into a client's ``per_call_policies``;
    Azure Storage bills each such request as one transaction (a batch once).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def policy(self, service: str) -> SansIOHTTPPolicy:
        """A policy that counts the requests of one client under ``service``."""
        return _CountingPolicy(self, service)

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


class _CountingPolicy(SansIOHTTPPolicy):
    def __init__(self, counter: TransactionCounter, service: str) -> None:
        super().__init__()
        self._counter = counter
        self._service = service

    def on_request(self, request) -> None:
        self._counter.add(f"{self._service} {request.http_request.method}")
