"""What a worker does with a queue message, decided from the row alone (shared/domain/dispatch.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.dispatch import CALLBACK_CLAIM_TIMEOUT, Action, decide
from shared.domain.operation import CallbackState
from shared.domain.states import Status

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

TERMINAL = [Status.SUCCEEDED, Status.FAILED, Status.CANCELED]
MSG = "message-1"


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
@pytest.mark.parametrize("state", [CallbackState.NONE, CallbackState.DELIVERED, CallbackState.FAILED],
                         ids=lambda c: c.name)
def test_finished_operation_without_a_callback_owed_is_dropped(make_op, status, state):
    op = make_op(status=status, callbackstate=state, callbackurl="https://example.com/cb")
    assert decide(op, MSG, NOW).action is Action.DROP


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
def test_finished_operation_with_a_pending_callback_delivers_it(make_op, status):
    op = make_op(status=status, callbackstate=CallbackState.PENDING, callbackurl="https://example.com/cb")
    assert decide(op, MSG, NOW).action is Action.DELIVER_CALLBACK


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
def test_callback_claim_older_than_the_timeout_is_taken_over(make_op, status):
    claimed = NOW - CALLBACK_CLAIM_TIMEOUT - timedelta(seconds=1)
    op = make_op(status=status, callbackstate=CallbackState.SENDING, callbackclaimedon=claimed)
    assert decide(op, MSG, NOW).action is Action.DELIVER_CALLBACK


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
def test_fresh_callback_claim_is_left_to_its_owner(make_op, status):
    for age in (timedelta(0), timedelta(seconds=10), CALLBACK_CLAIM_TIMEOUT):
        op = make_op(status=status, callbackstate=CallbackState.SENDING, callbackclaimedon=NOW - age)
        assert decide(op, MSG, NOW).action is Action.DROP, age


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
def test_a_fresh_claim_made_by_this_very_message_is_taken_over_when_the_message_comes_back(make_op, status):
    # Its worker failed or died (that is why the message came back): nobody else will deliver it.
    op = make_op(status=status, callbackstate=CallbackState.SENDING, callbackclaimedon=NOW, messageid=MSG)
    assert decide(op, MSG, NOW).action is Action.DELIVER_CALLBACK
    assert decide(op.with_changes(messageid="another-message"), MSG, NOW).action is Action.DROP


def test_callback_claim_without_a_time_counts_as_stale(make_op):
    op = make_op(status=Status.SUCCEEDED, callbackstate=CallbackState.SENDING, callbackclaimedon=None)
    assert decide(op, MSG, NOW).action is Action.DELIVER_CALLBACK


def test_claim_timeout_is_a_few_minutes():
    assert timedelta(minutes=1) <= CALLBACK_CLAIM_TIMEOUT <= timedelta(minutes=30)


def test_paused_operation_without_postponeuntil_is_dropped(make_op):
    op = make_op(status=Status.WAITING, postponeuntil=None)
    assert decide(op, MSG, NOW).action is Action.DROP


def test_postponed_operation_is_deferred_by_the_time_left(make_op):
    op = make_op(status=Status.WAITING, postponeuntil=NOW + timedelta(minutes=5, seconds=3))
    decision = decide(op, MSG, NOW)
    assert decision.action is Action.DEFER
    assert decision.delay_seconds == pytest.approx(303)


def test_postponement_beyond_the_queue_visibility_limit_is_still_deferred(make_op):
    op = make_op(status=Status.WAITING, postponeuntil=NOW + timedelta(days=30))
    decision = decide(op, MSG, NOW)
    assert decision.action is Action.DEFER and decision.delay_seconds == 30 * 86400


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(seconds=1), timedelta(days=3)])
def test_postponement_that_has_come_resumes(make_op, ago):
    op = make_op(status=Status.WAITING, postponeuntil=NOW - ago)
    assert decide(op, MSG, NOW).action is Action.RESUME


@pytest.mark.parametrize("owner", ["", MSG])
def test_ready_operation_unowned_or_owned_by_this_message_starts(make_op, owner):
    op = make_op(status=Status.WAITING_FOR_RESOURCES, messageid=owner)
    assert decide(op, MSG, NOW).action is Action.START


def test_ready_operation_owned_by_another_message_is_dropped(make_op):
    op = make_op(status=Status.WAITING_FOR_RESOURCES, messageid="message-2")
    assert decide(op, MSG, NOW).action is Action.DROP


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.PAUSING, Status.CANCELING], ids=lambda s: s.name)
def test_locked_operation_seen_again_by_its_own_message_is_recovered(make_op, status):
    op = make_op(status=status, messageid=MSG)
    assert decide(op, MSG, NOW).action is Action.RECOVER


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.PAUSING, Status.CANCELING], ids=lambda s: s.name)
def test_locked_operation_owned_by_another_message_is_dropped(make_op, status):
    op = make_op(status=status, messageid="message-2")
    assert decide(op, MSG, NOW).action is Action.DROP


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.PAUSING], ids=lambda s: s.name)
def test_locked_operation_owned_by_no_message_is_dropped(make_op, status):
    assert decide(make_op(status=status, messageid=""), MSG, NOW).action is Action.DROP


def test_canceling_with_no_attempt_ever_recorded_is_stopped_without_running(make_op):
    """A cancel asked while unsure whether a worker ran it unrecorded; the next message settles it."""
    assert decide(make_op(status=Status.CANCELING, messageid=""), MSG, NOW).action is Action.STOP_UNSTARTED


def test_only_defer_carries_a_delay(make_op):
    for op in (make_op(), make_op(status=Status.SUCCEEDED), make_op(status=Status.IN_PROGRESS, messageid=MSG)):
        assert decide(op, MSG, NOW).delay_seconds == 0


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
@pytest.mark.parametrize("callback", [CallbackState.NONE, CallbackState.PENDING], ids=lambda c: c.name)
def test_finished_operation_owing_its_event_publishes_it_first(make_op, status, callback):
    op = make_op(status=status, eventsstate="owed", callbackstate=callback, callbackurl="https://example.com/cb")
    assert decide(op, MSG, NOW).action is Action.PUBLISH_EVENTS


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
def test_finished_operation_whose_event_was_published_is_dropped(make_op, status):
    assert decide(make_op(status=status, eventsstate="published"), MSG, NOW).action is Action.DROP
