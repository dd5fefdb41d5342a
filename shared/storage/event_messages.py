"""What a message on the events queue (``<queue>-events``, the ``notify`` function's) says.

Four kinds. An *event* for one subscriber (``{"subscription", "event", "attempt", "since"}``: the
payload, which attempt this is, and when it was first queued, for its retention); a *fan-out* of an
event to every subscriber it matches (``{"fanout", "since"}``: the worker that finished an operation
with many subscribers sends one message, not one each), or to those of them that had to wait (paused,
or busy), named (``"subscribers"``), sent for when the first may be tried; and the *callback retry* of an
operation whose
first attempt, made by the worker that finished it, failed (``{"callback", "attempt"}``: never the URL,
which is read from the row). A retry is a new message saying the next attempt, sent for when its pause
is over. And the *drain* of a subscriber (``{"drain", "last"}``): send the events kept for it while it was
paused (``services.kept``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.errors import InvalidRequest
from ..domain.ids import parse_operation_id
from .work_messages import MAX_DECODED_CHARS, json_depth

MAX_DEPTH = 12  # the event's payload nests three deep; a message nests it once more
MAX_ATTEMPT = 10_000
MAX_SUBSCRIBERS = 1000  # named in one fan-out
MAX_KEY = 200  # of a kept event, where a drain goes on from


@dataclass(frozen=True)
class EventMessage:
    """Attempt ``attempt`` of delivering ``payload`` to subscription ``subscription_id``, first queued ``since``
    (None for a message queued before messages said so)."""

    subscription_id: str
    payload: dict[str, Any]
    attempt: int = 1
    since: datetime | None = None

    def encode(self) -> str:
        since = self.since.isoformat() if self.since else None
        return json.dumps({"subscription": self.subscription_id, "event": self.payload, "attempt": self.attempt,
                           "since": since}, separators=(",", ":"))


@dataclass(frozen=True)
class CallbackRetry:
    """Attempt ``attempt`` of delivering operation ``operation_id``'s callback."""

    operation_id: str
    attempt: int

    def encode(self) -> str:
        return json.dumps({"callback": self.operation_id, "attempt": self.attempt}, separators=(",", ":"))


@dataclass(frozen=True)
class FanOut:
    """An event for every subscriber it matches (or only ``subscribers``, those that had to wait), first
    queued ``since``."""

    payload: dict[str, Any]
    since: datetime | None = None
    subscribers: tuple[str, ...] | None = None

    def encode(self) -> str:
        since = self.since.isoformat() if self.since else None
        only = {} if self.subscribers is None else {"subscribers": list(self.subscribers)}
        return json.dumps({"fanout": self.payload, "since": since, **only}, separators=(",", ":"))


@dataclass(frozen=True)
class Drain:
    """Send the events kept for subscription ``subscription_id`` again, from key ``after`` on ("": from when its
    breaker opened); ``last``: the look after the last page."""

    subscription_id: str
    last: bool = False
    after: str = ""

    def encode(self) -> str:
        return json.dumps({"drain": self.subscription_id, "last": self.last, "after": self.after},
                          separators=(",", ":"))


def decode(body: str) -> EventMessage | FanOut | CallbackRetry | Drain:
    """The message ``body`` holds; InvalidRequest for anything else (too long, too deep, malformed)."""
    if len(body) > MAX_DECODED_CHARS or json_depth(body) > MAX_DEPTH:
        raise InvalidRequest("The message is not an events-queue message: too long or nested too deep.")
    try:
        message = json.loads(body)
        attempt = message.get("attempt", 1)
        if type(attempt) is not int or not 1 <= attempt <= MAX_ATTEMPT:
            raise ValueError("attempt")
        if "drain" in message:
            return _drain(message)
        if "callback" in message:
            return CallbackRetry(parse_operation_id(str(message["callback"])), attempt)
        since = datetime.fromisoformat(message["since"]) if message.get("since") else None
        if since is not None and since.tzinfo is None:
            raise ValueError("since")
        if "fanout" in message:
            return _fan_out(message, since)
        payload, subscription = message["event"], str(uuid.UUID(message["subscription"]))
        if not isinstance(payload, dict):
            raise ValueError("event")
        return EventMessage(subscription, payload, attempt, since)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise InvalidRequest(f"The message is not an events-queue message: {type(e).__name__}") from None


def _drain(message: dict[str, Any]) -> Drain:
    after = message.get("after", "")
    if not isinstance(after, str) or len(after) > MAX_KEY:
        raise ValueError("after")
    return Drain(str(uuid.UUID(message["drain"])), message.get("last") is True, after)


def _fan_out(message: dict[str, Any], since: datetime | None) -> FanOut:
    if not isinstance(message["fanout"], dict):
        raise ValueError("fanout")
    only = message.get("subscribers")
    return FanOut(message["fanout"], since,
                  None if only is None else tuple(str(uuid.UUID(s)) for s in only[:MAX_SUBSCRIBERS]))
