"""faults/scenarios.py counts a callback as missing only once the app could no longer owe it: a host killed
between an operation's last write and its callback leaves a claim that the poison queue's copy of its
message takes over only when the claim lapses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from faults.scenarios import SETTINGS, callback_wait_seconds
from shared.domain.dispatch import Action, Arrival, Rules, decide
from shared.domain.operation import CallbackState
from shared.domain.states import Status

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_fault_hosts_callback_claim_lapses_after_twice_the_longest_delivery():
    # Four attempts of 10 s with pauses of 0.5, 1 and 2 s between them: 43.5 s, twice over.
    assert callback_wait_seconds(SETTINGS) - 30 == 87


def test_a_callback_claimed_by_a_killed_host_is_waited_for_until_its_poisoned_message_sends_it(make_op):
    claim_timeout = timedelta(seconds=callback_wait_seconds(SETTINGS) - 30)
    claimed = make_op(status=Status.SUCCEEDED, callbackstate=CallbackState.SENDING, callbackclaimedon=NOW,
                      messageid="killed")
    # The worst case: the host poisons the message at once, and its copy is looked at before the claim lapses.
    decision = decide(claimed, Arrival("", poisoned=True), NOW, Rules(claim_timeout=claim_timeout))
    assert decision.action is Action.DEFER
    lease = float(SETTINGS["DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS"])
    assert decision.delay_seconds + lease < callback_wait_seconds(SETTINGS)
    later = NOW + timedelta(seconds=decision.delay_seconds)
    assert decide(claimed, Arrival("", poisoned=True), later, Rules(claim_timeout=claim_timeout)).action \
        is Action.DELIVER_CALLBACK
