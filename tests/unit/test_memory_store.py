"""The OperationStore contract (tests/contracts.py) run against the in-memory store."""

from __future__ import annotations

import pytest
from contracts import OperationStoreContract

from shared.storage.memory import MemoryOperationStore


class TestMemoryOperationStore(OperationStoreContract):
    @pytest.fixture
    def store(self):
        return MemoryOperationStore()
