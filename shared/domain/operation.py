"""The background operation row, as a frozen value, and the changes events make to it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from .states import Event, Status, transition


class CallbackState(str, Enum):
    """Where delivery of the completion callback stands."""

    NONE = ""  # no callback URL, or not finished yet
    PENDING = "pending"  # finished; nobody has started delivering
    SENDING = "sending"  # a worker claimed delivery (callbackclaimedon says when)
    DELIVERED = "delivered"
    FAILED = "failed"  # every delivery attempt failed


# Where the completion event stands: owed (written with the terminal state when a
# subscriber matched), then published (its messages are on the events queue).
EVENTS_OWED, EVENTS_PUBLISHED = "owed", "published"


@dataclass(frozen=True)
class Operation:
    """One row of the background operations table.

    ``callbackurl`` is a secret (a SAS URL): it is excluded from ``repr`` and
    never leaves the storage adapter except to be POSTed to.
    """

    id: str
    name: str
    displayname: str
    status: Status
    inputs: dict[str, Any]
    createdon: datetime
    modifiedon: datetime
    ttlinseconds: int
    runas: str = ""
    outputs: dict[str, Any] | None = None
    starttime: datetime | None = None
    endtime: datetime | None = None
    retrycount: int = 0
    errorcode: int | None = None
    errormessage: str | None = None
    postponeuntil: datetime | None = None
    callbackurl: str | None = field(default=None, repr=False)
    callbackstate: CallbackState = CallbackState.NONE
    callbackclaimedon: datetime | None = None
    callbackresult: str = ""
    messageid: str = ""  # the queue message that owns the current attempt
    baseurl: str = ""  # scheme://host the caller submitted to, for the Location in callbacks
    traceparent: str = ""  # its trace (domain.tracecontext): where its submit sits in it, as a W3C traceparent
    progresspercent: int | None = None
    progressmessage: str = ""
    eventsstate: str = ""  # "", EVENTS_OWED or EVENTS_PUBLISHED
    recurrencepattern: str = ""  # a recurring job's RRULE (domain.recurrence); "" for a one-off
    recurrencestarttime: datetime | None = None
    recentruns: str = ""  # a recurring job's last runs, JSON: [{outcome, startedon, completedon, errorcode}]
    attempts: str = ""  # each attempt of this run, JSON (domain.history): start, end, outcome, error
    concurrencykey: str = ""  # the line it runs one at a time in (domain.lines); "" for none
    lineticket: str = ""  # its ticket in that line while it holds a place there
    idempotencykey: str = ""  # the hash of its caller and its Idempotency-Key (domain.idempotency); "" for none
    requestfingerprint: str = ""  # with a key: the fingerprint of the request that made it
    versionnumber: int = 0  # counts writes (the store sets it): callers' ETags are made of it, as Dataverse's
    damaged: str = ""  # not stored: why the stored row could not be read whole (its parameters), if it could not
    etag: str | None = field(default=None, compare=False)

    @property
    def is_terminal(self) -> bool:
        """True once the operation is Completed (Succeeded, Failed or Canceled)."""
        return self.status.is_terminal

    @property
    def version_tag(self) -> str:
        """The ETag callers see and send back in If-Match: Dataverse's ``W/"<versionnumber>"``. Not the
        storage ETag, which differs between the row and its owner's copy (``domain.ids``)."""
        return f'W/"{self.versionnumber}"'

    @property
    def expires_at(self) -> datetime:
        """When a finished row may be purged: its time to live after it was created, or, for a recurring
        job, after its last run."""
        counted_from = self.endtime if self.recurrencepattern and self.endtime else self.createdon
        return counted_from + timedelta(seconds=self.ttlinseconds)

    def apply(self, event: Event, now: datetime, **changes: Any) -> Operation:
        """The row after ``event``: new status, timestamps, plus ``changes``.

        A row this makes terminal owes its callback (PENDING) when it has a URL.
        Raises TransitionRefused when SPEC §2 does not allow the event.
        """
        status = transition(self.status, event)
        stamp: dict[str, Any] = {"status": status, "modifiedon": now}
        if event is Event.RESUME:  # back to Ready: no longer postponed, and no message owns it yet
            stamp |= {"postponeuntil": None, "messageid": ""}
        if event is Event.RECUR:  # a run of a recurring job ended: the next one's attempts start afresh
            stamp["attempts"] = ""
        if status.is_terminal:
            stamp["endtime"] = now
            if self.callbackurl:
                stamp["callbackstate"] = CallbackState.PENDING
        return dataclasses.replace(self, **{**stamp, **changes})

    def conclude(self, event: Event, now: datetime, **changes: Any) -> Operation:
        """``apply`` by the worker that ran the attempt: if it ends the operation, that worker
        also claims the callback (SENDING) and delivers it right after the write."""
        new = self.apply(event, now, **changes)
        if new.is_terminal and new.callbackurl:
            new = dataclasses.replace(new, callbackstate=CallbackState.SENDING, callbackclaimedon=now)
        return new

    def with_changes(self, **changes: Any) -> Operation:
        """The row with plain column changes (no state change)."""
        return dataclasses.replace(self, **changes)


def to_key_values(values: dict[str, Any] | None) -> str:
    """Dataverse's form of input/output parameters: a JSON array of Key/Value pairs."""
    pairs = [{"Key": k, "Value": v} for k, v in (values or {}).items()]
    return json.dumps(pairs, separators=(",", ":"), allow_nan=False)  # NaN is not JSON


def from_key_values(text: str | None) -> dict[str, Any]:
    """The inverse of ``to_key_values``."""
    return {pair["Key"]: pair["Value"] for pair in json.loads(text)} if text else {}
