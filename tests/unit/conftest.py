"""Fixtures for the unit tests: a factory for Operation rows (pure values, no storage), and services over
the in-memory stores."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import MemoryKeptEvents, MemoryLines, MemoryOperationStore, MemorySubscriptionStore, MemoryWorkQueue
from hypothesis import configuration, settings

from shared.bootstrap import build_registry
from shared.domain.ids import new_operation_id
from shared.domain.operation import Operation
from shared.domain.states import Status
from shared.services.container import Services
from shared.services.later import Later
from shared.services.subscription_cache import SubscriptionCache
from shared.settings import Settings, StorageSettings

# Unit tests leave nothing behind in the repo: no example database, caches in the temp folder.
configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "bgops-unit-hypothesis")
settings.register_profile("unit", database=None, deadline=None)
settings.load_profile("unit")

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def make_operation(**changes) -> Operation:
    """A plausible row; any column can be overridden."""
    values = {
        "id": new_operation_id(NOW + timedelta(days=90)),
        "name": "sample_Echo",
        "displayname": "Echo",
        "status": Status.WAITING_FOR_RESOURCES,
        "inputs": {"A": 1},
        "createdon": NOW,
        "modifiedon": NOW,
        "ttlinseconds": 7_776_000,
    }
    values.update(changes)
    return Operation(**values)


@pytest.fixture
def make_op():
    """The ``make_operation`` factory, as a fixture."""
    return make_operation


@pytest.fixture
def memory_svc(tmp_path) -> Services:
    """Services over the in-memory stores (``tests/fakes.py``), with the samples registered."""
    subscriptions = MemorySubscriptionStore()
    return Services(settings=Settings(storage=StorageSettings(connection_string="UseDevelopmentStorage=true")),
                    store=MemoryOperationStore(), queue=MemoryWorkQueue(), registry=build_registry(enable_samples=True),
                    subscriptions=subscriptions, subscription_cache=SubscriptionCache(subscriptions.list),
                    lines=MemoryLines(), kept=MemoryKeptEvents(), later=Later(tmp_path / "later", lambda item: None))
