"""The invoker runs functions as the Python worker does: synchronous ones in one shared thread pool,
``async def`` ones on the event loop, where a full pool cannot hold them up."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from devhost.app_loader import FunctionSpec
from devhost.invoker import Invoker


def _spec(func) -> FunctionSpec:
    return FunctionSpec(name=func.__name__, trigger_type="queueTrigger", trigger=SimpleNamespace(name="value"),
                        func=func)


def test_an_async_function_runs_while_every_thread_of_the_pool_is_busy():
    invoker, release = Invoker(max_workers=2), threading.Event()

    def busy(value):
        release.wait(30)
        return value

    async def quick(value):
        await asyncio.sleep(0)
        return value * 2

    try:
        with ThreadPoolExecutor(3) as callers:
            blocked = [callers.submit(invoker.invoke, _spec(busy), i, reason="test") for i in range(2)]
            # Not queued behind the busy pool (were it, this would wait for the release and time out).
            assert callers.submit(invoker.invoke, _spec(quick), 21, reason="test").result(5) == 42
            release.set()
            assert [f.result(10) for f in blocked] == [0, 1]
    finally:
        release.set()
        invoker.shutdown(1)
