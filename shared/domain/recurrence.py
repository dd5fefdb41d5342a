"""Recurring jobs (Dataverse's RecurrencePattern and RecurrenceStartTime).

A pattern is an RFC 5545 RRULE of these parts only: ``FREQ`` (MINUTELY, HOURLY, DAILY, WEEKLY or
MONTHLY), ``INTERVAL``, ``BYDAY``, ``BYHOUR``, ``COUNT`` and ``UNTIL`` (in UTC, ``...Z``), read
from the start time, in UTC. This module says which parts are allowed; python-dateutil's ``rrule``
reads them and says when the job occurs. Pure.

The start (RecurrenceStartTime, or the submission when there is none) is the first occurrence, as
DTSTART is in RFC 5545, and COUNT counts it: ``FREQ=DAILY;BYHOUR=2`` submitted at 13:05 runs at
13:05, then daily at 02:00. ``BYHOUR`` means on the hour (minute 0, second 0), as "daily at 2"
does, not at the start's minutes and seconds.

After each run the job goes back to Suspended/Waiting with ``postponeuntil`` at its next occurrence
after the run ended (so occurrences missed while the app was down, or while a run ran long, make one
run, not one each), keeping its last ``RUN_HISTORY`` runs; when none comes, the last run's ending is
the job's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from dateutil.rrule import rrule, rruleset, rrulestr

from .errors import InvalidRequest
from .operation import Operation
from .states import Event, Status, transition
from .times import stamp

PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYHOUR", "COUNT", "UNTIL")
FREQUENCIES = ("MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY")
MAX_PATTERN_CHARS = 256  # AsyncOperation.RecurrencePattern's maximum length
MAX_INTERVAL = 1000
START_TOLERANCE = timedelta(minutes=5)  # a start time this far in the past is taken as now (clock skew)
RUN_HISTORY = 10
# A run that ends with one of these recurs (a cancel ends the series: Canceled).
RECURS_AFTER = (Status.SUCCEEDED, Status.FAILED)


@dataclass(frozen=True)
class Recurrence:
    """A checked pattern and the time it counts from."""

    pattern: str
    start: datetime

    @cached_property
    def pattern_rule(self) -> rrule:
        """The pattern's own occurrences from the start, which may not include the start."""
        on_the_hour = ";BYMINUTE=0;BYSECOND=0" if "BYHOUR=" in self.pattern else ""
        found = rrulestr(self.pattern + on_the_hour, dtstart=self.start)
        assert isinstance(found, rrule)  # one RRULE, no RDATE or EXDATE: never a set
        return found

    @cached_property
    def rule(self) -> rrule | rruleset:
        """Every occurrence: the start, then the pattern's (COUNT counting the start)."""
        if self.pattern_rule.after(self.start, inc=True) == self.start:
            return self.pattern_rule
        occurrences = rruleset()
        occurrences.rdate(self.start)
        count = dict(part.split("=", 1) for part in self.pattern.split(";")).get("COUNT")
        if count is None or int(count) > 1:
            occurrences.rrule(self.pattern_rule if count is None else self.pattern_rule.replace(count=int(count) - 1))
        return occurrences

    def first(self) -> datetime:
        """The first occurrence: the start."""
        return self.start

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after ``moment``; None when the series is over."""
        occurrence: datetime | None = self.rule.after(moment)
        return occurrence


def parse_recurrence(pattern: Any, start: datetime | None, now: datetime) -> Recurrence:
    """The recurrence a caller asked for; InvalidRequest saying what to fix."""
    if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidRequest(f"RecurrencePattern must be an RRULE such as 'FREQ=DAILY;INTERVAL=1;BYHOUR=2' of at "
                             f"most {MAX_PATTERN_CHARS} characters.")
    if start is not None and start < now - START_TOLERANCE:
        raise InvalidRequest(f"RecurrenceStartTime {start.isoformat()} is in the past (more than "
                             f"{START_TOLERANCE.seconds // 60} minutes ago); give a time from now on, or leave it out "
                             "to start now.")
    text = _checked_parts(pattern)
    recurrence = Recurrence(text, max(start or now, now - START_TOLERANCE).replace(microsecond=0))
    try:
        occurs = recurrence.pattern_rule.after(recurrence.start, inc=True)
    except (ValueError, TypeError) as e:
        raise InvalidRequest(f"RecurrencePattern '{pattern[:80]}' cannot be read: {e}.") from None
    if occurs is None:
        raise InvalidRequest(f"RecurrencePattern '{pattern[:80]}' never occurs from its start time.")
    return recurrence


def _checked_parts(pattern: str) -> str:
    """The pattern's parts, upper-cased and rejoined, once each is one of PARTS (rrule checks the values)."""
    parts: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in pattern.strip().removeprefix("RRULE:").split(";"))):
        name, _, value = item.partition("=")
        name = name.strip().upper()
        if name not in PARTS or not value.strip() or name in parts:
            raise InvalidRequest(f"RecurrencePattern part '{item[:40]}' is not allowed: use each of "
                                 f"{', '.join(PARTS)} at most once, as NAME=value.")
        parts[name] = value.strip().upper()
    if parts.get("FREQ") not in FREQUENCIES:
        raise InvalidRequest(f"RecurrencePattern needs FREQ, one of {', '.join(FREQUENCIES)}.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidRequest("RecurrencePattern may have COUNT or UNTIL, not both (RFC 5545).")
    for name, top in (("INTERVAL", MAX_INTERVAL), ("COUNT", 100_000)):
        if name in parts and not (parts[name].isdigit() and 1 <= int(parts[name]) <= top):
            raise InvalidRequest(f"RecurrencePattern's {name} must be a whole number from 1 to {top}.")
    return ";".join(f"{name}={value}" for name, value in parts.items())


def recurrence_of(op: Operation) -> Recurrence | None:
    """The row's recurrence, if it recurs."""
    if not op.recurrencepattern or op.recurrencestarttime is None:
        return None
    return Recurrence(op.recurrencepattern, op.recurrencestarttime)


def end_run(row: Operation, event: Event, now: datetime, **changes: Any) -> Operation:
    """The row after ``event`` ends a run: for a recurring job with an occurrence to come, back to
    Suspended/Waiting until then (RECUR); otherwise ``row.conclude(event)``, with the run in the
    history of a recurring one. ``changes`` are the run's outputs or error."""
    recurrence = recurrence_of(row)
    if recurrence is None:
        return row.conclude(event, now, **changes)
    ending = transition(row.status, event)
    runs = with_run(row.recentruns, ending, row.starttime, now, changes.get("errorcode"))
    upcoming = recurrence.next_after(now) if ending in RECURS_AFTER else None
    if upcoming is None:
        return row.conclude(event, now, recentruns=runs, **changes)
    return row.apply(Event.RECUR, now, **changes | {
        "postponeuntil": upcoming, "recentruns": runs, "starttime": None, "retrycount": 0, "messageid": "",
        "progresspercent": None, "progressmessage": ""})


def run_times(op: Operation) -> tuple[datetime | None, datetime | None]:
    """When the row's run started and ended, as a list shows them: its own, or, for a recurring job (or the
    purge's system job) waiting between runs, its last run's, from its history."""
    if op.starttime is not None or not op.recentruns:
        return op.starttime, op.endtime
    last = json.loads(op.recentruns)[-1]
    return (None if last["startedon"] is None else datetime.fromisoformat(last["startedon"]),
            datetime.fromisoformat(last["completedon"]))


def with_run(history: str, ending: Status, started: datetime | None, ended: datetime, errorcode: int | None) -> str:
    """The run history with this run added (the last RUN_HISTORY kept)."""
    runs = json.loads(history) if history else []
    runs.append({"outcome": ending.label, "startedon": started and stamp(started), "completedon": stamp(ended),
                 "errorcode": errorcode})
    return json.dumps(runs[-RUN_HISTORY:], separators=(",", ":"))
