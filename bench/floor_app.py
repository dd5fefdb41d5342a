"""The raw-SDK floor, in a process of its own: what any queue-driven web service must do per operation and nothing
more, with no framework in between. ``POST /`` inserts an operation-sized row and puts its id on a queue, then
answers 202 with the id (the standard library's threading HTTP server, keep-alive). A worker thread receives
messages in batches (host.json's ``batchSize``) and, for each one, merges its row as finished and deletes the
message, the batch's messages side by side as the Functions host runs them. It runs until it is stopped.

``python -m bench.floor_app CONNECTION_STRING TABLE_AND_QUEUE PORT``
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from azure.data.tables import TableClient, UpdateMode
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from .baseline import insert_and_put

BATCH = 16  # host.json extensions.queues.batchSize
VISIBILITY_SECONDS = 600
# An empty queue is polled again after a pause that doubles up to host.json's maxPollingInterval, as by the host.
FIRST_PAUSE_SECONDS, MAX_PAUSE_SECONDS = 0.1, 2.0
SUCCEEDED = 30


def finish(table: TableClient, row_id: str) -> None:
    """The floor's end of an operation: its row merged as Succeeded, with its end time."""
    table.update_entity({"PartitionKey": row_id[-1], "RowKey": row_id, "backgroundoperationstatuscode": SUCCEEDED,
                         "endtime": datetime.now(UTC)}, mode=UpdateMode.MERGE)


def serve(connection_string: str, name: str, port: int) -> None:
    table = TableClient.from_connection_string(connection_string, name)
    sender = QueueClient.from_connection_string(connection_string, name, message_encode_policy=TextBase64EncodePolicy())

    class Submit(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = insert_and_put(table, sender).encode()
            self.send_response(202)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Submit).serve_forever()


def work(connection_string: str, name: str) -> None:
    table = TableClient.from_connection_string(connection_string, name)
    queue = QueueClient.from_connection_string(connection_string, name, message_decode_policy=TextBase64DecodePolicy())

    def run(message) -> None:
        finish(table, message.content)
        queue.delete_message(message.id, message.pop_receipt)

    pause = FIRST_PAUSE_SECONDS
    with ThreadPoolExecutor(BATCH, thread_name_prefix="floor") as pool:
        while True:
            batch = list(next(queue.receive_messages(messages_per_page=BATCH, max_messages=BATCH,
                                                     visibility_timeout=VISIBILITY_SECONDS).by_page(), []))
            if not batch:
                time.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_SECONDS)
                continue
            pause = FIRST_PAUSE_SECONDS
            list(pool.map(run, batch))


if __name__ == "__main__":
    threading.Thread(target=work, args=(sys.argv[1], sys.argv[2]), daemon=True).start()
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
