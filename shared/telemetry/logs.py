"""Log lines that join their operation: while an operation's work runs (``operation``), every record any logger
makes carries ``bgops.operation.id``, ``bgops.operation.name`` and ``bgops.attempt`` as attributes (custom
dimensions in Application Insights), and, once an SDK is on, the trace and span ids of the current span. Never
a secret: only these ids and the operation's registered name."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_SCOPE: ContextVar[dict[str, Any] | None] = ContextVar("bgops_log_scope", default=None)
_installed = False


def install() -> None:
    """Make every log record carry the current operation's attributes (once per process)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = make(*args, **kwargs)
        for name, value in (_SCOPE.get() or {}).items():
            setattr(made, name, value)
        return made

    logging.setLogRecordFactory(record)
    _installed = True


@contextmanager
def operation(operation_id: str, name: str, attempt: int | None = None) -> Iterator[None]:
    """The attributes of the operation whose work the block does."""
    scope: dict[str, Any] = {"bgops.operation.id": operation_id, "bgops.operation.name": name}
    if attempt is not None:
        scope["bgops.attempt"] = attempt
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
