"""Building storage clients from settings (shared/storage/clients.py), construct only, no network."""

from __future__ import annotations

import socket

import pytest
from azure.data.tables import TableServiceClient
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.storage.queue import QueueServiceClient

from shared.settings import StorageSettings
from shared.storage.clients import (
    DEVSTORE_ACCOUNT,
    DEVSTORE_CONNECTION,
    build_service_clients,
    normalize_connection_string,
    service_uris,
)
from shared.storage.metering import TransactionCounter


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network call attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("text", ["UseDevelopmentStorage=true", "UseDevelopmentStorage=true;",
                                  " UseDevelopmentStorage=true ; ", "usedevelopmentstorage=TRUE;;"])
def test_development_storage_shorthand_expands_to_azurites_account(text):
    assert normalize_connection_string(text) == DEVSTORE_CONNECTION


def test_expanded_development_connection_points_at_azurite_on_localhost():
    parts = dict(p.split("=", 1) for p in DEVSTORE_CONNECTION.split(";"))
    assert parts["AccountName"] == DEVSTORE_ACCOUNT == "devstoreaccount1"
    assert parts["TableEndpoint"] == "http://127.0.0.1:10002/devstoreaccount1"
    assert parts["QueueEndpoint"] == "http://127.0.0.1:10001/devstoreaccount1"


def test_empty_segments_are_dropped_and_others_kept_in_order():
    text = ";DefaultEndpointsProtocol=https;;AccountName=a; AccountKey=k==;EndpointSuffix=core.windows.net;"
    assert normalize_connection_string(text) == \
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==;EndpointSuffix=core.windows.net"


def test_development_storage_false_is_not_expanded():
    assert normalize_connection_string("UseDevelopmentStorage=false;") == "UseDevelopmentStorage=false"


def test_account_name_gives_the_public_cloud_endpoints():
    assert service_uris(StorageSettings(account_name="acct")) == \
        ("https://acct.table.core.windows.net", "https://acct.queue.core.windows.net")


def test_explicit_service_uris_are_used_as_given():
    storage = StorageSettings(table_service_uri="https://t.example", queue_service_uri="https://q.example")
    assert service_uris(storage) == ("https://t.example", "https://q.example")


def test_identity_settings_build_clients_for_the_account_without_a_network_call(no_network):
    tables, queues = build_service_clients(StorageSettings(account_name="acct"))
    assert isinstance(tables, TableServiceClient) and isinstance(queues, QueueServiceClient)
    assert tables.url.rstrip("/") == "https://acct.table.core.windows.net"
    assert queues.url.rstrip("/") == "https://acct.queue.core.windows.net"
    assert tables.account_name == queues.account_name == "acct"
    assert isinstance(tables.credential, DefaultAzureCredential)
    assert tables.credential is queues.credential


def test_service_uri_settings_build_clients_for_those_uris(no_network):
    storage = StorageSettings(table_service_uri="https://acct2.table.core.windows.net",
                              queue_service_uri="https://acct2.queue.core.windows.net")
    tables, queues = build_service_clients(storage)
    assert tables.url.rstrip("/") == "https://acct2.table.core.windows.net"
    assert queues.url.rstrip("/") == "https://acct2.queue.core.windows.net"


@pytest.mark.parametrize("client_id", [None, "11111111-2222-3333-4444-555555555555"])
def test_managed_identity_credential_setting_uses_a_managed_identity(no_network, client_id):
    tables, queues = build_service_clients(StorageSettings(account_name="acct", credential="managedidentity",
                                                           client_id=client_id))
    assert isinstance(tables.credential, ManagedIdentityCredential)
    assert isinstance(queues.credential, ManagedIdentityCredential)


def test_development_storage_builds_clients_for_azurite(no_network):
    tables, queues = build_service_clients(StorageSettings(connection_string="UseDevelopmentStorage=true;"))
    assert tables.url.rstrip("/") == "http://127.0.0.1:10002/devstoreaccount1"
    assert queues.url.rstrip("/") == "http://127.0.0.1:10001/devstoreaccount1"
    assert tables.account_name == "devstoreaccount1"


def _counting_clients():
    counter = TransactionCounter()
    tables, queues = build_service_clients(StorageSettings(connection_string="UseDevelopmentStorage=true"),
                                           counter=counter)
    return counter, tables, queues


def _attempt(call) -> None:
    """Make one request; the no_network fixture stops it at the socket, after the pipeline's hooks ran."""
    with pytest.raises(AssertionError, match="network call attempted"):
        call()


def test_counter_sees_requests_of_the_table_service_client(no_network):
    counter, tables, _ = _counting_clients()
    _attempt(lambda: next(iter(tables.list_tables())))
    assert counter.counts == {"table GET": 1}


def test_counter_sees_requests_of_the_table_client_the_store_uses(no_network):
    counter, tables, _ = _counting_clients()
    _attempt(lambda: tables.get_table_client("backgroundoperations").get_entity("0", "x"))
    assert counter.counts == {"table GET": 1}


def test_counter_sees_requests_of_the_queue_client_the_work_queue_uses(no_network):
    counter, _, queues = _counting_clients()
    _attempt(lambda: queues.get_queue_client("backgroundoperations").get_queue_properties())
    assert counter.counts == {"queue GET": 1}

