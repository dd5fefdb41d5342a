"""The store contracts (tests/contracts.py) run against the in-memory stores."""

from __future__ import annotations

import pytest
from contracts import OperationStoreContract, SubscriptionStoreContract

from shared.storage.memory import MemoryOperationStore, MemorySubscriptionStore


class TestMemoryOperationStore(OperationStoreContract):
    @pytest.fixture
    def store(self):
        return MemoryOperationStore()


class TestMemorySubscriptionStore(SubscriptionStoreContract):
    @pytest.fixture
    def subscriptions(self):
        return MemorySubscriptionStore()
