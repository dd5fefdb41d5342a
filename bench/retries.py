"""Transient storage errors in the bench's own calls (seeding, the raw baseline, polling for results): each call
is tried again, a few times, and every retry is counted by section, so that the report says what was retried
rather than a section failing on one dropped connection from Azurite, or hiding that it happened."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

T = TypeVar("T")
TRIES = 5
# What storage may answer once and not again: a dropped connection, a request it could not take, a busy server.
TRANSIENT_STATUSES = {408, 429, 500, 502, 503, 504}

_lock = threading.Lock()
retried: Counter[str] = Counter()  # "<section>: <what>" -> retries made
section = ""  # the section running now (set by bench/__main__)


def transient(error: BaseException) -> bool:
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    return isinstance(error, HttpResponseError) and error.status_code in TRANSIENT_STATUSES


def again(what: str, call: Callable[[], T], *, tries: int = TRIES, pause: float = 0.5) -> T:
    """``call()``, made again after a transient error, up to ``tries`` times in all (the pause growing each
    time); each retry counted under ``what``. Only for calls that do the same when made twice (upserts, reads)."""
    for attempt in range(1, tries + 1):
        try:
            return call()
        except Exception as error:
            if attempt == tries or not transient(error):
                raise
            with _lock:
                retried[f"{section or 'bench'}: {what} ({type(error).__name__})"] += 1
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")


def taken() -> dict[str, int]:
    """The retries made so far, by section and call, and clear them."""
    with _lock:
        found = dict(retried)
        retried.clear()
    return found
