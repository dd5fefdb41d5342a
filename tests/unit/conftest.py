"""Fixtures for the unit tests: a factory for Operation rows (pure values, no storage), and services over
the in-memory stores: ``memory_svc`` on the real clock; ``make_svc`` on a ``FakeClock`` (``clock``), with
``host`` and ``events_host`` taking messages off their queue as the Functions host would."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import (
    FakeClock,
    MemoryHost,
    MemoryKeptEvents,
    MemoryLines,
    MemoryOperationStore,
    MemorySubscriptionStore,
    MemoryWorkQueue,
)
from hypothesis import configuration, settings

from shared.bootstrap import Stores, assemble, build_registry
from shared.domain.ids import new_operation_id
from shared.domain.operation import Operation
from shared.domain.states import Status
from shared.services.container import Services
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


def memory_stores(clock: Callable[[], float] | None = None) -> Stores:
    """A fresh set of in-memory stores; the queue's visibility on ``clock`` (seconds), else the real one."""
    return Stores(store=MemoryOperationStore(), queue=MemoryWorkQueue(clock=clock) if clock else MemoryWorkQueue(),
                  subscriptions=MemorySubscriptionStore(), lines=MemoryLines(), kept=MemoryKeptEvents())


@pytest.fixture
def memory_svc(tmp_path) -> Services:
    """Services over the in-memory stores (``tests/fakes.py``) on the real clock, with the samples registered."""
    return assemble(Settings(storage=StorageSettings(connection_string="UseDevelopmentStorage=true")),
                    memory_stores(), registry=build_registry(enable_samples=True), later_folder=tmp_path / "later")


SETTINGS = Settings(storage=StorageSettings(connection_string="UseDevelopmentStorage=true"), enable_samples=True,
                    allow_http_callbacks=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_svc(tmp_path, clock) -> Callable[..., Services]:
    """``make_svc(**settings)``: services over one set of in-memory stores and queues (every call of a test
    shares them, as services built on one table and queue would), on ``clock``, with the samples."""
    stores = memory_stores(clock.seconds)

    def build(**changes) -> Services:
        return assemble(dataclasses.replace(SETTINGS, **changes), stores, later_folder=tmp_path / "later",
                        clock=clock)

    return build


@pytest.fixture
def host(make_svc, clock) -> MemoryHost:
    """The work queue of ``make_svc``'s services, as the host takes from it."""
    return MemoryHost(make_svc().queue, clock)


@pytest.fixture
def events_host(make_svc, clock) -> MemoryHost:
    """The events queue of ``make_svc``'s services, as the host takes from it."""
    return MemoryHost(make_svc().queue, clock, events=True)
