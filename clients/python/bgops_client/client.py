"""The synchronous client: ``Client`` and the ``Operation`` handles it gives."""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx

from . import _flows as flows
from .errors import ConnectionFailed, OperationCanceled, OperationFailed
from .models import CANCELED, FAILED, OperationInfo, Status

T = TypeVar("T")
KEY_HEADER = "x-functions-key"


class TokenCredential(Protocol):
    """What azure-identity's credentials are (``DefaultAzureCredential``...): a token for a scope."""

    def get_token(self, *scopes: str) -> Any: ...


def outputs_of(final: Status) -> dict[str, Any]:
    """A finished operation's outputs, or its failure raised (OperationFailed, OperationCanceled)."""
    if final.status_code == FAILED:
        raise OperationFailed(final)
    if final.status_code == CANCELED:
        raise OperationCanceled(final)
    return final.outputs or {}


class Connection:
    """What both clients keep: where the app is (``api``), how a request proves who sends it, and how long one
    may take."""

    def __init__(self, base_url: str, key: str | None, credential: Any, scope: str | None, timeout: float,
                 retries: int) -> None:
        if credential is not None and not scope:
            raise ValueError("A credential needs the scope of the app's registration, api://<client id>/.default.")
        self.api = flows.Api(base_url, retries)
        self._key, self._credential, self._scope, self._timeout = key, credential, scope, timeout


class Client(Connection):
    """The app at ``base_url`` (``https://<app>.azurewebsites.net``). Authenticate with a function ``key``, or,
    behind App Service Authentication, with an Azure Identity ``credential`` and the ``scope`` of the app's
    registration (``api://<client id>/.default``). ``timeout``: seconds for one request (a held one gets its
    wait more). A request that failed for the service's sake (a dropped connection, a 503) is sent again up to
    ``retries`` times; a submit is safe to send again because it carries an Idempotency-Key."""

    def __init__(self, base_url: str, *, key: str | None = None, credential: TokenCredential | None = None,
                 scope: str | None = None, timeout: float = 30.0, retries: int = 3,
                 http: httpx.Client | None = None) -> None:
        super().__init__(base_url, key, credential, scope, timeout, retries)
        self._http = http or httpx.Client(timeout=timeout, follow_redirects=False)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def run(self, flow: flows.Flow[T]) -> T:
        """Carry a flow out: send its requests, make its pauses."""
        try:
            step = next(flow)
            while True:
                if isinstance(step, flows.Pause):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    response = self._http.request(step.method, step.url, headers={**self._auth(), **step.headers},
                                                  json=step.json, params=step.params,
                                                  timeout=step.timeout or self._timeout)
                except httpx.TransportError as e:
                    step = flow.throw(ConnectionFailed(_unreachable(step.url, e)))
                    continue
                step = flow.send(response)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _auth(self) -> dict[str, str]:
        if self._credential is not None:
            return {"Authorization": f"Bearer {self._credential.get_token(str(self._scope)).token}"}
        return {KEY_HEADER: self._key} if self._key else {}

    def submit(self, name: str, inputs: Mapping[str, Any] | None = None, *, callback_url: str | None = None,
               idempotency_key: str | None = None, postpone_until: datetime | None = None,
               ttl_seconds: int | None = None) -> Operation:
        """Run operation ``name`` in the background; its handle. Sent again with the same ``idempotency_key``
        (one is made when none is given), the app answers the operation it first made."""
        operation_id, location = self.run(flows.submit(
            self.api, name, inputs, callback_url=callback_url, idempotency_key=idempotency_key,
            postpone_until=postpone_until, ttl_seconds=ttl_seconds))
        return Operation(self, operation_id, location)

    def operation(self, operation_id: str) -> Operation:
        """The handle of an operation submitted before."""
        return Operation(self, operation_id, self.api.url(f"backgroundoperation/{operation_id}"))

    def list(self, *, filter: str | None = None, status: str | int | None = None, name: str | None = None,
             page_size: int = 50) -> Iterator[Status]:
        """Operations newest first, page by page as they are read: ``filter`` is an OData $filter over the row's
        columns; ``status`` a status name or code; ``name`` an operation's name."""
        query, url = flows.list_query(filter, status, name), None
        while True:
            rows, url = self.run(flows.page(self.api, url, query, page_size))
            yield from rows
            if url is None:
                return

    def operations(self) -> builtins.list[OperationInfo]:
        """The operations the app can run (its catalog)."""
        return self.run(flows.catalog(self.api))

    def definition(self, name: str) -> OperationInfo:
        """One operation of the catalog; NotFound when the app has none of that name."""
        return self.run(flows.definition(self.api, name))


class Operation:
    """One operation: its ``id`` and status URL (``location``)."""

    def __init__(self, client: Client, operation_id: str, location: str) -> None:
        self.client, self.id, self.location = client, operation_id, location

    def __repr__(self) -> str:
        return f"Operation({self.id!r})"

    def status(self) -> Status:
        """Where it stands now (its row)."""
        return self.client.run(flows.status(self.client.api, self.id))

    def wait(self, timeout: float | None = None) -> Status:
        """Its status once it has finished, however it ended; WaitTimedOut after ``timeout`` seconds."""
        return self.client.run(flows.wait(self.client.api, self.id, self.location, timeout))

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Its outputs once it has succeeded; OperationFailed or OperationCanceled (with the error code and
        message) if it did not; WaitTimedOut after ``timeout`` seconds."""
        return outputs_of(self.wait(timeout))

    def cancel(self) -> None:
        """Ask for it to stop: at once if it has not started, at its next check if it runs."""
        self.client.run(flows.cancel(self.client.api, self.id))

    def pause(self) -> None:
        self.client.run(flows.change(self.client.api, self.id, 1))

    def resume(self) -> None:
        self.client.run(flows.change(self.client.api, self.id, 0))


def _unreachable(url: str, error: Exception) -> str:
    host = httpx.URL(url).copy_with(path="/", query=None)
    return f"Could not reach {host} ({type(error).__name__}): is the app running, and is the URL right?"
