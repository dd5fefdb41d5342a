"""The same rows as Dataverse's System Job table shows them: ``asyncoperations``.

One engine, more doors: every operation is also an ``asyncoperation``, under AsyncOperation's
column names (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/asyncoperation).
"""

from __future__ import annotations

from typing import Any

from ..domain.errors import InvalidRequest
from ..domain.lines import shown_token
from ..domain.operation import Operation
from ..domain.recurrence import run_times
from .views import KEY, iso

ENTITY_TYPE, ENTITY_SET = "asyncoperation", "asyncoperations"
ASYNC_KEY = "asyncoperationid"
EXECUTE_ASYNC_REQUEST = 54  # OperationType "Execute Async Request": what every row of this app is

COLUMN_TYPES: dict[str, str] = {
    ASYNC_KEY: "Edm.Guid",
    "name": "Edm.String",
    "operationtype": "Edm.Int32",
    "statecode": "Edm.Int32",
    "statuscode": "Edm.Int32",
    "postponeuntil": "Edm.DateTimeOffset",
    "recurrencepattern": "Edm.String",
    "recurrencestarttime": "Edm.DateTimeOffset",
    "dependencytoken": "Edm.String",
    "message": "Edm.String",
    "friendlymessage": "Edm.String",
    "errorcode": "Edm.Int32",
    "retrycount": "Edm.Int32",
    "createdon": "Edm.DateTimeOffset",
    "startedon": "Edm.DateTimeOffset",
    "completedon": "Edm.DateTimeOffset",
    "modifiedon": "Edm.DateTimeOffset",
    "executiontimespan": "Edm.Double",
}
COLUMNS = tuple(COLUMN_TYPES)
NOT_NULL = (ASYNC_KEY, "name", "operationtype", "statecode", "statuscode", "createdon", "executiontimespan")
# The columns $filter may name, and the logical columns rows store them under.
FILTERS = {ASYNC_KEY: KEY, "statecode": "backgroundoperationstatecode",
           "statuscode": "backgroundoperationstatuscode", "name": "name", "createdon": "createdon"}
# What a PATCH may change (in Dataverse, only these), and the names the row's own PATCH takes them by.
WRITABLE = {"statecode": "backgroundoperationstatecode", "statuscode": "backgroundoperationstatuscode",
            "postponeuntil": "postponeuntil"}


def entity(op: Operation, select: tuple[str, ...] = COLUMNS) -> dict[str, Any]:
    """The row as a System Job, with its ``@odata.etag``; ``executiontimespan`` in seconds."""
    started, ended = run_times(op)
    ran = (ended - started).total_seconds() if started and ended else 0.0
    values = {
        ASYNC_KEY: op.id, "name": op.name, "operationtype": EXECUTE_ASYNC_REQUEST,
        "statecode": op.status.state.value, "statuscode": op.status.value, "postponeuntil": iso(op.postponeuntil),
        "recurrencepattern": op.recurrencepattern or None,
        "recurrencestarttime": iso(op.recurrencestarttime),
        "dependencytoken": shown_token(op.concurrencykey),
        "message": op.errormessage, "friendlymessage": op.errormessage, "errorcode": op.errorcode,
        "retrycount": op.retrycount, "createdon": iso(op.createdon), "startedon": iso(started),
        "completedon": iso(ended), "modifiedon": iso(op.modifiedon), "executiontimespan": round(ran, 2),
    }
    return {"@odata.etag": op.version_tag} | {column: values[column] for column in select}


def row_change(body: Any) -> Any:
    """A PATCH body under AsyncOperation's names, as the row's own PATCH takes it; InvalidRequest naming
    any attribute callers may not change (in Dataverse, statecode, statuscode and postponeuntil only)."""
    if not isinstance(body, dict):
        return body
    read_only = sorted(name for name in body if not name.startswith("@") and name not in WRITABLE)
    if read_only:
        raise InvalidRequest(f"{', '.join(repr(n[:64]) for n in read_only[:5])} cannot be changed on a system job; "
                             f"only {', '.join(WRITABLE)} can.")
    return {WRITABLE.get(name, name): value for name, value in body.items()}
