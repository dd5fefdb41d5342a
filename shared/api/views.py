"""JSON shapes of operations in responses (SPEC §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..domain.callbacks import status_body
from ..domain.error_codes import UNEXPECTED, as_hex
from ..domain.history import starts
from ..domain.lines import shown_token
from ..domain.operation import Operation, to_key_values
from ..domain.recurrence import run_times
from ..domain.states import STATE_LABELS, Status

# Every column the API shows, with its Edm type for $metadata, in the order rows show them.
COLUMN_TYPES: dict[str, str] = {
    "backgroundoperationid": "Edm.Guid",
    "name": "Edm.String",
    "displayname": "Edm.String",
    "backgroundoperationstatecode": "Edm.Int32",
    "backgroundoperationstatuscode": "Edm.Int32",
    "inputparameters": "Edm.String",
    "outputparameters": "Edm.String",
    "starttime": "Edm.DateTimeOffset",
    "endtime": "Edm.DateTimeOffset",
    "retrycount": "Edm.Int32",
    "errorcode": "Edm.Int32",
    "errormessage": "Edm.String",
    "runas": "Edm.String",
    "createdon": "Edm.DateTimeOffset",
    "modifiedon": "Edm.DateTimeOffset",
    "ttlinseconds": "Edm.Int32",
    "postponeuntil": "Edm.DateTimeOffset",
    "progresspercent": "Edm.Int32",
    "progressmessage": "Edm.String",
    "recurrencepattern": "Edm.String",
    "recentruns": "Edm.String",
    "callbackstate": "Edm.String",
    "attemptstarts": "Edm.String",
    "attempts": "Edm.String",
    "dependencytoken": "Edm.String",
    "waitingbehind": "Edm.Guid",
    "traceparent": "Edm.String",
}
KEY = "backgroundoperationid"
# Not in Dataverse's table; returned only when $select names them.
EXTRA_COLUMNS = ("progresspercent", "progressmessage", "recurrencepattern", "recentruns", "callbackstate",
                 "attemptstarts", "attempts", "dependencytoken", "waitingbehind", "traceparent")
COLUMNS = tuple(c for c in COLUMN_TYPES if c not in EXTRA_COLUMNS)
SELECTABLE = COLUMNS + EXTRA_COLUMNS
FORMATTED = "@OData.Community.Display.V1.FormattedValue"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, as Dataverse writes times."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entity(op: Operation, select: tuple[str, ...] = COLUMNS, *, behind: str | None = None) -> dict[str, Any]:
    """The row under its logical column names, with its ``@odata.etag``. The callback URL is never among them.
    ``behind``: the operation whose turn it is in the line this one waits in (read for a single row only)."""
    started, ended = run_times(op)
    values = {
        "backgroundoperationid": op.id,
        "name": op.name,
        "displayname": op.displayname,
        "backgroundoperationstatecode": op.status.state.value,
        "backgroundoperationstatuscode": op.status.value,
        "inputparameters": to_key_values(op.inputs),
        "outputparameters": None if op.outputs is None else to_key_values(op.outputs),
        "starttime": iso(started),  # or, between a recurring job's runs, its last run's
        "endtime": iso(ended),
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
        "recurrencepattern": op.recurrencepattern or None,
        "recentruns": op.recentruns or None,  # a recurring job's last runs, JSON
        # Where its callback stands (unsent, pending, sending, delivered, failed), never the URL; None without one.
        "callbackstate": op.callbackstate.value or ("unsent" if op.callbackurl else None),
        "attemptstarts": json.dumps(starts(op.attempts), separators=(",", ":")) if op.attempts else None,
        "attempts": op.attempts or None,  # each attempt of this run: start, end, outcome, error, JSON
        "dependencytoken": shown_token(op.concurrencykey),  # the line it runs one at a time in
        "waitingbehind": behind,
        "traceparent": op.traceparent or None,  # its trace (telemetry.spans): where its submit sits in it
    }
    etag = {"@odata.etag": op.version_tag}
    damaged = {"@bgops.damaged": op.damaged} if op.damaged else {}  # an instance annotation OData clients skip
    return etag | damaged | {column: values[column] for column in select}


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


def failure(op: Operation) -> dict[str, Any]:
    """The Dataverse error body for a Failed or Canceled operation (the failure opt-in's 500)."""
    if op.status is Status.CANCELED:
        return {"error": {"code": "OperationCanceled", "message": op.errormessage or "The operation was canceled."}}
    message = op.errormessage or "The operation failed."
    return {"error": {"code": as_hex(op.errorcode or UNEXPECTED), "message": message}}
