"""The asyncio client: ``AsyncClient`` and its ``AsyncOperation`` handles, the same calls as ``client`` awaited."""

from __future__ import annotations

import asyncio
import builtins
import inspect
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx

from . import _flows as flows
from .client import KEY_HEADER, Connection, TokenCredential, _unreachable, outputs_of
from .errors import ConnectionFailed
from .models import OperationInfo, Status

T = TypeVar("T")


class AsyncClient(Connection):
    """``Client``, for asyncio: the same arguments; ``credential`` may be azure-identity's sync or ``aio`` one."""

    def __init__(self, base_url: str, *, key: str | None = None, credential: TokenCredential | Any = None,
                 scope: str | None = None, timeout: float = 30.0, retries: int = 3,
                 http: httpx.AsyncClient | None = None) -> None:
        super().__init__(base_url, key, credential, scope, timeout, retries)
        self._http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def run(self, flow: flows.Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, flows.Pause):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    response = await self._http.request(step.method, step.url,
                                                        headers={**(await self._auth()), **step.headers},
                                                        json=step.json, params=step.params,
                                                        timeout=step.timeout or self._timeout)
                except httpx.TransportError as e:
                    step = flow.throw(ConnectionFailed(_unreachable(step.url, e)))
                    continue
                step = flow.send(response)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _auth(self) -> dict[str, str]:
        if self._credential is not None:
            token = self._credential.get_token(str(self._scope))
            token = await token if inspect.isawaitable(token) else token
            return {"Authorization": f"Bearer {token.token}"}
        return {KEY_HEADER: self._key} if self._key else {}

    async def submit(self, name: str, inputs: Mapping[str, Any] | None = None, *, callback_url: str | None = None,
                     idempotency_key: str | None = None, postpone_until: datetime | None = None,
                     ttl_seconds: int | None = None) -> AsyncOperation:
        operation_id, location = await self.run(flows.submit(
            self.api, name, inputs, callback_url=callback_url, idempotency_key=idempotency_key,
            postpone_until=postpone_until, ttl_seconds=ttl_seconds))
        return AsyncOperation(self, operation_id, location)

    def operation(self, operation_id: str) -> AsyncOperation:
        return AsyncOperation(self, operation_id, self.api.url(f"backgroundoperation/{operation_id}"))

    async def list(self, *, filter: str | None = None, status: str | int | None = None, name: str | None = None,
                   page_size: int = 50) -> AsyncIterator[Status]:
        query, url = flows.list_query(filter, status, name), None
        while True:
            rows, url = await self.run(flows.page(self.api, url, query, page_size))
            for row in rows:
                yield row
            if url is None:
                return

    async def operations(self) -> builtins.list[OperationInfo]:
        return await self.run(flows.catalog(self.api))

    async def definition(self, name: str) -> OperationInfo:
        return await self.run(flows.definition(self.api, name))


class AsyncOperation:
    """``Operation``, for asyncio."""

    def __init__(self, client: AsyncClient, operation_id: str, location: str) -> None:
        self.client, self.id, self.location = client, operation_id, location

    def __repr__(self) -> str:
        return f"AsyncOperation({self.id!r})"

    async def status(self) -> Status:
        return await self.client.run(flows.status(self.client.api, self.id))

    async def wait(self, timeout: float | None = None) -> Status:
        return await self.client.run(flows.wait(self.client.api, self.id, self.location, timeout))

    async def result(self, timeout: float | None = None) -> dict[str, Any]:
        return outputs_of(await self.wait(timeout))

    async def cancel(self) -> None:
        await self.client.run(flows.cancel(self.client.api, self.id))

    async def pause(self) -> None:
        await self.client.run(flows.change(self.client.api, self.id, 1))

    async def resume(self) -> None:
        await self.client.run(flows.change(self.client.api, self.id, 0))
