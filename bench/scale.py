"""Flat at scale: the same reads and the same purge on a table of 1,000 rows and one of 100,000.

Each table is seeded with entity group transactions (100 rows to a request, per partition),
with rows shaped as the app writes them (``to_entity``): ``live`` finished rows that expire in
90 days, plus 1,000 finished rows that expired yesterday, each with its expiry marker and its
finish marker. Then,
through the app's own store:

* status read: ``get`` of a random live row, ``READS`` times, p50;
* first list page: ``list(top=50)``, newest first over the 16 partitions, ``PAGES`` times, p50;
* purge: ``purge_expired`` of the 1,000 expired rows, counted in storage transactions;
* each OData query option on the list endpoint (``query_options``), before the purge.

Both tables are seeded first and then timed in turns, one call on each, so that both see the
same Azurite (warm, with the same garbage to collect): timed one after the other, the status
read's ratio moved between 1.0x and 3.9x from run to run with nothing changed.

The figures are the ratios 100k / 1k, and the requests each call makes at both sizes.
Azurite is not Azure: its LokiJS store finds a point read through the PartitionKey index
and then scans that partition, and runs every query as a scan of the whole table
(``LokiTableMetadataStore``: ``findOne({PartitionKey, RowKey})``, ``chain().where(fn)``).
So on Azurite the read and list times grow with the table although the app asks for the
same thing; the request counts show that it does, and a plain SDK ``get_entity`` of the same
rows (``raw_sdk_read``) grows the same way.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from azure.data.tables import TableClient, TableServiceClient, TableTransactionError

from shared.bootstrap import build_services
from shared.domain.ids import new_operation_id
from shared.domain.operation import Operation
from shared.domain.states import Status
from shared.services.retention import purge_expired
from shared.settings import load_settings
from shared.storage.keys import expiry_marker, shard_of
from shared.storage.metering import TransactionCounter
from shared.storage.ports import ListQuery
from shared.storage.table_store import finish_entity, to_entity

from .query_options import measure_query_options
from .retries import again
from .stats import percentile

SIZES = (1_000, 100_000)
EXPIRED = 1_000
READS = 300
PAGES = 50
BATCH = 100  # Table Storage's limit for one entity group transaction
SEED_THREADS = 4  # batches in flight: Azurite answers one at a time, but each waits less on the client's side
TARGETS = {"status_read": 1.2, "first_page": 1.5, "purge_transactions": 1.1}


def _row(created: datetime, ttl: timedelta) -> tuple[dict, ...]:
    """A finished row as the app writes it, with its expiry marker and its finish marker."""
    op = Operation(id=new_operation_id(created), name="sample_Echo", displayname="Echo", status=Status.SUCCEEDED,
                   inputs={"Index": 1, "Text": "bench"}, outputs={"Index": 1, "Text": "bench"}, createdon=created,
                   modifiedon=created, starttime=created, endtime=created, ttlinseconds=int(ttl.total_seconds()),
                   baseurl="http://bench.invalid")
    finish = finish_entity(op)
    marker = {"PartitionKey": shard_of(op.id), "RowKey": expiry_marker(op.id, created + ttl),
              "finish": finish["RowKey"]}
    return to_entity(op), marker, finish


def _entities(live: int, now: datetime) -> Iterator[dict]:
    for i in range(live):  # one a second back from now: they expire in about 90 days
        yield from _row(now - timedelta(seconds=i), timedelta(days=90))
    for i in range(EXPIRED):  # created 91 days ago, expired a day ago
        yield from _row(now - timedelta(days=91, seconds=i), timedelta(days=90))


@dataclass
class _Table:
    """One seeded table, the app's services on it (with a counter), and what was measured."""

    live: int
    name: str = field(default_factory=lambda: f"scale{uuid.uuid4().hex[:8]}")
    counter: TransactionCounter = field(default_factory=TransactionCounter)
    ids: list[str] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def seed(self, connection_string: str) -> dict:
        settings = load_settings({"AzureWebJobsStorage": connection_string, "BGOPS_QUEUE_NAME": self.name,
                                  "BGOPS_TABLE_NAME": self.name})
        self.svc = build_services(settings, counter=self.counter)
        self.raw = TableServiceClient.from_connection_string(connection_string).get_table_client(self.name)
        started = time.monotonic()
        self.ids = _seed_table(connection_string, self.name, self.live)
        self.rng = random.Random(self.live)
        return {"rows": self.live + EXPIRED, "seed_seconds": round(time.monotonic() - started, 1)}

    def calls(self) -> dict[str, Callable[[], object]]:
        """What is timed, by name."""
        return {"status_read": lambda: self.svc.store.get(self.rng.choice(self.ids)),
                "raw_sdk_read": lambda: self.raw.get_entity(shard_of(key := self.rng.choice(self.ids)), key),
                "first_page": lambda: self.svc.store.list(ListQuery(top=50))}

    def time(self, what: str) -> None:
        before = self.counter.total
        started = time.perf_counter()
        self.calls()[what]()
        self.times.setdefault(what, []).append(time.perf_counter() - started)
        self.requests[what] = self.requests.get(what, 0) + self.counter.total - before

    def results(self) -> dict:
        p50 = {f"{what}_p50_ms": round(percentile(spent, 50) * 1000, 2) for what, spent in self.times.items()}
        self.counter.reset()
        purged = purge_expired(self.svc)
        return {**p50, "requests_per_status_read": self.requests["status_read"] / len(self.times["status_read"]),
                "requests_per_first_page": self.requests["first_page"] / len(self.times["first_page"]),
                "purged": purged, "purge_transactions": self.counter.total}


def _batches(live: int, ids: list[str]) -> Iterator[list[tuple[str, dict]]]:
    """The seeding's entity group transactions (BATCH creates of one partition each); the live rows' ids
    into ``ids``."""
    pending: dict[str, list[tuple[str, dict]]] = {}
    for entity in _entities(live, datetime.now(UTC)):
        if len(entity["RowKey"]) == 36 and len(ids) < live:  # a row, not a marker
            ids.append(entity["RowKey"])
        rows = pending.setdefault(entity["PartitionKey"], [])
        rows.append(("create", entity))
        if len(rows) == BATCH:
            yield rows
            pending[entity["PartitionKey"]] = []
    yield from (rows for rows in pending.values() if rows)


def _seed_table(connection_string: str, name: str, live: int) -> list[str]:
    """SEED_THREADS batches at a time, each sent again when Azurite dropped its connection (it does, now and
    then, under a long seeding)."""
    table = TableServiceClient.from_connection_string(connection_string).create_table_if_not_exists(name)
    ids: list[str] = []
    batches = _batches(live, ids)
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        while chunk := list(itertools.islice(batches, SEED_THREADS * 8)):
            list(pool.map(lambda rows: _send(table, rows), chunk))
    return ids


def _send(table: TableClient, rows: list[tuple[str, dict]]) -> None:
    """One batch of creates (an upsert looks each entity up twice in Azurite, a create once). A transaction is
    all or nothing: when a retry finds its entities there (409), the try whose answer was lost wrote them."""
    tries = 0

    def once() -> None:
        nonlocal tries
        tries += 1
        try:
            table.submit_transaction(rows)
        except TableTransactionError as error:
            if tries == 1 or error.status_code != 409:
                raise

    again("seed batch", once)


def measure_scale(connection_string: str, sizes: tuple[int, int] = SIZES) -> dict:
    """Seed both tables, then time them in turns (so both see the same Azurite: warm, same garbage);
    the ratios of the larger to the smaller, with their targets."""
    tables = [_Table(live) for live in sizes]
    seeded = [table.seed(connection_string) for table in tables]
    for what, times in (("raw_sdk_read", READS), ("status_read", READS), ("first_page", PAGES)):
        for _ in range(times):
            for table in tables:
                table.time(what)
    options = measure_query_options([(facts["rows"], table.svc, table.counter)
                                     for facts, table in zip(seeded, tables, strict=True)])
    small, large = ({**facts, **table.results()} for facts, table in zip(seeded, tables, strict=True))
    ratios = {"status_read": round(large["status_read_p50_ms"] / small["status_read_p50_ms"], 2),
              "first_page": round(large["first_page_p50_ms"] / small["first_page_p50_ms"], 2),
              "purge_transactions": round(large["purge_transactions"] / small["purge_transactions"], 2)}
    return {"small": small, "large": large, "ratios": ratios, "targets": TARGETS, "query_options": options}
