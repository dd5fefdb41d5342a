"""A TCP proxy between the app and Azurite that can make storage go away and come back.

Stopping Azurite itself would risk what it has not saved yet (and a restart takes new ports); the
proxy gives the app what an outage looks like from its side instead. ``down()``: the connections
open at that moment are reset (a request on one may have reached storage, its answer never comes),
and new ones are refused, as by a host that is gone. ``lose_answers("Queue")`` (or all services):
requests still reach storage, but each connection is reset as soon as storage answers, so the client
never learns that its write was made. ``up()`` ends either. ``seen``, if given, is handed every byte a client
sends, by service, as it passes (``bench.http_count`` counts the requests in them).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable


def ports_of(connection_string: str) -> dict[str, int]:
    """The Blob, Queue and Table ports of a connection string to 127.0.0.1 (Azurite's)."""
    return {name: int(port) for name, port in
            re.findall(r"(Blob|Queue|Table)Endpoint=http://127\.0\.0\.1:(\d+)/", connection_string)}


class StorageProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target> for each target port; ``down()``/``up()``."""

    def __init__(self, targets: dict[str, int],
                 seen: Callable[[str], Callable[[bytes], None]] | None = None) -> None:
        self._targets, self._seen = targets, seen
        self._listeners: dict[str, socket.socket] = {}
        self._open: dict[socket.socket, str] = {}  # each open connection, and the service it reaches
        self._lock = threading.Lock()
        self._answers_lost: set[str] = set()  # the services whose answers go nowhere
        self._next_lost: set[str] = set()  # the services whose next connection's answer goes nowhere
        self.ports: dict[str, int] = {}
        for name in targets:
            self._listen(name, 0)

    def connection_string(self, account: str, key: str) -> str:
        """The storage connection string that goes through the proxy."""
        return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
                f"BlobEndpoint=http://127.0.0.1:{self.ports['Blob']}/{account};"
                f"QueueEndpoint=http://127.0.0.1:{self.ports['Queue']}/{account};"
                f"TableEndpoint=http://127.0.0.1:{self.ports['Table']}/{account}")

    def down(self, *names: str) -> None:
        """Storage is gone (these services of it: Blob, Queue, Table; all by default): reset what is open,
        refuse what comes."""
        names = names or tuple(self._targets)
        with self._lock:
            listeners = [self._listeners.pop(name) for name in names if name in self._listeners]
            conns = [conn for conn, name in self._open.items() if name in names]
            for conn in [*listeners, *conns]:
                _reset(conn)
                self._open.pop(conn, None)

    def lose_answers(self, *names: str) -> None:
        """Requests to these services (Blob, Queue, Table; all by default) still reach storage, but no answer
        reaches the client (until ``up()``)."""
        self._answers_lost.update(names or self._targets)

    def lose_next_answer(self, name: str) -> None:
        """The next connection to ``name`` gets its request to the server, but no answer: it is reset instead (a
        response lost on its way back); the connections after it are served as usual."""
        with self._lock:
            self._next_lost.add(name)

    def up(self) -> None:
        """Storage is back, on the same ports."""
        self._answers_lost.clear()
        for name, port in self.ports.items():
            if name not in self._listeners:
                self._listen(name, port)

    def stop(self) -> None:
        """Close everything for good."""
        self.down()

    def _listen(self, name: str, port: int) -> None:
        listener = socket.create_server(("127.0.0.1", port))  # SO_REUSEADDR: the same port again after down()
        with self._lock:
            self._listeners[name], self.ports[name] = listener, listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(listener, name), daemon=True, name=f"proxy-{name}").start()

    def _accept(self, listener: socket.socket, name: str) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down() or stop()
            try:
                upstream = socket.create_connection(("127.0.0.1", self._targets[name]), timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update({client: name, upstream: name})
                lost = name in self._next_lost
                self._next_lost.discard(name)
            sent = self._seen(name) if self._seen else None  # one reader per connection: requests split anywhere
            threading.Thread(target=self._pump, args=(client, upstream, "", sent), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, name, None, lost), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers_of: str,
              sent: Callable[[bytes], None] | None = None, lost: bool = False) -> None:
        try:
            while data := source.recv(65536):
                if lost or answers_of in self._answers_lost:
                    break  # the request was carried out; its answer goes nowhere
                if sent is not None:
                    sent(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with self._lock:
                    self._open.pop(conn, None)
                _reset(conn)


def _reset(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()
