"""An Application Insights ingestion endpoint for the tests: what the Azure Monitor exporter POSTs to
``<IngestionEndpoint>/v2.1/track`` (a JSON array of envelopes, maybe gzipped), kept for the test to read back.
A connection string naming it (``connection_string``) sends the Azure Monitor distro here instead of Azure."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from otlp_receiver import request_body


class IngestionReceiver:
    def __init__(self) -> None:
        self._envelopes: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                envelopes = json.loads(request_body(self)) if self.path.endswith("/track") else []
                with receiver._lock:
                    receiver._envelopes += envelopes
                answer = json.dumps({"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes),
                                     "errors": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self.connection_string = (f"InstrumentationKey=00000000-0000-0000-0000-000000000001;"
                                  f"IngestionEndpoint={endpoint};LiveEndpoint={endpoint}")

    def envelopes(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._envelopes)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
