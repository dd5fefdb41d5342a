"""``Lines`` on Azure Table Storage: a line's tickets are the rows of one partition of the operations
table, ``l<hash of the key>`` (see ``storage.keys``), their RowKeys the tickets, in the order taken."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import Executor

from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from ..domain.lines import ticket_operation
from .keys import partition_of
from .table_store import BATCH_SIZE, shard_pool, translated


class TableLines:
    """The tickets of every line, in the operations table."""

    def __init__(self, service: TableServiceClient, table_name: str, *, pool: Executor | None = None) -> None:
        self._table: TableClient = service.get_table_client(table_name)
        self._pool = pool or shard_pool()  # a line's batches go out at once

    def join(self, key: str, tickets: Sequence[str]) -> None:
        """Put the tickets in the line (again, if they were: an upsert), a hundred to a transaction, the
        transactions at once (each is all or nothing; together they need not be)."""
        partition = partition_of(key)
        entities = [{"PartitionKey": partition, "RowKey": t, "operationid": ticket_operation(t)} for t in tickets]
        batches = [entities[start:start + BATCH_SIZE] for start in range(0, len(entities), BATCH_SIZE)]
        with translated("join a line"):
            list(self._pool.map(self._upsert, batches))

    def _upsert(self, batch: list[dict[str, str]]) -> None:
        if len(batch) == 1:
            self._table.upsert_entity(batch[0], mode=UpdateMode.REPLACE)
        else:
            self._table.submit_transaction([("upsert", e, {"mode": UpdateMode.REPLACE}) for e in batch])

    def first(self, key: str, count: int) -> list[str]:
        """The line's first ``count`` tickets, in order: one query."""
        with translated("read a line"):
            rows = self._table.query_entities("PartitionKey eq @p", parameters={"p": partition_of(key)},
                                              select=["RowKey"], results_per_page=count)
            return [row["RowKey"] for row in itertools.islice(rows, count)]

    def leave(self, key: str, ticket: str) -> None:
        """Take the ticket out of the line; succeeds when it is out already."""
        with translated("leave a line"):
            self._table.delete_entity(partition_of(key), ticket)
