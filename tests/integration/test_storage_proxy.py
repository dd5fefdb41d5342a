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


def test_while_the_proxy_is_down_a_new_connection_is_refused_so_nothing_can_have_been_sent(azurite, unique_name):
    proxy = StorageProxy(ports_of(azurite))
    try:
        table = TableServiceClient.from_connection_string(
            proxy.connection_string("devstoreaccount1", ACCOUNT_KEY), retry_total=0).create_table(unique_name("px"))
        proxy.down()
        with pytest.raises(ServiceRequestError):  # the SDK's "not sent", as against a lost answer
            table.create_entity({"PartitionKey": "p", "RowKey": "1"})
        proxy.up()
        assert list(table.list_entities()) == []
    finally:
        proxy.stop()


def test_while_answers_are_lost_a_write_is_made_but_the_client_hears_nothing(azurite, unique_name):
    proxy = StorageProxy(ports_of(azurite))
    try:
        table = TableServiceClient.from_connection_string(
            proxy.connection_string("devstoreaccount1", ACCOUNT_KEY), retry_total=0).create_table(unique_name("px"))
        proxy.lose_answers()
        with pytest.raises(ServiceResponseError):  # sent: it may have been carried out
            table.create_entity({"PartitionKey": "p", "RowKey": "1"})
        proxy.up()
        assert [e["RowKey"] for e in table.list_entities()] == ["1"]
    finally:
        proxy.stop()
