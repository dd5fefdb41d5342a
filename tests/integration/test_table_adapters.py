"""The SubscriptionStore, KeptEvents and Lines contracts (tests/contracts.py) run against the Table adapters on a
real Azurite."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient
from contracts import KeptEventsContract, LinesContract, SubscriptionStoreContract

from shared.storage.kept_events import TableKeptEvents
from shared.storage.subscription_store import TableSubscriptionStore
from shared.storage.table_lines import TableLines


def new_table(azurite: str, name: str) -> tuple[TableServiceClient, str]:
    """A table of its own on Azurite, and the service client to reach it."""
    service = TableServiceClient.from_connection_string(azurite)
    service.create_table(name)
    return service, name


class TestTableSubscriptionStore(SubscriptionStoreContract):
    @pytest.fixture
    def subscriptions(self, azurite, unique_name):
        return TableSubscriptionStore(*new_table(azurite, unique_name("subs")))


class TestTableKeptEvents(KeptEventsContract):
    @pytest.fixture
    def kept(self, azurite, unique_name):
        return TableKeptEvents(*new_table(azurite, unique_name("kept")))


class TestTableLines(LinesContract):
    @pytest.fixture
    def lines(self, azurite, unique_name):
        return TableLines(*new_table(azurite, unique_name("lines")))
