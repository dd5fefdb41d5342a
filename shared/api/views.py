"""JSON shapes of operations in responses (SPEC §3)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..domain.callbacks import status_body
from ..domain.operation import Operation, to_key_values
from ..domain.states import STATE_LABELS, Status

COLUMNS = (
    "backgroundoperationid", "name", "displayname", "backgroundoperationstatecode",
    "backgroundoperationstatuscode", "inputparameters", "outputparameters", "starttime", "endtime",
    "retrycount", "errorcode", "errormessage", "runas", "createdon", "modifiedon", "ttlinseconds",
    "postponeuntil",
)
# Not in Dataverse's table; returned only when $select names them.
EXTRA_COLUMNS = ("progresspercent", "progressmessage")
SELECTABLE = COLUMNS + EXTRA_COLUMNS
FORMATTED = "@OData.Community.Display.V1.FormattedValue"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, as Dataverse writes times."""
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def entity(op: Operation, select: tuple[str, ...] = COLUMNS) -> dict[str, Any]:
    """The row under its logical column names. The callback URL is never among them."""
    values = {
        "backgroundoperationid": op.id,
        "name": op.name,
        "displayname": op.displayname,
        "backgroundoperationstatecode": op.status.state.value,
        "backgroundoperationstatuscode": op.status.value,
        "inputparameters": to_key_values(op.inputs),
        "outputparameters": None if op.outputs is None else to_key_values(op.outputs),
        "starttime": iso(op.starttime),
        "endtime": iso(op.endtime),
        "retrycount": op.retrycount,
        "errorcode": op.errorcode,
        "errormessage": op.errormessage,
        "runas": op.runas,
        "createdon": iso(op.createdon),
        "modifiedon": iso(op.modifiedon),
        "ttlinseconds": op.ttlinseconds,
        "postponeuntil": iso(op.postponeuntil),
        "progresspercent": op.progresspercent,
        "progressmessage": op.progressmessage,
    }
    return {column: values[column] for column in select}


def accepted(op: Operation, location: str) -> dict[str, Any]:
    """The 202 body of a submission, with the formatted labels Dataverse adds."""
    body = status_body(op, location)
    body["backgroundOperationStateCode" + FORMATTED] = STATE_LABELS[op.status.state]
    body["backgroundOperationStatusCode" + FORMATTED] = op.status.label
    return body


def monitor(op: Operation, location: str) -> dict[str, Any]:
    """The status monitor body: codes, the error on failure, outputs flattened on success."""
    body = status_body(op, location)
    if op.status is Status.SUCCEEDED:
        body.update({k: v for k, v in (op.outputs or {}).items() if k not in body})
    return body
