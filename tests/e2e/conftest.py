"""End-to-end fixtures: the real function_app.py served by devhost over HTTP, and a callback server."""

from __future__ import annotations

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient
from helpers import ADMIN_ROLE, ALL_COLUMNS, REPO, AppProcess, principal, wait_until

TERMINAL_STATES = {3}


class AppHost(AppProcess):
    """The app against the test Azurite, with short retries and waits, and helpers for the tests."""

    def __init__(self, connection_string: str, log_path, name: str | None = None, app_dir=REPO,
                 port: int | None = None, **settings: str) -> None:
        super().__init__(connection_string, log_path, name=name, app_dir=app_dir, port=port, settings={
            "BGOPS_RETRY_BASE_SECONDS": "0.5",
            "BGOPS_RETRY_AFTER_SECONDS": "1",
            "BGOPS_DEFAULT_TTL_SECONDS": "7776000",
            "BGOPS_PURGE_SCHEDULE": "0 0 0 1 1 *",
            "BGOPS_ALLOW_HTTP_CALLBACKS": "true",
            "BGOPS_ENABLE_SAMPLES": "true",
            "BGOPS_CALLBACK_RETRY_BASE_SECONDS": "0.2",
            # The host's backoff between empty polls of its three queues, 1 s at most (Azure's default is a
            # minute): at 0.2 s an idle host and its Azurite cost 7% of a core, and a dozen hosts sit idle
            # at any time in a run of the suite (measured: 26 s less CPU in all at 1 s, the same wall time).
            "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:01",
            **settings,
        })
        # With DEVHOST_FUNCTION_KEY set, the helpers below send the key in its header.
        self.key = settings.get("DEVHOST_FUNCTION_KEY")
        self.http = requests.Session()
        if self.key:
            self.http.headers["x-functions-key"] = self.key

    def submit(self, name: str, inputs: dict | None = None, callback: str | None = None, **kwargs):
        prefer = "respond-async" + (f', odata.callback; url="{callback}"' if callback else "")
        return self.http.post(self.url(f"data/v9.2/{name}"), json=inputs or {}, headers={"Prefer": prefer},
                             timeout=30, **kwargs)

    def status(self, operation_id: str) -> requests.Response:
        return self.http.get(self.url(f"backgroundoperation/{operation_id}"), timeout=30)

    def row(self, operation_id: str) -> dict:
        response = self.http.get(self.url(f"backgroundoperations/{operation_id}"), timeout=30,
                                params={"$select": ",".join(ALL_COLUMNS)})
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_status(self, operation_id: str, statuses, timeout: float = 30.0) -> dict:
        statuses = {statuses} if isinstance(statuses, int) else set(statuses)
        return wait_until(lambda: (row := self.row(operation_id))["backgroundoperationstatuscode"] in statuses
                          and row, timeout=timeout, interval=0.1,
                          message=f"operation {operation_id} to reach {statuses}")

    def tables(self):
        return TableServiceClient.from_connection_string(self.connection_string).get_table_client(self.table_name)

    def queues(self):
        return QueueServiceClient.from_connection_string(self.connection_string)

    def table_row(self, operation_id: str) -> dict:
        """The stored entity itself, internal columns included."""
        return dict(self.tables().get_entity(operation_id[-1], operation_id))

    def queue_client(self, name: str):
        from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

        return self.queues().get_queue_client(name, message_encode_policy=TextBase64EncodePolicy(),
                                              message_decode_policy=TextBase64DecodePolicy())

    def count_rows(self) -> int:
        return sum(1 for _ in self.tables().list_entities(select=["RowKey"]))

    def count_messages(self) -> int:
        return self.queues().get_queue_client(self.queue_name).get_queue_properties().approximate_message_count


@pytest.fixture(scope="session")
def app(azurite, tmp_path_factory):
    """The app, served once for the whole session."""
    host = AppHost(azurite, tmp_path_factory.mktemp("app") / "host.log")
    yield host
    host.stop()


@pytest.fixture
def make_app(azurite, tmp_path):
    """``make_app(name=None, app_dir=REPO, connection_string=None, port=None, **settings)``: more hosts of the app
    (or of a copy of it; on the test Azurite unless another connection string is given; on a free port unless
    given one), stopped after the test."""
    hosts: list[AppHost] = []

    def make(name: str | None = None, app_dir=REPO, connection_string: str | None = None, port: int | None = None,
             **settings: str) -> AppHost:
        hosts.append(AppHost(connection_string or azurite, tmp_path / f"host{len(hosts)}.log", name=name,
                             app_dir=app_dir, port=port, **settings))
        return hosts[-1]

    yield make
    for host in hosts:
        if host.process.poll() is None:
            host.stop()


@pytest.fixture(scope="module")
def quiet_app(azurite, tmp_path_factory):
    """An app of its own (own table and queue), for tests that count rows and messages."""
    host = AppHost(azurite, tmp_path_factory.mktemp("quiet") / "host.log")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def events_app(azurite, tmp_path_factory):
    """An app of its own for event subscriptions, so that no other test's operations notify them."""
    host = AppHost(azurite, tmp_path_factory.mktemp("events") / "host.log")
    yield host
    host.stop()


@pytest.fixture(scope="session")
def keyed_app(azurite, tmp_path_factory):
    """The app with function keys enforced, as in Azure (its key has characters a query string must encode)."""
    host = AppHost(azurite, tmp_path_factory.mktemp("keyed") / "host.log", DEVHOST_FUNCTION_KEY="flow-key-Zx9/+==")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def auth_app(azurite, tmp_path_factory):
    """The app as it runs with App Service Authentication on: principal headers are the platform's."""
    host = AppHost(azurite, tmp_path_factory.mktemp("auth") / "host.log", WEBSITE_AUTH_ENABLED="true")
    host.http.headers.update(principal("ops-monitor", ADMIN_ROLE).headers)  # the helpers read as an admin
    yield host
    host.stop()
