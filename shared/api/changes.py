"""What a PATCH of the row asks for, read from its body the way the SDK writes it (SPEC §3.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.errors import InvalidRequest
from ..domain.operation import Operation
from ..domain.states import Event, State, Status, describe
from ..domain.times import parse_time
from ..services.control import Change

PATCHABLE = ("backgroundoperationstatecode", "backgroundoperationstatuscode", "postponeuntil")


# What a PATCH's state codes ask for, the way the SDK expresses it (SPEC §3.3).
STATE_CHANGES: dict[tuple[int, int | None], Event] = {
    (State.LOCKED, Status.CANCELING): Event.CANCEL,
    (State.COMPLETED, Status.CANCELED): Event.CANCEL,
    (State.SUSPENDED, None): Event.PAUSE,
    (State.SUSPENDED, Status.WAITING): Event.PAUSE,
    (State.SUSPENDED, Status.PAUSING): Event.PAUSE,
    (State.READY, None): Event.RESUME,
    (State.READY, Status.WAITING_FOR_RESOURCES): Event.RESUME,
}
_HOW = ("send statecode 2 with statuscode 22 to cancel, statecode 1 to pause, statecode 0 to resume, "
        "or postponeuntil to postpone")


def parse_change(body: Any, now: datetime) -> Change:
    """The one state change a PATCH body asks for; InvalidRequest for anything else.

    Instance annotations (``@odata.type``, which OData clients add) say nothing to change and are ignored.
    """
    if isinstance(body, dict):
        body = {name: value for name, value in body.items() if not name.startswith("@")}
    if not isinstance(body, dict) or not body:
        raise InvalidRequest(f"The body must be a JSON object with one of: {', '.join(PATCHABLE)}.")
    unknown = sorted(set(body) - set(PATCHABLE))
    if unknown:
        raise InvalidRequest(f"Cannot change {', '.join(unknown)}; only {', '.join(PATCHABLE)} can be changed.")
    if "postponeuntil" in body:
        if len(body) > 1:
            raise InvalidRequest(f"Ask for one change per PATCH: {_HOW}.")
        return Change(Event.POSTPONE, _future_time(body["postponeuntil"], now))
    state, status = body.get("backgroundoperationstatecode"), body.get("backgroundoperationstatuscode")
    if state is None and type(status) is int and status in Status._value2member_map_:
        # A status alone names its state: what a client that sends only the changed columns sends
        # (statuscode 22 of a job already Locked).
        state = Status(status).state.value
    if type(state) is not int or (status is not None and type(status) is not int):
        raise InvalidRequest(f"backgroundoperationstatecode and backgroundoperationstatuscode are whole numbers: "
                             f"{_HOW}.")
    try:
        return Change(STATE_CHANGES[(state, status)])
    except KeyError:
        raise UnsupportedChange(state, status) from None


class UnsupportedChange(InvalidRequest):
    """State codes no change leads to; ``of(row)`` says so beside the row's own state."""

    def __init__(self, state: int, status: int | None) -> None:
        super().__init__(f"Unsupported state change: {_HOW}.")
        self.asked = f"statecode {state}" + ("" if status is None else f" with statuscode {status}")

    def of(self, op: Operation) -> InvalidRequest:
        return InvalidRequest(f"Unsupported state change to {self.asked} while it is {describe(op.status)}: "
                              f"{_HOW}.")


def _future_time(value: Any, now: datetime) -> datetime:
    moment = parse_time(value, "postponeuntil")
    if moment <= now:
        raise InvalidRequest("postponeuntil must be in the future.")
    return moment
