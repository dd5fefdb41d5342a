"""What the app answers, as typed values: an operation's ``Status``, and an ``OperationInfo`` from the catalog."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The status codes (backgroundoperationstatuscode), their labels as the app shows them, and the names a caller
# may filter by.
LABELS = {0: "Waiting For Resources", 10: "Waiting", 20: "In Progress", 21: "Pausing", 22: "Canceling",
          30: "Succeeded", 31: "Failed", 32: "Canceled"}
SUCCEEDED, FAILED, CANCELED = 30, 31, 32
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELED})
NAMES = {label.lower().replace(" ", ""): code for code, label in LABELS.items()} | {
    "ready": 0, "suspended": 10, "paused": 10, "running": 20, "locked": 20}
# The row's columns a Status is read from.
COLUMNS = ("backgroundoperationid", "name", "backgroundoperationstatecode", "backgroundoperationstatuscode",
           "inputparameters", "outputparameters", "starttime", "endtime", "retrycount", "errorcode",
           "errormessage", "createdon", "postponeuntil", "progresspercent", "progressmessage")


def status_code(name_or_code: str | int) -> int:
    """A status code from its code or its name (``Succeeded``, ``in progress``, ``failed``...); ValueError
    listing the names otherwise."""
    if isinstance(name_or_code, int) or str(name_or_code).isdigit():
        code = int(name_or_code)
        if code in LABELS:
            return code
    else:
        found = NAMES.get(str(name_or_code).lower().replace(" ", "").replace("-", "").replace("_", ""))
        if found is not None:
            return found
    raise ValueError(f"'{name_or_code}' is not a status: use one of {', '.join(LABELS.values())} (or its code).")


def _time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _pairs(text: str | None) -> dict[str, Any] | None:
    """Dataverse's form of parameters, a JSON array of Key/Value pairs, as a dict."""
    return None if text is None else {pair["Key"]: pair["Value"] for pair in json.loads(text)}


@dataclass(frozen=True)
class Status:
    """Where an operation stands, as its row says."""

    id: str
    name: str
    state_code: int
    status_code: int
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    error_code: int | None = None
    error_message: str | None = None
    progress_percent: int | None = None
    progress_message: str = ""
    retry_count: int = 0
    created_on: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    postpone_until: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Status:
        """From the row resource (``backgroundoperations/{id}``) with ``COLUMNS`` selected."""
        return cls(id=row["backgroundoperationid"], name=row.get("name") or "",
                   state_code=int(row["backgroundoperationstatecode"]),
                   status_code=int(row["backgroundoperationstatuscode"]),
                   inputs=_pairs(row.get("inputparameters")) or {}, outputs=_pairs(row.get("outputparameters")),
                   error_code=row.get("errorcode"), error_message=row.get("errormessage"),
                   progress_percent=row.get("progresspercent"), progress_message=row.get("progressmessage") or "",
                   retry_count=row.get("retrycount") or 0, created_on=_time(row.get("createdon")),
                   start_time=_time(row.get("starttime")), end_time=_time(row.get("endtime")),
                   postpone_until=_time(row.get("postponeuntil")))

    @property
    def label(self) -> str:
        """``Succeeded``, ``In Progress``..."""
        return LABELS.get(self.status_code, str(self.status_code))

    @property
    def finished(self) -> bool:
        """Succeeded, Failed or Canceled."""
        return self.status_code in FINISHED

    @property
    def error_code_hex(self) -> str:
        """The error code as the app writes it, ``0x8004E001``; empty without one."""
        return "" if self.error_code is None else f"0x{self.error_code & 0xFFFFFFFF:08X}"

    def to_json(self) -> dict[str, Any]:
        """A plain JSON object (the command line's ``--json``)."""
        times = {"createdOn": self.created_on, "startTime": self.start_time, "endTime": self.end_time,
                 "postponeUntil": self.postpone_until}
        return {"id": self.id, "name": self.name, "status": self.label, "statusCode": self.status_code,
                "stateCode": self.state_code, "inputs": self.inputs, "outputs": self.outputs,
                "errorCode": self.error_code_hex or None, "errorMessage": self.error_message,
                "progressPercent": self.progress_percent, "progressMessage": self.progress_message or None,
                "retryCount": self.retry_count,
                **{k: v.isoformat() if v else None for k, v in times.items()}}


@dataclass(frozen=True)
class Parameter:
    """One of an operation's inputs or outputs, as the catalog describes it."""

    name: str
    type: str  # string, int, number, bool, datetime, object, array, any
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class OperationInfo:
    """An operation the app can run, from its catalog (``GET operations``)."""

    name: str
    display_name: str
    description: str
    kind: str  # Action or Function
    inputs: tuple[Parameter, ...]
    outputs: tuple[Parameter, ...]

    @classmethod
    def from_catalog(cls, item: dict[str, Any]) -> OperationInfo:
        def parameters(key: str) -> tuple[Parameter, ...]:
            return tuple(Parameter(p["name"], p.get("type", "any"), p.get("description") or "",
                                   bool(p.get("required"))) for p in item.get(key) or ())

        return cls(item["name"], item.get("displayName") or item["name"], item.get("description") or "",
                   item.get("kind") or "Action", parameters("requestParameters"), parameters("responseProperties"))
