"""``KeptEvents`` on Azure Table Storage: partition ``kept`` of the operations table, a row per event
(RowKey: its key, oldest first), with a ``w<subscription id>`` column set to true for each subscriber it is
kept for, so that one filtered query finds a subscriber's events and one merge lets one go, however many
others read or write the row meanwhile. A row holds at most 252 columns: BGOPS_MAX_SUBSCRIPTIONS is capped
below that (``settings``)."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Sequence
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from .ports import KeptEvent
from .table_store import BATCH_SIZE, translated

PARTITION = "kept"


def _column(subscriber_id: str) -> str:
    return f"w{uuid.UUID(subscriber_id).hex}"


class TableKeptEvents:
    """Events kept for paused subscribers, in the operations table."""

    def __init__(self, service: TableServiceClient, table_name: str) -> None:
        self._table: TableClient = service.get_table_client(table_name)

    def keep(self, event: KeptEvent, subscriber_ids: Sequence[str]) -> None:
        """One merge: the row is made, or gains these subscribers' columns."""
        entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": event.key, "since": event.since,
                                  "payload": json.dumps(event.payload, separators=(",", ":"))}
        entity.update({_column(s): True for s in subscriber_ids})
        with translated("keep an event"):
            self._table.upsert_entity(entity, mode=UpdateMode.MERGE)

    def waiting(self, subscriber_id: str, count: int, after: str = "") -> list[KeptEvent]:
        """One filtered query of the partition from ``after`` (the server skips the rows kept for others)."""
        with translated("read kept events"):
            rows = self._table.query_entities(
                f"PartitionKey eq @p and RowKey gt @a and {_column(subscriber_id)} eq true",
                parameters={"p": PARTITION, "a": after}, select=["RowKey", "since", "payload"], results_per_page=count)
            return [KeptEvent(row["RowKey"], json.loads(row["payload"]), row["since"])
                    for row in itertools.islice(rows, count)]

    def sent(self, event: KeptEvent, subscriber_id: str) -> None:
        """One merge of the subscriber's column (the row stays until ``drop_before``); nothing when it is gone."""
        with translated("let a kept event go"):
            try:
                self._table.update_entity({"PartitionKey": PARTITION, "RowKey": event.key,
                                           _column(subscriber_id): False}, mode=UpdateMode.MERGE)
            except ResourceNotFoundError:
                pass  # dropped meanwhile

    def drop_before(self, key: str) -> int:
        """A query of the keys before ``key``, and deletes of them a hundred to a transaction."""
        with translated("drop kept events"):
            keys = [row["RowKey"] for row in self._table.query_entities(
                "PartitionKey eq @p and RowKey lt @k", parameters={"p": PARTITION, "k": key}, select=["RowKey"])]
            for start in range(0, len(keys), BATCH_SIZE):
                self._table.submit_transaction([("delete", {"PartitionKey": PARTITION, "RowKey": k})
                                                for k in keys[start:start + BATCH_SIZE]])
        return len(keys)
