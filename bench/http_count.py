"""Counting storage transactions from outside: the HTTP requests that pass a proxy in front of storage.

Azure Storage bills each request as one transaction. ``RequestCounter.reader(service)`` gives each proxied
connection (``faults.proxy.StorageProxy``'s ``seen``) a reader of what its client sends: it finds where each
request starts by reading the request line and headers, then skipping the body (``Content-Length``, or the
chunks of ``Transfer-Encoding: chunked``), so a request counts once however the bytes arrive. Whatever process
sends it, the app, the Functions host, Celery or the raw-SDK floor, is counted the same way.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

_END_OF_HEADERS = b"\r\n\r\n"


class RequestCounter:
    """Requests seen, by ``"<service> <METHOD>"`` (``queue GET``, ``table POST``, ``blob PUT``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def reader(self, service: str) -> Callable[[bytes], None]:
        """A reader for one connection to ``service`` (Blob, Queue or Table)."""
        return _Connection(self, service.lower()).feed

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def taken(self) -> Counter[str]:
        """The counts so far, and start again from zero."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts


class _Connection:
    """One connection's requests, one after another (HTTP/1.1 keep-alive)."""

    def __init__(self, counter: RequestCounter, service: str) -> None:
        self._counter, self._service = counter, service
        self._buffer = b""
        self._body_left = 0  # bytes of the current request's body still to come
        self._chunked = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Consume what the buffer holds of the current request; True if more may follow at once."""
        if self._body_left:
            taken = min(self._body_left, len(self._buffer))
            self._buffer, self._body_left = self._buffer[taken:], self._body_left - taken
            return bool(self._buffer) and not self._body_left
        if self._chunked:
            return self._chunk()
        end = self._buffer.find(_END_OF_HEADERS)
        if end < 0:
            return False
        head, self._buffer = self._buffer[:end].decode("latin-1"), self._buffer[end + len(_END_OF_HEADERS):]
        lines = head.split("\r\n")
        self._counter.add(f"{self._service} {lines[0].split(' ', 1)[0]}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        self._body_left = 0 if self._chunked else int(headers.get("content-length") or 0)
        return True

    def _chunk(self) -> bool:
        """One chunk of a chunked body: its size line, its bytes and their CRLF; the last (0) ends the body."""
        line_end = self._buffer.find(b"\r\n")
        if line_end < 0:
            return False
        size = int(self._buffer[:line_end].split(b";", 1)[0], 16)
        if size == 0:  # the last chunk, then the trailers' blank line
            end = self._buffer.find(_END_OF_HEADERS, line_end)
            if end < 0:
                return False
            self._buffer, self._chunked = self._buffer[end + len(_END_OF_HEADERS):], False
            return True
        needed = line_end + 2 + size + 2
        if len(self._buffer) < needed:
            return False
        self._buffer = self._buffer[needed:]
        return True
