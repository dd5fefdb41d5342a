"""The purge as a recurring system job: each run of the purge timer is recorded on
one row, so that the System Jobs list shows when the purge last ran, what it deleted, and when it runs
next. The row has a fixed id (``domain.ids.system_job_id``); it is never finished, so never purged.
Recording is best effort: a purge that cannot record its run still purges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from croniter import croniter

from ..domain.attempts import start_attempt
from ..domain.error_codes import UNEXPECTED
from ..domain.errors import BackgroundOperationError, ConcurrencyConflict, OperationNotFound, StorageUnavailable
from ..domain.ids import system_job_id
from ..domain.operation import Operation
from ..domain.recurrence import with_run
from ..domain.states import Event, Status
from ..operations.maintenance import PURGE
from .container import Services
from .retention import purge_expired
from .rows import update_row

log = logging.getLogger(__name__)
PURGE_JOB_ID = system_job_id("purge")
NEVER_EXPIRES_SECONDS = 10 * 365 * 24 * 3600


def purge_as_system_job(svc: Services) -> int:
    """Purge, recording the run on the purge's system job; returns how many operations it deleted."""
    job = _record(svc, _started, "its start")
    try:
        deleted = purge_expired(svc)
    except StorageUnavailable as e:
        reason = str(e)
        if job is not None:
            _record(svc, lambda row, now: _ended(svc, row, now, error=reason), "its failure")
        raise
    if job is not None:
        _record(svc, lambda row, now: _ended(svc, row, now, deleted=deleted), "its end")
    return deleted


def show_purge_job(svc: Services) -> None:
    """Make the purge's system job, waiting for the timer's next run, when the app starts, so that the System
    Jobs list shows it (and when it runs next) from then, not from the first run; or set its next run, if the
    row waits for one that has passed or that another schedule gave. One read, and a write only then. Best
    effort: the first run makes the row anyway."""
    now = svc.clock()
    upcoming = next_purge(svc.settings.purge_schedule, now)
    try:
        update_row(svc, _job(svc, now, waiting_until=upcoming), lambda row: _next_run(row, upcoming, now))
    except BackgroundOperationError as e:
        log.warning("The purge's system job could not be shown before its first run: %s", e)


def _next_run(row: Operation, upcoming: datetime | None, now: datetime) -> Operation | None:
    if row.status is not Status.WAITING or row.postponeuntil == upcoming:
        return None
    return row.with_changes(postponeuntil=upcoming, modifiedon=now)


def next_purge(schedule: str, after: datetime) -> datetime | None:
    """When a timer on ``schedule`` (six-field NCRONTAB, or a TimeSpan such as 00:05:00) fires next, in UTC."""
    try:
        if ":" in schedule:
            hours, minutes, seconds = (float(part) for part in schedule.split(":")[-3:])
            return after + timedelta(hours=hours, minutes=minutes, seconds=seconds)
        occurrence: datetime = croniter(schedule, after, second_at_beginning=True).get_next(datetime)
        return occurrence
    except (ValueError, KeyError):
        return None


def _record(svc: Services, change: Callable[[Operation, datetime], Operation | None], what: str
            ) -> Operation | None:
    now = svc.clock()
    try:
        return update_row(svc, _job(svc, now), lambda row: change(row, now))
    except BackgroundOperationError as e:
        log.warning("The purge could not record %s on its system job: %s", what, e)
        return None


def _job(svc: Services, now: datetime, *, waiting_until: datetime | None = None) -> Operation:
    """The purge's row; made if missing, running its first run (never seen waiting with no next run), or, when
    the app starts, waiting for it until ``waiting_until``."""
    try:
        return svc.store.get(PURGE_JOB_ID)
    except OperationNotFound:
        definition = svc.registry.get(PURGE)
        new = Operation(id=PURGE_JOB_ID, name=definition.name, displayname=definition.display_name,
                        status=Status.WAITING_FOR_RESOURCES, inputs={}, createdon=now, modifiedon=now,
                        ttlinseconds=NEVER_EXPIRES_SECONDS)
        try:
            return svc.store.create(start_attempt(new, "", 1, now) if waiting_until is None
                                    else new.apply(Event.POSTPONE, now, postponeuntil=waiting_until))
        except ConcurrencyConflict:  # another instance made it first
            return svc.store.get(PURGE_JOB_ID)


def _started(row: Operation, now: datetime) -> Operation | None:
    if row.status is Status.IN_PROGRESS:  # just made, or the last run never recorded its end (its instance stopped)
        return None if row.starttime == now else row.with_changes(starttime=now, modifiedon=now)
    ready = row.apply(Event.RESUME, now) if row.status is Status.WAITING else row
    return start_attempt(ready, "", 1, now)


def _ended(svc: Services, row: Operation, now: datetime, *, deleted: int = 0, error: str = "") -> Operation:
    ending = Status.FAILED if error else Status.SUCCEEDED
    runs = with_run(row.recentruns, ending, row.starttime, now, UNEXPECTED if error else None)
    result = {"errorcode": UNEXPECTED, "errormessage": error} if error else {"outputs": {"Deleted": deleted}}
    return row.apply(Event.RECUR, now, postponeuntil=next_purge(svc.settings.purge_schedule, now), recentruns=runs,
                     starttime=None, messageid="", **result)
