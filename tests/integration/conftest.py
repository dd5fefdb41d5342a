"""Fixtures for the integration tests: real storage adapters on the session's private Azurite."""

from __future__ import annotations

import uuid

import pytest
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient
from helpers import HostQueue

from shared.settings import StorageSettings, events_queue_name
from shared.storage.metering import TransactionCounter


def _unique_name(prefix: str = "it") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def unique_name():
    """``unique_name(prefix)``: a table or queue name nobody else uses (lower-case letters and digits)."""
    return _unique_name


@pytest.fixture(scope="session")
def storage_settings(azurite) -> StorageSettings:
    """The storage settings of the test Azurite, as the app would read them."""
    return StorageSettings(connection_string=azurite)


class CountingTransport(RequestsTransport):
    """Counts every request that goes on the wire as ``service METHOD`` (a batch is one request).

    An independent count at the transport, to check the app's own TransactionCounter
    against. ``observer(request, response)`` sees each exchange.
    """

    def __init__(self, counter: TransactionCounter, service: str, observer=None) -> None:
        super().__init__()
        self._counter, self._service, self._observer = counter, service, observer

    def send(self, request, **kwargs):
        self._counter.add(f"{self._service} {request.method}")
        response = super().send(request, **kwargs)
        if self._observer:
            self._observer(request, response)
        return response


@pytest.fixture(scope="session")
def counted_clients(azurite):
    """``counted_clients(counter, observer=None)``: table and queue service clients whose requests are counted."""

    def build(counter: TransactionCounter, observer=None) -> tuple[TableServiceClient, QueueServiceClient]:
        return (TableServiceClient.from_connection_string(azurite, transport=CountingTransport(counter, "table",
                                                                                                observer)),
                QueueServiceClient.from_connection_string(azurite, transport=CountingTransport(counter, "queue",
                                                                                                observer)))

    return build


@pytest.fixture
def host(azurite, settings) -> HostQueue:
    return HostQueue(azurite, settings.queue_name)


@pytest.fixture
def poison_host(azurite, settings) -> HostQueue:
    return HostQueue(azurite, settings.poison_queue_name)


@pytest.fixture
def events_host(azurite, settings) -> HostQueue:
    return HostQueue(azurite, events_queue_name(settings.queue_name))
