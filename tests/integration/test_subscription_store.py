"""The SubscriptionStore contract (tests/contracts.py) run against the Table adapter on a real Azurite."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient
from contracts import SubscriptionStoreContract

from shared.storage.subscription_store import TableSubscriptionStore


class TestTableSubscriptionStore(SubscriptionStoreContract):
    @pytest.fixture
    def subscriptions(self, azurite, unique_name):
        name = unique_name("subs")
        TableServiceClient.from_connection_string(azurite).create_table(name)
        return TableSubscriptionStore(TableServiceClient.from_connection_string(azurite), name)
