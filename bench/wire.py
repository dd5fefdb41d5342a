"""Counting storage requests where they leave the process: at the azure-core HTTP transport.

An independent check on the app's own ``TransactionCounter`` (which counts
through per-call pipeline policies): every request either SDK actually sends,
retries included, is counted by who sent it (``acting_as``) and by
``service METHOD``, the service being told apart by the endpoint it goes to.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from azure.core.pipeline.transport import RequestsTransport


def endpoints_of(connection_string: str) -> dict[str, str]:
    """``host:port`` -> ``table``/``queue``/``blob`` from a connection string's ``*Endpoint`` parts."""
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    return {urlsplit(url).netloc: key[: -len("Endpoint")].lower()
            for key, url in parts.items() if key.endswith("Endpoint")}


class WireCounter:
    """Counts requests sent through every ``RequestsTransport`` while ``installed()``."""

    def __init__(self, connection_string: str) -> None:
        self._services = endpoints_of(connection_string)
        self._lock = threading.Lock()
        self._actor = "app"
        self.counts: Counter[tuple[str, str]] = Counter()

    @contextmanager
    def installed(self) -> Iterator[WireCounter]:
        """Patch the transport for the duration (this process only), then restore it."""
        original = RequestsTransport.send
        counter = self

        def send(transport, request, **kwargs):
            counter._add(request)
            return original(transport, request, **kwargs)

        RequestsTransport.send = send
        try:
            yield self
        finally:
            RequestsTransport.send = original

    @contextmanager
    def acting_as(self, actor: str) -> Iterator[None]:
        """Attribute the requests sent inside the block to ``actor`` (the default actor is ``app``)."""
        previous, self._actor = self._actor, actor
        try:
            yield
        finally:
            self._actor = previous

    def _add(self, request) -> None:
        service = self._services.get(urlsplit(request.url).netloc, "other")
        with self._lock:
            self.counts[(self._actor, f"{service} {request.method}")] += 1

    def of(self, actor: str) -> Counter[str]:
        """The counts of one actor, by ``service METHOD``."""
        with self._lock:
            return Counter({key: n for (who, key), n in self.counts.items() if who == actor})

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.counts.clear()
