"""Fixtures every test folder shares: one private Azurite for the whole run, and a callback receiver."""

import pytest
from helpers import Azurite, CallbackServer


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A private Azurite on free ports; yields its connection string."""
    with Azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server.connection_string


@pytest.fixture(scope="session")
def callbacks():
    """A real HTTP server on 127.0.0.1 that records callbacks, shared by the session (each test uses its own
    path: ``callbacks.new_url()``)."""
    server = CallbackServer()
    yield server
    server.stop()
