"""Fixtures every test folder shares: one private Azurite for the whole run."""

import pytest
from helpers import Azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A private Azurite on free ports; yields its connection string."""
    with Azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server.connection_string
