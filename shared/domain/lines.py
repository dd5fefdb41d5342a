"""One at a time: operations that share a concurrency key run strictly one after another, in the order
they became ready (ExecuteAsync's "one message running asynchronously ... for each organization").

A key is a *line*. An operation holds a place in its line while it is Ready or Locked; it takes a
*ticket* when it becomes Ready (submitted, resumed, or its postponement over) and gives it up when it
is paused, postponed or finished. A line's tickets sort in the order they were taken (where they are
stored: ``storage.keys``): the operation whose ticket is first runs, the others wait without a message
polling for them (see ``services.lines``). The row names its ticket
(``lineticket``), so a ticket whose row no longer holds it is *stale*, and whoever finds it deletes it.

Pure: the keys, the tickets' names and who holds a place. Storage is ``storage.ports.Lines``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .errors import InvalidRequest
from .ids import owner_key
from .states import Status

ORGANIZATION = "organization"  # the line every ExecuteAsync job joins unless it names another, as in Dataverse
MAX_TOKEN_CHARS = 256  # AsyncOperation.DependencyToken's maximum length
HOLDING = frozenset({Status.WAITING_FOR_RESOURCES, Status.IN_PROGRESS, Status.PAUSING, Status.CANCELING})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TOKEN_KIND, _OPERATION_KIND = "caller", "operation"


def holds_place(status: Status) -> bool:
    """True while an operation in this status keeps its place in its line (Ready or Locked)."""
    return status in HOLDING


def caller_key(token: object, runas: str) -> str:
    """The line of a caller's ``DependencyToken``: its own (two callers' same token are two lines)."""
    if not isinstance(token, str) or not token.strip() or len(token) > MAX_TOKEN_CHARS:
        raise InvalidRequest(f"DependencyToken must be a non-empty string of at most {MAX_TOKEN_CHARS} characters.")
    return f"{_TOKEN_KIND}:{owner_key(runas) if runas else '-'}:{token}"


def operation_key(key: str) -> str:
    """The line an operation declares for itself in the registry."""
    return f"{_OPERATION_KIND}:{key}"


def shown_token(key: str) -> str | None:
    """What ``dependencytoken`` shows for a line: the caller's own token, else the key (None: no line)."""
    if not key:
        return None
    kind, _, rest = key.partition(":")
    return rest.partition(":")[2] if kind == _TOKEN_KIND else rest if kind == _OPERATION_KIND else key



def ticket(operation_id: str, now: datetime, position: int = 0) -> str:
    """A ticket's RowKey: when it was taken (ms), then its position among those taken in one request,
    then the operation id. Tickets sort in the order they were taken."""
    ms = (now - _EPOCH) // timedelta(milliseconds=1)
    return f"{ms:012x}{position:04x}-{operation_id}"


def ticket_operation(ticket_key: str) -> str:
    """The operation a ticket belongs to."""
    return ticket_key[-36:]
