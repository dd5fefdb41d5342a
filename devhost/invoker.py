"""Run functions as the Python worker runs them: synchronous ones in a shared thread pool
(PYTHON_THREADPOOL_THREAD_COUNT, default min(32, cpu + 4)), ``async def`` ones on one event loop (the worker's
own), so that they never wait for a thread of that pool; the trigger bound by its parameter's name."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import threading
import time
import uuid
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .app_loader import CONTEXT, FunctionSpec
from .context import Context

log = logging.getLogger("devhost.invoker")


class Invoker:
    """Calls user functions in the worker's thread pool."""

    def __init__(self, max_workers: int | None = None, app_dir: Path = Path(".")):
        self.app_dir = app_dir
        self._pool = ThreadPoolExecutor(max_workers or min(32, (os.cpu_count() or 1) + 4),
                                        thread_name_prefix="devhost-function")
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="devhost-event-loop", daemon=True).start()
        self._lock = threading.Lock()
        self._running: set[futures.Future[Any]] = set()

    def invoke(self, spec: FunctionSpec, trigger_value: Any, *, reason: str, quiet: bool = False,
               traceparent: str | None = None, tracestate: str = "") -> Any:
        """Run ``spec`` with ``trigger_value`` (and its ``context``, in the trace of the caller's ``traceparent``
        or a new one): its result, or its exception raised. ``quiet``: the Executing and Executed lines at DEBUG
        only (HTTP requests get a line of their own)."""
        invocation_id, level = str(uuid.uuid4()), logging.DEBUG if quiet else logging.INFO
        log.log(level, "Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        started, arguments = time.monotonic(), {spec.trigger_param: trigger_value}
        if spec.takes_context:
            arguments[CONTEXT] = Context(invocation_id, spec.name, self.app_dir, traceparent, tracestate)
        future = asyncio.run_coroutine_threadsafe(spec.func(**arguments), self._loop) \
            if inspect.iscoroutinefunction(spec.func) else self._pool.submit(spec.func, **arguments)
        with self._lock:
            self._running.add(future)
        try:
            result = future.result()
        except Exception:
            log.exception("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)",
                          spec.name, invocation_id, (time.monotonic() - started) * 1000)
            raise
        finally:
            with self._lock:
                self._running.discard(future)
        log.log(level, "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                spec.name, invocation_id, (time.monotonic() - started) * 1000)
        return result

    def shutdown(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for running functions, then let go (a thread cannot be cancelled: the
        process's exit ends it)."""
        with self._lock:
            running = list(self._running)
        futures.wait(running, timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
