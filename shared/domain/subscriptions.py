"""Subscriptions to the ``OnBackgroundOperationComplete`` business event, and the event they receive.

A subscription is Power Automate's webhook-trigger contract: a notification URL (a secret, like a SAS
URL: validated like a callback URL, shown masked, never logged) and an optional filter on the
operation's name. Each time an operation reaches Succeeded, Failed or Canceled, every matching
subscription gets one POST of the event with Dataverse's documented parameters, and the operation's outputs
(``OutputParameters.Outputs``: what the connector's trigger shows as dynamic content).

Outputs of up to INLINE_OUTPUTS_BYTES, nested at most INLINE_OUTPUTS_DEPTH deep, travel in the event, at no
cost. Larger or deeper ones (up to a mebibyte, as deep as a handler likes) do not fit a queue message or a kept
event's row (64 KiB, and what the events queue's reader takes): such an event says ``Outputs: null`` until it is
delivered, when they are read from its row (``with_outputs``: a read per delivery). One with no outputs says
``{}``. So a subscriber reads null only when the row was gone (purged or deleted) before the event reached it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from .backoff import compute_backoff
from .errors import InvalidRequest
from .operation import Operation
from .states import Status

EVENT = "OnBackgroundOperationComplete"
EVENTS = (EVENT,)
FILTER_FIELDS = ("name",)
OUTPUTS = "Outputs"
TRACE = "_traceparent"  # the operation's trace: kept with the event, sent as its traceparent header
INLINE_OUTPUTS_BYTES = 8 * 1024  # as JSON; a fan-out of BGOPS_MAX_SUBSCRIPTIONS ids and these fit 48 KiB
INLINE_OUTPUTS_DEPTH = 8  # an event's message nests them 3 deep; the events queue's reader takes 12
PAYLOAD_TYPE = 0
# The circuit breaker: a subscriber whose deliveries failed this many times in a row is paused, first for
# FIRST_PAUSE, each failed try after a pause doubling it, up to MAX_PAUSE. A delivery that works closes it.
# A subscriber that does not answer holds a delivery thread for a whole time limit each time: it is
# paused at its second failure in a row when that one timed out.
BREAKER_FAILURES = 5
BREAKER_FAILURES_TIMING_OUT = 2
FIRST_PAUSE = timedelta(minutes=1)
MAX_PAUSE = timedelta(hours=1)
# Each pause is made up to this much longer at random, so that subscribers paused together (a shared outage)
# are not all tried again at the same moment.
PAUSE_SPREAD = 0.2
# Deliveries on their way to one subscriber at once, per instance: so that one that hangs takes at most this
# many delivery threads. One while its breaker is half open (its pause is over and no delivery has worked
# since): the events kept during the pause wait for that one's answer instead of all being tried at once.
DELIVERIES_AT_ONCE = 2


@dataclass(frozen=True)
class Subscription:
    """One subscriber. ``notification_url`` is a secret: not in ``repr``, shown only masked."""

    id: str
    event: str
    notification_url: str = field(repr=False)
    operation_name: str = ""  # the filter: only operations of this name ("" for all)
    createdon: datetime | None = None
    failures: int = 0  # deliveries that failed in a row
    pauseduntil: datetime | None = None  # the breaker is open: nothing is sent to it until then
    pausedsince: datetime | None = None  # when the breaker last opened after being closed
    lasterror: str = ""  # how the last failed delivery ended (a status code or an error type, never the URL)
    etag: str | None = None

    def matches(self, op: Operation) -> bool:
        """Whether the completion of ``op`` is for this subscriber."""
        return self.matches_name(op.name)

    def matches_name(self, operation_name: str) -> bool:
        """Whether the completion of an operation named ``operation_name`` is for this subscriber."""
        return not self.operation_name or self.operation_name.lower() == operation_name.lower()

    def paused(self, now: datetime) -> bool:
        """Whether deliveries to it wait (its breaker is open) at ``now``."""
        return self.pauseduntil is not None and now < self.pauseduntil

    def deliveries_at_once(self) -> int:
        """How many deliveries may be on their way to it from one instance: DELIVERIES_AT_ONCE, or one while
        its breaker is half open (while it is open, none is tried)."""
        return 1 if self.pauseduntil is not None else DELIVERIES_AT_ONCE


def after_delivery(sub: Subscription, delivered: bool, detail: str, now: datetime, *,
                   timed_out: bool = False, rng: random.Random | None = None) -> Subscription | None:
    """The subscription once a delivery to it ended (None: nothing to write). A delivery that works closes
    the breaker; the BREAKER_FAILURES-th failure in a row opens it (the BREAKER_FAILURES_TIMING_OUT-th,
    when this one ``timed_out``), and each failure after that (the one try made when a pause ends) opens
    it for twice as long (each pause up to PAUSE_SPREAD longer)."""
    if delivered:
        healthy = not sub.failures and sub.pauseduntil is None
        return None if healthy else dataclasses.replace(sub, failures=0, pauseduntil=None, lasterror="")
    failures = sub.failures + 1
    threshold = BREAKER_FAILURES_TIMING_OUT if timed_out else BREAKER_FAILURES
    pause = None
    if failures >= threshold:
        seconds = compute_backoff(failures - threshold + 1, base_seconds=FIRST_PAUSE.total_seconds(),
                                  max_seconds=MAX_PAUSE.total_seconds(), jitter=0.0)
        seconds *= 1 + PAUSE_SPREAD * (rng or random).random()
        pause = now + timedelta(seconds=seconds)
    since = now if pause is not None and sub.pauseduntil is None else sub.pausedsince
    return dataclasses.replace(sub, failures=failures, pauseduntil=pause, pausedsince=since, lasterror=detail[:200])


def kept_key(kept_at: datetime, operation_id: str) -> str:
    """Where an event kept at ``kept_at`` for paused subscribers is: keys sort in the order they were kept, so that
    the events kept for a subscriber are found from when its breaker opened (``pausedsince``) on."""
    return f"{kept_at.astimezone(UTC):%Y%m%dT%H%M%S.%f}-{operation_id}"


def mask_url(url: str) -> str:
    """The URL with everything after its host hidden, as Dataverse shows a webhook's URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/***"


def check_filter(value: Any) -> str:
    """The operation name a ``Filter`` asks for ("" for none); InvalidRequest for anything else."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise InvalidRequest('Filter must be an object, such as {"name": "<operation name>"}.')
    unknown = sorted(set(value) - set(FILTER_FIELDS))
    if unknown:
        raise InvalidRequest(f"Filter has no field {', '.join(repr(u[:40]) for u in unknown)}; "
                             f"it can filter on: {', '.join(FILTER_FIELDS)}.")
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidRequest("Filter.name must be the name of an operation.")
    return name or ""


def check_event(name: str) -> str:
    """The event's canonical name; InvalidRequest naming the events there are."""
    for event in EVENTS:
        if event.lower() == name.lower():
            return event
    raise InvalidRequest(f"There is no event named '{name[:64]}'; subscribe to: {', '.join(EVENTS)}.")


def event_payload(op: Operation, location: str) -> dict[str, Any]:
    """What a subscriber receives when ``op`` has finished (the business event's parameters), its outputs still to
    be read (None) when they are too large or deep to travel in it."""
    outputs = (op.outputs or {}) if op.status is Status.SUCCEEDED else {}
    return {
        "MessageName": EVENT,
        "InputParameters": {"PayloadType": PAYLOAD_TYPE, "LocationUrl": location, "BackgroundOperationId": op.id},
        "OutputParameters": {"BackgroundOperationStateCode": op.status.state.value,
                             "BackgroundOperationStatusCode": op.status.value, "OperationName": op.name,
                             OUTPUTS: outputs if _inline(outputs) else None},
        **({TRACE: op.traceparent} if op.traceparent else {}),
    }


def as_sent(payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The event as its subscriber reads it, and the trace it belongs to (its operation's traceparent, which
    travels with it but is sent as a header)."""
    sent = {k: v for k, v in payload.items() if k != TRACE}
    return sent, str(payload.get(TRACE, ""))


def _inline(outputs: dict[str, Any]) -> bool:
    """Whether outputs are shallow and small enough to travel in the event (the depth first: it stops early)."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(outputs, 1)]
    while stack:
        value, level = stack.pop()
        if level > INLINE_OUTPUTS_DEPTH:
            return False
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return len(json.dumps(outputs, separators=(",", ":")).encode()) <= INLINE_OUTPUTS_BYTES


def outputs_to_read(payload: dict[str, Any]) -> bool:
    """Whether an event's outputs are still to be read from its operation's row."""
    parameters = payload.get("OutputParameters")
    return isinstance(parameters, dict) and OUTPUTS in parameters and parameters[OUTPUTS] is None


def with_outputs(payload: dict[str, Any], outputs: dict[str, Any] | None) -> dict[str, Any]:
    """The event as delivered: its outputs read from the row (None when the row was gone)."""
    return {**payload, "OutputParameters": {**payload["OutputParameters"], OUTPUTS: outputs}}
