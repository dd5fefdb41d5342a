"""The store contracts (tests/contracts.py) run against the in-memory stores."""

from __future__ import annotations

import pytest
from contracts import (
    KeptEventsContract,
    LinesContract,
    OperationStoreContract,
    SubscriptionStoreContract,
    WorkQueueContract,
)
from fakes import MemoryKeptEvents, MemoryLines, MemoryOperationStore, MemorySubscriptionStore, MemoryWorkQueue


class TestMemoryOperationStore(OperationStoreContract):
    @pytest.fixture
    def store(self):
        return MemoryOperationStore()


class TestMemorySubscriptionStore(SubscriptionStoreContract):
    @pytest.fixture
    def subscriptions(self):
        return MemorySubscriptionStore()


class TestMemoryKeptEvents(KeptEventsContract):
    @pytest.fixture
    def kept(self):
        return MemoryKeptEvents()


class TestMemoryLines(LinesContract):
    @pytest.fixture
    def lines(self):
        return MemoryLines()


class TestMemoryWorkQueue(WorkQueueContract):
    @pytest.fixture
    def work_queue(self):
        return MemoryWorkQueue()

    @pytest.fixture
    def host(self, work_queue):
        class Host:
            def receive(self, visibility_seconds, events=False):
                return work_queue.receive(visibility_seconds=visibility_seconds, events=events)

            def delete(self, message_id, pop_receipt):
                return work_queue.delete(message_id, pop_receipt)

        return Host()
