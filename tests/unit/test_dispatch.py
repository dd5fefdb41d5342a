"""What a worker does with a queue message, decided from the row alone (shared/domain/dispatch.py): every case,
the poison queue's copies, retries past the last attempt and lines included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.dispatch import CALLBACK_CLAIM_TIMEOUT, Action, Arrival, Line, Rules, decide
from shared.domain.operation import EVENTS_OWED, CallbackState
from shared.domain.states import Status

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

TERMINAL = [Status.SUCCEEDED, Status.FAILED, Status.CANCELED]
MSG = Arrival("message-1")


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
    op = make_op(status=status, callbackstate=CallbackState.SENDING, callbackclaimedon=NOW, messageid=MSG.message_id)
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


@pytest.mark.parametrize("owner", ["", MSG.message_id])
def test_ready_operation_unowned_or_owned_by_this_message_starts(make_op, owner):
    op = make_op(status=Status.WAITING_FOR_RESOURCES, messageid=owner)
    assert decide(op, MSG, NOW).action is Action.START


def test_ready_operation_owned_by_another_message_is_dropped(make_op):
    op = make_op(status=Status.WAITING_FOR_RESOURCES, messageid="message-2")
    assert decide(op, MSG, NOW).action is Action.DROP


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.PAUSING, Status.CANCELING], ids=lambda s: s.name)
def test_locked_operation_seen_again_by_its_own_message_is_recovered(make_op, status):
    op = make_op(status=status, messageid=MSG.message_id)
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
    running = make_op(status=Status.IN_PROGRESS, messageid=MSG.message_id)
    for op in (make_op(), make_op(status=Status.SUCCEEDED), running):
        assert decide(op, MSG, NOW).delay_seconds == 0


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
@pytest.mark.parametrize("callback", [CallbackState.NONE, CallbackState.PENDING], ids=lambda c: c.name)
def test_finished_operation_owing_its_event_publishes_it_first(make_op, status, callback):
    op = make_op(status=status, eventsstate="owed", callbackstate=callback, callbackurl="https://example.com/cb")
    assert decide(op, MSG, NOW).action is Action.PUBLISH_EVENTS


@pytest.mark.parametrize("status", TERMINAL, ids=lambda s: s.name)
def test_finished_operation_whose_event_was_published_is_dropped(make_op, status):
    assert decide(make_op(status=status, eventsstate="published"), MSG, NOW).action is Action.DROP


# --- Retries past the last attempt, and the poison queue's copies -------------------------------------------

RULES = Rules(max_attempts=4, line_recheck_seconds=300)


def test_a_retry_sent_as_a_new_message_past_the_last_attempt_fails_the_operation(make_op):
    assert decide(make_op(), Arrival("m", attempt=4), NOW, RULES).action is Action.START
    assert decide(make_op(), Arrival("m", attempt=5), NOW, RULES).action is Action.FAIL


@pytest.mark.parametrize("status", [Status.WAITING_FOR_RESOURCES, Status.IN_PROGRESS, Status.CANCELING,
                                    Status.WAITING], ids=lambda s: s.name)
def test_the_poison_queues_copy_fails_an_operation_that_has_not_ended_whoever_holds_it(make_op, status):
    op = make_op(status=status, messageid="another-message")
    assert decide(op, Arrival("", poisoned=True), NOW, RULES).action is Action.FAIL


def test_the_poison_queues_copy_of_an_ended_operation_delivers_what_it_owes(make_op):
    owed = make_op(status=Status.SUCCEEDED, callbackstate=CallbackState.PENDING, callbackurl="https://e.com/cb")
    assert decide(owed, Arrival("", poisoned=True), NOW, RULES).action is Action.DELIVER_CALLBACK
    events = make_op(status=Status.SUCCEEDED, eventsstate=EVENTS_OWED)
    assert decide(events, Arrival("", poisoned=True), NOW, RULES).action is Action.PUBLISH_EVENTS


def test_the_poison_queues_copy_looks_again_when_a_standing_claim_lapses_where_a_message_would_drop(make_op):
    # The copy cannot say whether the claim was its own worker's; a live message that is not the claimant's
    # leaves the claim to its owner.
    claimed = NOW - timedelta(seconds=10)
    op = make_op(status=Status.SUCCEEDED, callbackstate=CallbackState.SENDING, callbackclaimedon=claimed,
                 messageid="m")
    decision = decide(op, Arrival("", poisoned=True), NOW, RULES)
    assert decision.action is Action.DEFER
    assert decision.delay_seconds == (CALLBACK_CLAIM_TIMEOUT - timedelta(seconds=10)).total_seconds() + 1
    assert decide(op, Arrival("other"), NOW, RULES).action is Action.DROP


# --- One at a time: a ticket, then whose turn it is ----------------------------------------------------------

def test_a_job_in_a_line_takes_its_ticket_first_then_asks_whose_turn_it_is(make_op):
    no_ticket = make_op(concurrencykey="organization")
    assert decide(no_ticket, Arrival("m"), NOW, RULES).action is Action.TAKE_TICKET
    ticketed = no_ticket.with_changes(lineticket="t1")
    assert decide(ticketed, Arrival("m"), NOW, RULES).action is Action.LOOK_AT_LINE
    assert decide(ticketed, Arrival("m"), NOW, RULES, Line()).action is Action.START


def test_a_job_behind_another_looks_again_after_the_recheck_and_a_wake_that_came_too_soon_is_dropped(make_op):
    op = make_op(concurrencykey="organization", lineticket="t2")
    waiting = decide(op, Arrival("m"), NOW, RULES, Line(ahead="other-op"))
    assert (waiting.action, waiting.delay_seconds) == (Action.WAIT_IN_LINE, 300)
    assert decide(op, Arrival("m", wake=True), NOW, RULES, Line(ahead="other-op")).action is Action.DROP
    assert decide(op, Arrival("m", wake=True), NOW, RULES, Line()).action is Action.START


def test_a_job_without_a_line_never_looks_at_one(make_op):
    assert decide(make_op(concurrencykey=""), Arrival("m"), NOW, RULES).action is Action.START
