"""The ``context`` argument, as the Python worker builds it from the host's invocation request: the invocation's
id, the function's name and folder, and ``trace_context``, the host's current activity (RpcTraceContext). For an
HTTP request, the host's activity continues the caller's ``traceparent`` (same trace, a span of its own) or
starts a trace; for a queue message or a timer, the host carries no context across, so each invocation starts
a trace of its own."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import _abc  # the abstract classes the worker's own implement

from shared.domain.tracecontext import child_of, parse


class TraceContext(_abc.TraceContext):
    def __init__(self, trace_parent: str, trace_state: str = "") -> None:
        self._parent, self._state = trace_parent, trace_state

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def trace_state(self) -> str:
        return self._state

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class RetryContext(_abc.RetryContext):
    """No retry policy in this app: never a retry."""

    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class Context(func.Context):
    def __init__(self, invocation_id: str, function_name: str, app_dir: Path, caller_traceparent: str | None,
                 caller_tracestate: str = "") -> None:
        caller = parse(caller_traceparent)
        self._id, self._name, self._dir = invocation_id, function_name, str(app_dir / function_name)
        self._trace = TraceContext(child_of(caller).header, caller_tracestate[:512] if caller else "")
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return self._dir

    @property
    def trace_context(self) -> TraceContext:
        return self._trace

    @property
    def retry_context(self) -> RetryContext:
        return RetryContext()

    @property
    def thread_local_storage(self) -> Any:
        return self._local
