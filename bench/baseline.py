"""The raw floor: one table insert plus one queue put, straight through the SDK, no app in between."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from azure.data.tables import TableClient, TableServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy


def operation_sized_row(now: datetime) -> dict:
    """An entity about the size and shape of a fresh operation row."""
    row_id = str(uuid.uuid4())
    return {
        "PartitionKey": row_id[-1], "RowKey": row_id, "name": "sample_Echo", "displayname": "Echo (sample)",
        "backgroundoperationstatecode": 0, "backgroundoperationstatuscode": 0,
        "inputparameters": '[{"Key": "Index", "Value": 1}, {"Key": "Text", "Value": "bench"}]',
        "createdon": now, "modifiedon": now, "ttlinseconds": 7_776_000, "retrycount": 0, "runas": "",
        "callbackstate": "", "baseurl": "http://127.0.0.1:7071", "progresspercent": 0,
    }


class RawWrites:
    """A fresh table and queue of their own, written the plainest way the SDKs allow."""

    def __init__(self, connection_string: str) -> None:
        name = f"base{uuid.uuid4().hex[:8]}"
        self.table: TableClient = TableServiceClient.from_connection_string(connection_string).create_table(name)
        self.queue = QueueClient.from_connection_string(connection_string, name,
                                                        message_encode_policy=TextBase64EncodePolicy())
        self.queue.create_queue()

    def write_once(self) -> None:
        """One insert of an operation-sized row, then one put of its id."""
        insert_and_put(self.table, self.queue)


def insert_and_put(table: TableClient, queue: QueueClient) -> str:
    """The floor's submit: an operation-sized row inserted, then its id put on the queue; the id."""
    row = operation_sized_row(datetime.now(UTC))
    table.create_entity(row)
    queue.send_message(row["RowKey"], time_to_live=-1)
    return str(row["RowKey"])
