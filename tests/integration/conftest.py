"""Fixtures for the integration tests: real storage adapters on the session's private Azurite."""

from __future__ import annotations

import uuid

import pytest

from shared.settings import StorageSettings


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
