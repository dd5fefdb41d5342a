"""Fixtures for the unit tests: a factory for Operation rows (pure values, no storage)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.ids import new_operation_id
from shared.domain.operation import Operation
from shared.domain.states import Status

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def make_operation(**changes) -> Operation:
    """A plausible row; any column can be overridden."""
    values = dict(
        id=new_operation_id(NOW + timedelta(days=90)),
        name="sample_Echo",
        displayname="Echo",
        status=Status.WAITING_FOR_RESOURCES,
        inputs={"A": 1},
        createdon=NOW,
        modifiedon=NOW,
        ttlinseconds=7_776_000,
    )
    values.update(changes)
    return Operation(**values)


@pytest.fixture
def make_op():
    """The ``make_operation`` factory, as a fixture."""
    return make_operation
