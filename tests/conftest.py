"""Fixtures every test folder shares: one private Azurite for the whole run."""

import pytest
from helpers import Azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A private Azurite on free ports; yields its connection string."""
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    yield server.connection_string
    server.stop()
