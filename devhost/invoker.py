"""Run user functions the way the Python worker does.

Synchronous functions run in a shared thread pool (the worker's
PYTHON_THREADPOOL_THREAD_COUNT, default min(32, cpu + 4)); ``async def``
functions run on one event loop in its own thread. Arguments are bound by
parameter name: the trigger, ``context``, and ``func.Out`` for queue outputs,
which are sent only after the function succeeded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import _abc as functions_abc

from . import storage
from .app_loader import FunctionSpec

log = logging.getLogger("devhost.invoker")


class Out(func.Out):
    """Holder for an output binding value."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class _TraceContext(functions_abc.TraceContext):
    trace_parent = property(lambda self: "")
    trace_state = property(lambda self: "")
    attributes = property(lambda self: {})


class _RetryContext(functions_abc.RetryContext):
    retry_count = property(lambda self: 0)
    max_retry_count = property(lambda self: 0)
    exception = property(lambda self: None)


class Context(func.Context):
    """The ``context`` argument: invocation id, function name and directory."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str):
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._local = threading.local()
        self._local.invocation_id = invocation_id

    invocation_id = property(lambda self: self._invocation_id)
    function_name = property(lambda self: self._function_name)
    function_directory = property(lambda self: self._function_directory)
    thread_local_storage = property(lambda self: self._local)
    trace_context = property(lambda self: _TraceContext())
    retry_context = property(lambda self: _RetryContext())



class Invoker:
    """Calls user functions and flushes their queue outputs."""

    def __init__(self, app_dir: Path, queue_clients: storage.QueueClients,
                 message_encoding: str = "base64", max_workers: int | None = None):
        self._app_dir = str(app_dir)
        self._queues = queue_clients
        self._encoding = message_encoding
        self._pool = ThreadPoolExecutor(max_workers or min(32, (os.cpu_count() or 1) + 4),
                                        thread_name_prefix="devhost-function")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever,
                                             name="devhost-asyncio", daemon=True)
        self._loop_thread.start()
        self._lock = threading.Lock()
        self._running: set[futures.Future] = set()

    def invoke(self, spec: FunctionSpec, trigger_value: Any, *, reason: str,
               quiet: bool = False) -> Any:
        """Run ``spec`` with ``trigger_value``; return its result or raise its
        exception. ``quiet`` logs the Executing/Executed lines at DEBUG only
        (HTTP requests get their own one-line log)."""
        invocation_id = str(uuid.uuid4())
        level = logging.DEBUG if quiet else logging.INFO
        log.log(level, "Executing 'Functions.%s' (Reason='%s', Id=%s)",
                spec.name, reason, invocation_id)
        started = time.monotonic()
        outputs = {name: Out() for name in spec.queue_outputs if name != "$return"}
        kwargs = self._arguments(spec, trigger_value, invocation_id, outputs)
        try:
            if spec.is_async:
                future = asyncio.run_coroutine_threadsafe(spec.func(**kwargs), self._loop)
            else:
                future = self._pool.submit(spec.func, **kwargs)
            with self._lock:
                self._running.add(future)
            try:
                result = future.result()
            finally:
                with self._lock:
                    self._running.discard(future)
            self._flush_outputs(spec, outputs, result)
        except Exception:
            log.exception("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)",
                          spec.name, invocation_id, (time.monotonic() - started) * 1000)
            raise
        log.log(level, "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                spec.name, invocation_id, (time.monotonic() - started) * 1000)
        return result

    def _arguments(self, spec: FunctionSpec, trigger_value: Any, invocation_id: str,
                   outputs: dict[str, Out]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name in spec.parameters:
            if name == spec.trigger_param:
                kwargs[name] = trigger_value
            elif name in outputs:
                kwargs[name] = outputs[name]
            elif name == "context":
                kwargs[name] = Context(invocation_id, spec.name, self._app_dir)
        return kwargs

    def _flush_outputs(self, spec: FunctionSpec, outputs: dict[str, Out], result: Any) -> None:
        values = {name: out.get() for name, out in outputs.items()}
        if "$return" in spec.queue_outputs:
            values["$return"] = result
        for name, value in values.items():
            if value is None:
                continue
            binding = spec.queue_outputs[name]
            client = self._queues.queue(binding.connection, binding.queue_name.lower())
            for item in value if isinstance(value, (list, tuple)) else [value]:
                body = item.get_body() if isinstance(item, func.QueueMessage) else item
                storage.send_raw(client, storage.encode_message(body, self._encoding))

    def shutdown(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for running functions, then let go
        (a Python thread cannot be cancelled; the process exit ends it)."""
        with self._lock:
            running = list(self._running)
        futures.wait(running, timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
