"""Writes that must happen although storage just failed: retried in the background until it answers.

Two places need one (``make faults`` found both): the row of a submission that was not accepted must
go, and the outcome of a callback that was delivered must be recorded (else the message that comes
back would deliver it again). Each is retried, one after another in one thread, with a pause that
grows to 5 s, until it succeeds or ``RETRY_SECONDS`` have passed since it was asked for. This is
in-process: a host that dies while storage is still down loses the retry (the log says so).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..domain.errors import StorageUnavailable

log = logging.getLogger(__name__)
RETRY_SECONDS = 600
MAX_PAUSE_SECONDS = 5.0
_retries = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bgops-later")


def when_storage_answers(what: str, write: Callable[[], None]) -> None:
    """Retry ``write`` in the background until storage answers; ``what`` names it in the log."""
    log.warning("Storage failed; %s once it answers.", what)
    _retries.submit(_retry, what, write, time.monotonic() + RETRY_SECONDS)


def _retry(what: str, write: Callable[[], None], deadline: float) -> None:
    pause = 1.0
    while time.monotonic() < deadline:
        time.sleep(pause)
        try:
            write()
            log.info("Storage answered: %s done.", what)
            return
        except StorageUnavailable:
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
    log.error("Gave up after %d s: %s.", RETRY_SECONDS, what)
