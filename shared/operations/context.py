"""What a running handler can see and do besides its inputs (SPEC §5)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..domain.errors import NonRetryableError, OperationInterrupted
from ..domain.states import Status
from ..storage.ports import Comparison, ListQuery, Page


class OperationContext:
    """Passed to every handler with its inputs.

    ``cancel_requested`` / ``pause_requested`` look at the operation's row (at
    most once a second, so a handler may ask in a tight loop); a handler that
    sees one should stop early by calling ``raise_if_interrupted()``. An attempt
    has a time limit: ``seconds_left`` says how much of it is left, and once it
    is up the attempt has already ended (as a failure, retried) and
    ``raise_if_interrupted()`` stops the handler too.
    """

    def __init__(self, *, operation_id: str = "", attempt: int = 1, runas: str = "",
                 status: Callable[[], Status] = lambda: Status.IN_PROGRESS,
                 progress: Callable[[int, str], None] = lambda percent, message: None,
                 table_service: Any = None, own_tables: frozenset[str] = frozenset(),
                 post_json: Callable[[str, Any], int] | None = None, deadline: float | None = None,
                 list_operations: Callable[[ListQuery], Page] | None = None) -> None:
        self.operation_id = operation_id
        self.attempt = attempt
        self.runas = runas
        self.table_service = table_service  # the app's storage account, for handlers that read tables
        self._own_tables = frozenset(name.lower() for name in own_tables)
        self._status = status
        self._progress = progress
        self._post_json = post_json
        self._list_operations = list_operations
        self.deadline = deadline  # time.monotonic() when the attempt's time is up; None: no limit

    @property
    def seconds_left(self) -> float | None:
        """Seconds until this attempt's time limit (0 once it is up); None when it has none."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    @property
    def time_is_up(self) -> bool:
        """True once this attempt has run out of time (its outcome no longer counts)."""
        return self.seconds_left == 0.0

    def table(self, name: str) -> Any:
        """A client for table ``name`` of the app's account; never one of the app's own tables (its rows hold
        every caller's inputs and callback URLs): NonRetryableError for those."""
        if name.lower() in self._own_tables:
            raise NonRetryableError(f"The table '{name}' holds this app's own records; operations may not read it.")
        return self.table_service.get_table_client(name)

    def post_json(self, url: str, payload: Any) -> int:
        """POST ``payload`` as JSON to ``url``, by the rules callbacks follow: a public address (or one in
        BGOPS_CALLBACK_ALLOWED_HOSTS), no redirects. Returns the status code; NonRetryableError for a URL
        those rules refuse, the connection's own error otherwise."""
        if self._post_json is None:
            raise NonRetryableError("This context cannot send HTTP requests.")
        return self._post_json(url, payload)

    def list_operations(self, *, where: tuple[Comparison, ...] = (), top: int = 50,
                        after: str | None = None) -> Page:
        """A page of the operations this one's caller could list through the API, newest first, and the id
        to continue ``after`` (``Page.next_after``) when there are more. ``where`` compares logical columns
        (``modifiedon ge <datetime>``); whose rows they are is not the handler's to choose: with App Service
        Authentication only those submitted as ``runas``, without it everyone's. NonRetryableError when
        this context cannot list, or its caller may list nothing."""
        if self._list_operations is None:
            raise NonRetryableError("This context cannot list operations.")
        return self._list_operations(ListQuery(where=where, top=top, after=after))

    @property
    def cancel_requested(self) -> bool:
        """True once a caller asked to cancel this operation."""
        return self._status() is Status.CANCELING

    @property
    def pause_requested(self) -> bool:
        """True once a caller asked to pause this operation."""
        return self._status() is Status.PAUSING

    def raise_if_interrupted(self) -> None:
        """Stop here (raise OperationInterrupted) if a cancel or a pause was asked, or the time is up."""
        if self.time_is_up or self._status() in (Status.CANCELING, Status.PAUSING):
            raise OperationInterrupted()

    def report_progress(self, percent: float, message: str = "") -> None:
        """Record how far the work is (0-100) and what it is doing; shown on the row."""
        self._progress(max(0, min(100, int(percent))), message[:200])
