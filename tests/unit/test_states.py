"""The state machine of SPEC §2, checked for every (Status, Event) pair."""

from __future__ import annotations

import itertools

import pytest

from shared.domain.states import (
    STATE_LABELS,
    Event,
    OperationFinished,
    State,
    Status,
    TransitionRefused,
    describe,
    transition,
)

S, E = Status, Event

# Written from SPEC §2 (and §4 for the poison queue), independently of states.TRANSITIONS.
SPEC_TABLE: dict[tuple[Status, Event], Status] = {
    # Ready 0/0
    (S.WAITING_FOR_RESOURCES, E.START): S.IN_PROGRESS,  # worker starts attempt -> Locked 2/20
    (S.WAITING_FOR_RESOURCES, E.CANCEL): S.CANCELED,  # cancel -> Completed 3/32
    (S.WAITING_FOR_RESOURCES, E.POSTPONE): S.WAITING,  # postpone -> Suspended 1/10
    # Suspended 1/10
    (S.WAITING, E.RESUME): S.WAITING_FOR_RESOURCES,  # resume / postponeuntil reached -> Ready 0/0
    (S.WAITING, E.CANCEL): S.CANCELED,  # cancel -> Completed 3/32
    # Locked 2/20
    (S.IN_PROGRESS, E.SUCCEED): S.SUCCEEDED,  # handler returns -> 3/30
    (S.IN_PROGRESS, E.FAIL): S.WAITING_FOR_RESOURCES,  # fails, attempts left -> Ready 0/0
    (S.IN_PROGRESS, E.FAIL_FINAL): S.FAILED,  # fails, none left / non-retryable -> 3/31
    (S.IN_PROGRESS, E.CANCEL): S.CANCELING,  # cancel -> Locked 2/22
    (S.IN_PROGRESS, E.PAUSE): S.PAUSING,  # pause -> Locked 2/21
    # Locked 2/21
    (S.PAUSING, E.SUCCEED): S.SUCCEEDED,  # handler returns -> 3/30 (work was done)
    (S.PAUSING, E.STOP): S.WAITING,  # honours the pause -> Suspended 1/10
    (S.PAUSING, E.FAIL): S.WAITING,  # ... or fails -> Suspended 1/10
    (S.PAUSING, E.FAIL_FINAL): S.WAITING,  # ... or fails -> Suspended 1/10
    (S.PAUSING, E.CANCEL): S.CANCELING,  # cancel -> Locked 2/22
    # Locked 2/22
    (S.CANCELING, E.SUCCEED): S.SUCCEEDED,  # handler returns -> 3/30 (work was done)
    (S.CANCELING, E.STOP): S.CANCELED,  # honours the cancel -> 3/32
    (S.CANCELING, E.FAIL): S.CANCELED,  # fails -> 3/32 (never retried)
    (S.CANCELING, E.FAIL_FINAL): S.CANCELED,  # fails -> 3/32
}
# SPEC §4: a message in the poison queue marks its operation Failed (a cancel asked for still wins).
POISON_TABLE = {
    (S.WAITING_FOR_RESOURCES, E.POISON): S.FAILED,
    (S.WAITING, E.POISON): S.FAILED,
    (S.IN_PROGRESS, E.POISON): S.FAILED,
    (S.PAUSING, E.POISON): S.FAILED,
    (S.CANCELING, E.POISON): S.CANCELED,
}
# A handler that "honours" an interrupt nobody asked for is a failing handler: Failed, not retried.
HANDLER_BUG_TABLE = {(S.IN_PROGRESS, E.STOP): S.FAILED}
# A worker may run a young Ready row before recording it, so a cancel then cannot know
# it has not started: it asks, as of a running one (Locked 2/22), and the worker settles it.
UNSURE_CANCEL_TABLE = {(S.WAITING_FOR_RESOURCES, E.CANCEL_UNSURE): S.CANCELING}
# A run of a recurring job that ends (or whose message was poisoned) waits for the next occurrence.
RECUR_TABLE = {(status, E.RECUR): S.WAITING
               for status in (S.WAITING_FOR_RESOURCES, S.WAITING, S.IN_PROGRESS, S.PAUSING)}
EXPECTED = {**SPEC_TABLE, **POISON_TABLE, **HANDLER_BUG_TABLE, **UNSURE_CANCEL_TABLE, **RECUR_TABLE}

ALL_PAIRS = list(itertools.product(Status, Event))
ALLOWED = [pair for pair in ALL_PAIRS if pair in EXPECTED]
REFUSED = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def _id(pair):
    return f"{pair[0].name}-{pair[1].name}"


def test_every_status_and_event_pair_is_either_allowed_or_refused_in_the_expected_table():
    assert len(ALLOWED) + len(REFUSED) == len(Status) * len(Event) == 96
    assert len(ALLOWED) == len(EXPECTED)


@pytest.mark.parametrize("pair", ALLOWED, ids=_id)
def test_allowed_transition_leads_to_the_spec_target(pair):
    status, event = pair
    assert transition(status, event) is EXPECTED[pair]


@pytest.mark.parametrize("pair", REFUSED, ids=_id)
def test_transition_not_in_the_spec_is_refused(pair):
    status, event = pair
    with pytest.raises(TransitionRefused) as info:
        transition(status, event)
    assert info.value.status is status and info.value.event is event
    assert isinstance(info.value, OperationFinished) == status.is_terminal


@pytest.mark.parametrize("pair", REFUSED, ids=_id)
def test_refusal_message_names_the_current_state_status_codes_and_event(pair):
    status, event = pair
    with pytest.raises(TransitionRefused) as info:
        transition(status, event)
    message = str(info.value)
    assert STATE_LABELS[status.state] in message
    assert status.label in message
    assert f"{status.state.value}/{status.value}" in message
    assert event.value in message


@pytest.mark.parametrize("status", [s for s in Status if s.is_terminal], ids=lambda s: s.name)
@pytest.mark.parametrize("event", list(Event), ids=lambda e: e.name)
def test_terminal_status_refuses_every_event_saying_it_is_terminal(status, event):
    with pytest.raises(OperationFinished, match="terminal state"):
        transition(status, event)


# The natural target of an event, per SPEC §2, and how a person would recognise it in a message.
_EVENT_TARGET_LABEL = {E.START: "In Progress", E.POSTPONE: "Suspended", E.PAUSE: "Pausing"}
_REFUSED_WITH_TARGET = [
    (s, e) for (s, e) in REFUSED if e in _EVENT_TARGET_LABEL and _EVENT_TARGET_LABEL[e] not in describe(s)
]


@pytest.mark.parametrize("pair", _REFUSED_WITH_TARGET, ids=_id)
def test_refusal_message_also_names_the_state_that_was_asked_for(pair):
    status, event = pair
    with pytest.raises(TransitionRefused) as info:
        transition(status, event)
    assert _EVENT_TARGET_LABEL[event] in str(info.value)


def test_a_suspended_operation_never_goes_straight_to_locked():
    for event in Event:
        try:
            target = transition(Status.WAITING, event)
        except TransitionRefused:
            continue
        assert target.state is not State.LOCKED, event


# Written from the SPEC §2 state table.
SPEC_STATES = {
    0: (0, "Ready", "Waiting For Resources", False),
    10: (1, "Suspended", "Waiting", False),
    20: (2, "Locked", "In Progress", False),
    21: (2, "Locked", "Pausing", False),
    22: (2, "Locked", "Canceling", False),
    30: (3, "Completed", "Succeeded", True),
    31: (3, "Completed", "Failed", True),
    32: (3, "Completed", "Canceled", True),
}


def test_status_codes_are_exactly_the_spec_subset():
    assert sorted(s.value for s in Status) == sorted(SPEC_STATES)
    assert sorted(s.value for s in State) == [0, 1, 2, 3]


@pytest.mark.parametrize("code", sorted(SPEC_STATES))
def test_status_has_the_spec_state_labels_and_terminality(code):
    statecode, state_label, status_label, terminal = SPEC_STATES[code]
    status = Status(code)
    assert status.state is State(statecode)
    assert STATE_LABELS[status.state] == state_label
    assert status.label == status_label
    assert status.is_terminal is terminal
    assert describe(status) == f"{state_label}/{status_label} ({statecode}/{code})"


def test_transition_never_returns_a_status_outside_the_enum():
    for status, event in ALLOWED:
        assert isinstance(transition(status, event), Status)
