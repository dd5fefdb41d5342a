"""Times: those callers send (ISO 8601, turned into timezone-aware UTC within what Table Storage can hold),
and the one form the run and attempt histories keep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .errors import InvalidRequest

# Table Storage's Edm.DateTime range.
EARLIEST = datetime(1601, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time in UTC (a time without a zone is taken as UTC); InvalidRequest otherwise."""
    hint = f"{what} must be an ISO 8601 time such as 2030-01-31T12:00:00Z"
    if not isinstance(value, str):
        raise InvalidRequest(f"{hint}, as a string.")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidRequest(f"{hint}.") from None
    if not EARLIEST <= moment <= LATEST:
        raise InvalidRequest(f"{what} must be between the years 1601 and 9999.")
    return moment


def stamp(moment: datetime) -> str:
    """``moment`` as the run and attempt histories keep it: ISO 8601 in UTC with a Z, to the microsecond."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
