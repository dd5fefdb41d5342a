"""The OperationStore contract (tests/contracts.py) run against the Table Storage adapter on a real
Azurite, and what only Table Storage can promise: the stored entity's shape, and the billed requests.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.data.tables import TableServiceClient
from contracts import TERMINAL, OperationStoreContract, expired_rows, ids, keyed_op, make_op, seed, utc_now
from helpers import ACCOUNT_KEY, free_port

from shared.domain.errors import OperationNotFound, PayloadTooLarge, StorageUnavailable
from shared.domain.states import Status
from shared.storage.clients import build_service_clients
from shared.storage.keys import SHARDS, owner_copy, owner_range, shard_of
from shared.storage.metering import TransactionCounter
from shared.storage.ports import ListQuery
from shared.storage.table_store import TableOperationStore


class _RowsReturned:
    """Sees each exchange: records what each query asked for and how many rows came back."""

    def __init__(self) -> None:
        self.filters: list[str] = []
        self.rows = 0

    def __call__(self, request, response) -> None:
        if request.method != "GET":
            return
        query = parse_qs(urlsplit(request.url).query)
        self.filters.extend(query.get("$filter", []))
        try:
            body = json.loads(response.text())
        except ValueError:
            return
        self.rows += len(body.get("value", [])) if isinstance(body, dict) else 0


class TestTableOperationStore(OperationStoreContract):
    """The contract on Table Storage, plus the entity layout and request counts."""

    @pytest.fixture(scope="class")
    def services(self, storage_settings):
        tables, _ = build_service_clients(storage_settings)
        return tables

    @pytest.fixture
    def table_name(self, unique_name):
        return unique_name("ops")

    @pytest.fixture
    def store(self, services, table_name):
        store = TableOperationStore(services, table_name)
        store.ensure_table()
        return store

    @pytest.fixture
    def counted_store(self, counted_clients):
        """``counted_store(table_name, observer=None)``: the adapter over a client whose requests are counted."""

        def build(table_name: str, observer=None):
            counter = TransactionCounter()
            tables, _ = counted_clients(counter, observer)
            return TableOperationStore(tables, table_name), counter

        return build

    def test_unset_columns_are_absent_from_the_stored_entity(self, store, services, table_name):
        op = make_op()
        store.create(op)
        entity = services.get_table_client(table_name).get_entity(shard_of(op.id), op.id)
        for column in ("outputparameters", "starttime", "endtime", "errorcode", "errormessage", "postponeuntil",
                       "callbackurl", "callbackclaimedon", "progresspercent"):
            assert column not in entity, column
        assert entity["PartitionKey"] == op.id[-1] and entity["RowKey"] == op.id
        assert entity["backgroundoperationstatecode"] == 0 and entity["backgroundoperationstatuscode"] == 0
        assert json.loads(entity["inputparameters"]) == [{"Key": "Index", "Value": 1}]  # Dataverse's form

    def test_ensure_table_is_idempotent(self, store):
        op = store.create(make_op())
        store.ensure_table()
        assert store.get(op.id) == op

    def test_point_read_is_exactly_one_request(self, store, counted_store, table_name):
        op = store.create(make_op())
        counted, counter = counted_store(table_name)
        counted.get(op.id)
        assert dict(counter.counts) == {"table GET": 1}

    def test_transaction_counter_given_to_build_service_clients_counts_table_requests(
            self, store, storage_settings, table_name):
        op = store.create(make_op())
        counter = TransactionCounter()
        tables, _ = build_service_clients(storage_settings, counter=counter)
        TableOperationStore(tables, table_name).get(op.id)
        assert dict(counter.counts) == {"table GET": 1}

    @pytest.mark.parametrize("n_live", [50, 500])
    def test_purge_requests_do_not_grow_with_the_number_of_live_rows(self, services, counted_store,
                                                                      unique_name, n_live):
        """list_expired + delete_expired over E expired rows costs the same whatever N; no live row is read.

        E = 32 expired rows, two in each shard, so the expected cost is fixed: one
        range query over the expiry markers per shard (16) and one batch per shard (16). On Azurite a scan
        of live rows would not cost extra requests below 1,000 rows a shard, so the
        test also checks that every query is a key-range query and that exactly
        the E expired rows travel over the wire.
        """
        table_name = unique_name("cost")
        store = TableOperationStore(services, table_name)
        store.ensure_table()
        now = utc_now()
        expired = [make_op(status=Status.SUCCEEDED, expires=now - timedelta(hours=1), shard=SHARDS[i % 16])
                   for i in range(32)]
        live = [make_op(status=TERMINAL[i % 3] if i % 2 else Status.WAITING_FOR_RESOURCES,
                        expires=now + timedelta(hours=1, seconds=i)) for i in range(n_live)]
        seed(store, expired + live)

        rows = _RowsReturned()
        counted, counter = counted_store(table_name, rows)
        found = list(counted.list_expired(now))
        deleted = counted.delete_expired(found)

        print(f"\npurge of E=32 expired among N={n_live} live rows: {dict(counter.counts)}, "
              f"rows read {rows.rows}")
        assert sorted(ids(found)) == sorted(ids(expired)) and deleted == 32
        assert dict(counter.counts) == {"table GET": 16, "table POST": 16}
        assert rows.rows == 32
        assert len(rows.filters) == 16
        assert all("PartitionKey eq" in f and "RowKey gt" in f and "RowKey lt" in f for f in rows.filters), \
            rows.filters
        assert len(store.list(ListQuery(top=1000)).operations) == n_live

    def test_an_owners_list_reads_only_its_own_key_range(self, store, counted_store, table_name):
        """Listing one caller's operations among 300 of other callers' reads the caller's rows and no
        other: 16 key-range queries over the owner's copies, and only its rows come over the wire."""
        mine = seed(store, [make_op(runas="erin", shard=SHARDS[i % 16]) for i in range(20)])
        seed(store, [make_op(runas=f"user{i % 30}", shard=SHARDS[i % 16]) for i in range(300)])
        rows = _RowsReturned()
        counted, counter = counted_store(table_name, rows)
        page = counted.list(ListQuery(top=50, owner="erin"))

        assert sorted(ids(page.operations)) == sorted(ids(mine))
        assert dict(counter.counts) == {"table GET": 16} and rows.rows == 20
        start, end = owner_range("erin")
        assert all(f"RowKey gt '{start}'" in f and f"RowKey lt '{end}'" in f for f in rows.filters), rows.filters

    def test_an_owned_rows_copy_is_written_in_the_same_request_as_the_row(self, store, counted_store, table_name):
        op = store.create(make_op(runas="frank"))
        counted, counter = counted_store(table_name)
        counted.replace(op.with_changes(status=Status.IN_PROGRESS))
        assert dict(counter.counts) == {"table POST": 1}  # one entity group transaction: row and copy
        entity = store._table.get_entity(shard_of(op.id), owner_copy("frank", op.id))
        assert entity["backgroundoperationstatuscode"] == Status.IN_PROGRESS.value and entity["runas"] == "frank"


@pytest.fixture
def unreachable_store():
    """A store whose endpoint nobody listens on (a real client and a closed port, not a mock)."""
    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1")
    return TableOperationStore(TableServiceClient.from_connection_string(conn, retry_total=0), "nowhere")


@pytest.mark.parametrize("call", [
    lambda s, op: s.create(op),
    lambda s, op: s.get(op.id),
    lambda s, op: s.replace(op.with_changes(etag='W/"x"')),
    lambda s, op: s.delete(op),
    lambda s, op: s.list(ListQuery()),
    lambda s, op: s.delete_expired(expired_rows([op])),
    lambda s, op: s.ping(),
], ids=["create", "get", "replace", "delete", "list", "delete_expired", "ping"])
def test_unreachable_table_storage_raises_storage_unavailable(unreachable_store, call):
    with pytest.raises(StorageUnavailable):
        call(unreachable_store, make_op())


def test_unreachable_table_storage_raises_storage_unavailable_from_list_expired(unreachable_store):
    with pytest.raises(StorageUnavailable):
        list(unreachable_store.list_expired(utc_now()))


def _fresh_store(storage_settings, unique_name) -> TableOperationStore:
    tables, _ = build_service_clients(storage_settings)
    store = TableOperationStore(tables, unique_name("ops"))
    store.ensure_table()
    return store


@pytest.mark.parametrize("column", ["errormessage", "runas"])
def test_a_value_too_large_for_table_storage_is_the_callers_413_not_a_503(storage_settings, unique_name, column):
    store = _fresh_store(storage_settings, unique_name)
    too_large = make_op(**{column: "😀" * 20_000})  # 40,000 UTF-16 units: over the 64 KiB of a property
    with pytest.raises(PayloadTooLarge, match="PropertyValueTooLarge"):
        store.create(too_large)
    with pytest.raises(OperationNotFound):
        store.get(too_large.id)  # nothing was written


def test_a_row_whose_parameters_cannot_be_read_is_listed_as_damaged_and_the_others_still_are(
        storage_settings, unique_name):
    store = _fresh_store(storage_settings, unique_name)
    good, bad = seed(store, [make_op(), make_op()])
    store._table.update_entity({"PartitionKey": bad.id[-1], "RowKey": bad.id,  # written before input was bounded
                                "inputparameters": '[{"Key":"A","Value":' + "[" * 5000 + "]" * 5000 + "}]"})
    listed = {op.id: op for op in store.list(ListQuery(top=10)).operations}
    assert set(listed) == {good.id, bad.id}
    assert listed[bad.id].damaged and listed[bad.id].inputs == {} and not listed[good.id].damaged
    assert store.get(bad.id).damaged


def test_a_key_taken_over_between_a_withdrawals_read_and_its_delete_keeps_its_row(storage_settings, unique_name):
    """The withdrawal deletes the key's row on the ETag it read: a request that takes the operation over in
    between (marks the key accepted) makes that delete fail, and the row, its operation now, stays."""
    store = _fresh_store(storage_settings, unique_name)
    op = store.create(keyed_op("raced"))
    read = store.find_key

    def taken_over_meanwhile(hashed):
        claim = read(hashed)
        store.accept_key(hashed, etag=claim.etag)  # the take-over, after the withdrawal read the key
        return claim

    store.find_key = taken_over_meanwhile  # type: ignore[method-assign]
    store.delete(op)
    store.find_key = read  # type: ignore[method-assign]
    assert store.get(op.id).id == op.id and store.find_key(op.idempotencykey).accepted


def test_a_keyed_row_and_its_key_are_one_request_and_the_mark_one_more(storage_settings, unique_name,
                                                                       counted_clients):
    store, counter = _fresh_store(storage_settings, unique_name), TransactionCounter()
    counted = TableOperationStore(counted_clients(counter)[0], store._table.table_name)
    op = counted.create(keyed_op("counted", runas="gina"))  # the row, the owner's copy, the key: one batch
    counted.accept_key(op.idempotencykey)
    assert dict(counter.counts) == {"table POST": 1, "table PATCH": 1}
    entities = {e["RowKey"] for e in store._table.list_entities() if e["PartitionKey"] == shard_of(op.id)}
    assert entities == {op.id, owner_copy("gina", op.id), f"x{op.idempotencykey}"}
