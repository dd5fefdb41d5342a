"""Inputs and outputs up to 1 MiB: what a Table property cannot hold is kept as a blob of the
same account, read back with the row and deleted with it. Real Azurite tables and blobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.storage.blob import BlobServiceClient
from contracts import keyed_op, make_op, utc_now
from integration.conftest import CountingTransport

from shared.domain.errors import ConcurrencyConflict, PayloadTooLarge
from shared.domain.states import Status
from shared.storage.keys import shard_of
from shared.storage.metering import TransactionCounter
from shared.storage.payloads import REFERENCE, BlobPayloads, container_name
from shared.storage.ports import ListQuery
from shared.storage.table_store import TableOperationStore

MIB = 1024 * 1024
BIG = {"Document": "ü" * (MIB // 2 - 100)}  # two bytes each in UTF-8: just under 1 MiB as stored


@pytest.fixture
def table_name(unique_name):
    return unique_name("pay")


@pytest.fixture
def blobs(azurite):
    return BlobServiceClient.from_connection_string(azurite)


@pytest.fixture
def store(azurite, counted_clients, blobs, table_name):
    """``store(counter=None)``: a store with blob payloads (its requests counted when given a counter)."""

    def build(counter: TransactionCounter | None = None) -> TableOperationStore:
        counter = counter or TransactionCounter()
        tables, _ = counted_clients(counter)
        service = BlobServiceClient.from_connection_string(azurite, transport=CountingTransport(counter, "blob"))
        built = TableOperationStore(tables, table_name, BlobPayloads(service, container_name(table_name)))
        built.ensure_table()
        counter.reset()  # what the test does, not the table and container it needs
        return built

    return build


def _blob_names(blobs, table_name, operation_id):
    return [b.name for b in blobs.get_container_client(container_name(table_name))
            .list_blobs(name_starts_with=f"{operation_id}/")]


def test_inputs_and_outputs_of_nearly_1_mib_each_round_trip_through_get_and_list(store, blobs, table_name):
    s = store()
    op = s.create(make_op(inputs=BIG, runas="alice"))
    done = s.replace(op.with_changes(status=Status.SUCCEEDED, outputs={"Echo": BIG["Document"]}))
    got = s.get(op.id)
    assert got.inputs == BIG and got.outputs == {"Echo": BIG["Document"]} and not got.damaged
    for query in (ListQuery(), ListQuery(owner="alice")):
        [listed] = s.list(query).operations
        assert listed.inputs == BIG and listed.outputs == done.outputs
    entity = s._table.get_entity(shard_of(op.id), op.id)
    assert entity["inputparameters"].startswith(REFERENCE) and entity["outputparameters"].startswith(REFERENCE)
    assert len(_blob_names(blobs, table_name, op.id)) == 2


def test_small_parameters_stay_in_the_row_and_cost_no_blob_request(store):
    counter = TransactionCounter()
    s = store(counter)
    op = s.create(make_op(inputs={"Small": "x" * 1000}))
    s.replace(op.with_changes(status=Status.SUCCEEDED, outputs={"Small": "y"}))
    s.get(op.id)
    assert not [k for k in counter.counts if k.startswith("blob")], dict(counter.counts)


def test_a_large_value_is_uploaded_once_not_on_every_write_of_its_row(store):
    counter = TransactionCounter()
    s = store(counter)
    op = s.create(make_op(inputs=BIG))
    for percent in (10, 50, 90):
        op = s.replace(op.with_changes(status=Status.IN_PROGRESS, progresspercent=percent))
    assert counter.counts["blob PUT"] == 1, dict(counter.counts)
    # A store in another process has not seen it, reads it once, and then does not upload it either.
    other_counter = TransactionCounter()
    other = store(other_counter)
    read = other.get(op.id)
    other.replace(read.with_changes(progresspercent=95))
    assert other_counter.counts["blob PUT"] == 0 and other_counter.counts["blob GET"] == 1


def test_purge_deletes_the_blobs_with_the_row(store, blobs, table_name):
    s = store()
    past = utc_now() - timedelta(hours=1)
    op = s.create(make_op(inputs=BIG, expires=past))
    s.replace(op.with_changes(status=Status.FAILED))
    small = s.create(make_op(expires=past, status=Status.SUCCEEDED))
    expired = list(s.list_expired(utc_now()))
    assert {(row.operation_id, row.payloads) for row in expired} == {(op.id, True), (small.id, False)}
    assert s.delete_expired(expired) == 2
    assert _blob_names(blobs, table_name, op.id) == [] and s.list(ListQuery()).operations == []


def test_deleting_a_row_deletes_its_blobs(store, blobs, table_name):
    s = store()
    op = s.create(make_op(inputs=BIG))
    s.delete(op)
    assert _blob_names(blobs, table_name, op.id) == []


def test_a_row_whose_blob_is_gone_reads_as_damaged_not_as_an_error(store, blobs, table_name):
    s = store()
    op = s.create(make_op(inputs=BIG))
    for name in _blob_names(blobs, table_name, op.id):
        blobs.get_container_client(container_name(table_name)).delete_blob(name)
    got = store().get(op.id)  # a fresh store: nothing remembered
    assert got.inputs == {} and "cannot be read" in got.damaged
    assert [row.damaged != "" for row in store().list(ListQuery()).operations] == [True]


def test_the_blobs_of_a_row_storage_refused_are_deleted(store, blobs, table_name):
    s = store()
    op = make_op(inputs=BIG, progressmessage="x" * 40_000)  # a column too long for Table storage: refused
    with pytest.raises(PayloadTooLarge):
        s.create(op)
    assert _blob_names(blobs, table_name, op.id) == []


def test_a_keyed_request_sent_again_leaves_no_blob_behind_and_the_first_keeps_its_own(store, blobs, table_name):
    s = store()
    first = s.create(keyed_op("big", inputs=BIG))
    again = keyed_op("big", inputs={"Document": "ä" * (MIB // 2 - 100)})
    with pytest.raises(ConcurrencyConflict):
        s.create(again)
    assert _blob_names(blobs, table_name, again.id) == []
    assert len(_blob_names(blobs, table_name, first.id)) == 1 and s.get(first.id).inputs == BIG
    with pytest.raises(ConcurrencyConflict):  # its own insert made again (an answer lost): its blob stays
        s.create(first.with_changes(etag=None, versionnumber=0))
    assert len(_blob_names(blobs, table_name, first.id)) == 1 and s.get(first.id).inputs == BIG
