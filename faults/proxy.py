"""A TCP proxy between the app and Azurite that can make storage go away and come back.

Stopping Azurite itself would risk what it has not saved yet (and a restart takes new ports); the
proxy gives the app what an outage looks like from its side instead: while it is down, every open
connection is reset and every new one is closed at once.
"""

from __future__ import annotations

import re
import socket
import threading


def ports_of(connection_string: str) -> dict[str, int]:
    """The Blob, Queue and Table ports of a connection string to 127.0.0.1 (Azurite's)."""
    return {name: int(port) for name, port in
            re.findall(r"(Blob|Queue|Table)Endpoint=http://127\.0\.0\.1:(\d+)/", connection_string)}


class StorageProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target> for each target port; ``down()``/``up()``."""

    def __init__(self, targets: dict[str, int]) -> None:
        self._targets = targets
        self._listeners: dict[str, socket.socket] = {}
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down = threading.Event()
        self._stopped = threading.Event()
        self.ports: dict[str, int] = {}
        for name, target in targets.items():
            listener = socket.create_server(("127.0.0.1", 0))
            self._listeners[name], self.ports[name] = listener, listener.getsockname()[1]
            threading.Thread(target=self._accept, args=(listener, target), daemon=True,
                             name=f"proxy-{name}").start()

    def connection_string(self, account: str, key: str) -> str:
        """The storage connection string that goes through the proxy."""
        return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
                f"BlobEndpoint=http://127.0.0.1:{self.ports['Blob']}/{account};"
                f"QueueEndpoint=http://127.0.0.1:{self.ports['Queue']}/{account};"
                f"TableEndpoint=http://127.0.0.1:{self.ports['Table']}/{account}")

    def down(self) -> None:
        """Storage is gone: reset what is open, refuse what comes."""
        self._down.set()
        with self._lock:
            for conn in list(self._open):
                _reset(conn)
            self._open.clear()

    def up(self) -> None:
        """Storage is back."""
        self._down.clear()

    def stop(self) -> None:
        """Close everything for good."""
        self._stopped.set()
        self.down()
        for listener in self._listeners.values():
            listener.close()

    def _accept(self, listener: socket.socket, target: int) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._down.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", target), timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with self._lock:
                    self._open.discard(conn)
                _reset(conn)


def _reset(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()
