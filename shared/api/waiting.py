"""Answers that wait for an operation to finish (RFC 7240's ``wait`` preference): a submit or a status read held
until its operation has finished, or until the wait the caller asked for (at most BGOPS_MAX_WAIT_SECONDS) is over.

An endpoint returns a ``Held`` instead of its response; the HTTP function (``handling.in_http_pool``) then waits
on the event loop, holding no thread: for the worker in this process to write the row finished (``Finishes``,
which wakes it at once), or for BGOPS_WAIT_POLL_SECONDS to pass, when it reads the row in the HTTP pool (one point
read: the operation may run on another instance). Once the row has finished or the time is up, ``answer`` makes
the response from the row as read then, as the status monitor would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import azure.functions as func

from ..domain.operation import Operation
from ..services.container import Services
from .errors import response_for

Answer = Callable[[Operation, int], func.HttpResponse]  # the response from the row, given the wait applied


class _Signal:
    """Set from any thread (the worker's, writing the row finished); waited for on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def set(self) -> None:
        with self._lock:
            self._set, waiter = True, self._waiter
        if waiter is not None:
            waiter[0].call_soon_threadsafe(waiter[1].set)

    async def wait(self, seconds: float) -> None:
        """Until set (at once if it was since the last wait), or ``seconds`` have passed."""
        event = asyncio.Event()
        with self._lock:
            if self._set:
                self._set = False
                return
            self._waiter = (asyncio.get_running_loop(), event)
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiter, self._set = None, False


@dataclass(frozen=True)
class Held:
    """A response that waits for operation ``operation_id`` to finish, until ``until`` (``time.monotonic()``)."""

    operation_id: str
    until: float
    seconds: int  # the wait honoured, which Preference-Applied names
    poll_seconds: float
    answer: Answer
    read: Callable[[str], Operation]  # the row, as storage has it now
    finished: _Signal = field(default_factory=_Signal)
    stop: Callable[[], None] = lambda: None  # stops watching for the finish


def hold(svc: Services, op: Operation, seconds: int, answer: Answer) -> func.HttpResponse | Held:
    """``answer(op, seconds)`` now when ``op`` has finished or no wait is asked; else held for ``seconds``, the
    finish watched for from now on."""
    if op.is_terminal or seconds <= 0:
        return answer(op, seconds)
    finished = _Signal()
    stop = svc.finishes.watch(op.id, finished.set)
    return Held(op.id, time.monotonic() + seconds, seconds, svc.settings.wait_poll_seconds, answer, svc.store.get,
                finished, stop)


def step(held: Held, *, at_once: bool = False) -> func.HttpResponse | Held:
    """Read the row: its answer once it has finished or the wait is over (or ``at_once``: no wait after all),
    else still held. A storage error is its response, as any endpoint's is."""
    try:
        op = held.read(held.operation_id)
        if op.is_terminal or at_once or time.monotonic() >= held.until:
            held.stop()
            return held.answer(op, 0 if at_once else held.seconds)
        return held
    except Exception as exc:  # mapped in one place, api/errors.py
        held.stop()
        return response_for(exc)


async def settle(result: func.HttpResponse | Held,
                 in_pool: Callable[[Held], Awaitable[func.HttpResponse | Held]]) -> func.HttpResponse:
    """The response, once a held one has finished waiting: each pause on the event loop, each ``step`` in the
    pool (``in_pool``)."""
    while isinstance(result, Held):
        left = result.until - time.monotonic()
        if left > 0:
            await result.finished.wait(min(left, result.poll_seconds))
        result = await in_pool(result)
    return result


def at_once(result: func.HttpResponse | Held) -> func.HttpResponse:
    """The response without waiting (a request inside a $batch, which answers all its requests together)."""
    while isinstance(result, Held):
        result = step(result, at_once=True)
    return result
