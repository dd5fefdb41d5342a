"""The fault harness's storage outage (faults/proxy.py), so that ``make faults`` measures what it says:
while the proxy is down, storage calls through it fail at once; once it is up they work again."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.data.tables import TableServiceClient
from helpers import ACCOUNT_KEY

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
