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


def test_a_function_with_a_context_gets_the_invocation_and_its_trace_as_the_worker_passes_them(tmp_path):
    invoker = Invoker(max_workers=1, app_dir=tmp_path)
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    def traced(value, context):
        trace = context.trace_context
        return context.function_name, context.invocation_id, trace.trace_parent, trace.trace_state

    try:
        name, invocation, parent, state = invoker.invoke(_spec(traced), 1, reason="test", traceparent=caller,
                                                         tracestate="congo=t61rcWkgMzE")
        assert (name, state) == ("traced", "congo=t61rcWkgMzE") and invocation
        assert parent.split("-")[1] == caller.split("-")[1] and parent != caller  # its own span, the caller's trace
        fresh = [invoker.invoke(_spec(traced), 1, reason="test")[2] for _ in range(2)]  # a queue message: no caller
        assert len({f.split("-")[1] for f in fresh}) == 2  # a new trace each time
        junk = invoker.invoke(_spec(traced), 1, reason="test", traceparent="00-" + "x" * 10_000)
        assert junk[2].split("-")[1] != "x" * 32 and junk[3] == ""  # not valid: a new trace, nothing echoed
    finally:
        invoker.shutdown(1)
