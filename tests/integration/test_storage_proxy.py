"""The fault harness's storage outage (faults/proxy.py), so that ``make faults`` measures what it says:
while the proxy is down, storage calls through it fail at once; once it is up they work again. And the bench's
count of transactions at the same proxy, so that ``make bench`` counts what storage bills."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobClient, ContainerClient
from azure.storage.queue import QueueClient
from helpers import ACCOUNT_KEY

from bench.http_count import RequestCounter
from bench.wire import WireCounter
from faults.proxy import StorageProxy, ports_of


def test_storage_through_the_proxy_fails_while_it_is_down_and_works_again_after(azurite, unique_name):
    ports = ports_of(azurite)
    proxy = StorageProxy(ports)
    try:
        service = TableServiceClient.from_connection_string(
            proxy.connection_string("devstoreaccount1", ACCOUNT_KEY), retry_total=0)
        table = service.create_table(unique_name("proxy"))
        table.create_entity({"PartitionKey": "p", "RowKey": "1"})
        proxy.down()
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017 - whatever the SDK makes of a reset connection
            table.get_entity("p", "1")
        assert time.monotonic() - started < 5  # refused at once, not a hang
        proxy.up()
        assert table.get_entity("p", "1")["RowKey"] == "1"
    finally:
        proxy.stop()


@pytest.mark.parametrize("fault, raised, written", [
    ("down", ServiceRequestError, []),  # a new connection is refused: the SDK's "not sent"
    ("lose_answers", ServiceResponseError, ["1"]),  # sent and carried out; the client hears nothing
])
def test_a_write_through_the_proxy_in_each_fault_is_made_or_not_as_the_error_says(azurite, unique_name, fault,
                                                                                   raised, written):
    proxy = StorageProxy(ports_of(azurite))
    try:
        table = TableServiceClient.from_connection_string(
            proxy.connection_string("devstoreaccount1", ACCOUNT_KEY), retry_total=0).create_table(unique_name("px"))
        getattr(proxy, fault)()
        with pytest.raises(raised):
            table.create_entity({"PartitionKey": "p", "RowKey": "1"})
        proxy.up()
        assert [e["RowKey"] for e in table.list_entities()] == written
    finally:
        proxy.stop()


def test_the_bench_counts_through_the_proxy_what_the_sdks_send(azurite, unique_name):
    """The bench's proxy-side count (bench.http_count) equals the count at the SDKs' transport (bench.wire), for
    every kind of request the contestants send: entity group transactions, bodies of every size, paged reads."""
    requests = RequestCounter()
    proxy = StorageProxy(ports_of(azurite), seen=requests.reader)
    through = proxy.connection_string("devstoreaccount1", ACCOUNT_KEY)
    wire = WireCounter(through)
    name = unique_name("count")
    try:
        with wire.installed():
            table = TableServiceClient.from_connection_string(through).create_table(name)
            # 180 KB of properties: a request that reaches the proxy in many pieces
            table.create_entity({"PartitionKey": "p", "RowKey": "big", **{f"t{i}": "x" * 30_000 for i in range(6)}})
            table.submit_transaction([("upsert", {"PartitionKey": "p", "RowKey": str(i)}) for i in range(3)])
            assert len(list(table.query_entities("PartitionKey eq 'p'", results_per_page=2))) == 4  # 2 pages
            queue = QueueClient.from_connection_string(through, name)
            queue.create_queue()
            queue.send_message("hello")
            for message in queue.receive_messages():
                queue.delete_message(message)
            blob = BlobClient.from_connection_string(through, name, "b")
            ContainerClient.from_connection_string(through, name).create_container()
            blob.upload_blob(b"y" * 300_000)
            assert len(blob.download_blob().readall()) == 300_000
        wire_counts = +Counter({key: n for (_, key), n in wire.counts.items()})
        assert requests.taken() == wire_counts
        assert wire_counts["table POST"] == 3 and wire_counts["queue DELETE"] == 1  # it counted something real
    finally:
        proxy.stop()
