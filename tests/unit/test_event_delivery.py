"""Delivering events and callback retries (shared/services/events.py, callbacks.py) on the in-memory stores with
a fake clock: one attempt per message, the next one queued for when its pause is over, a subscriber that keeps
failing paused and its events kept, one that is gone unsubscribed, an event past its retention dropped."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fakes import MemoryWorkQueue
from helpers import wait_until

from shared.domain.errors import LimitReached
from shared.domain.operation import EVENTS_OWED, CallbackState
from shared.domain.subscriptions import BREAKER_FAILURES, EVENT
from shared.services import callbacks, events
from shared.services.delivery import Delivery
from shared.services.events import notify, subscribe
from shared.storage.event_messages import CallbackRetry, EventMessage, FanOut, decode

START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
PAYLOAD = {"MessageName": EVENT, "InputParameters": {"BackgroundOperationId": "op"}}


class Clock:
    """One fake time for the services (a datetime) and for the queue's visibility (seconds)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return (self.now - START).total_seconds()

    def pass_(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Receivers:
    """Stands in for every receiver: answers each POST with the next of its scripted answers."""

    def __init__(self, *answers: int | str) -> None:
        self.answers, self.posts = list(answers), []

    def post(self, url, payload, **options) -> Delivery:
        self.posts.append((url, payload))
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, str):  # a connection error or a timeout
            return Delivery(False, answer, retryable=True)
        return Delivery(answer < 300, str(answer), answer, retryable=answer == 429 or answer >= 500)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(memory_svc, clock):
    return dataclasses.replace(memory_svc, queue=MemoryWorkQueue(clock=clock.seconds), clock=clock,
                               settings=dataclasses.replace(memory_svc.settings, allow_http_callbacks=True,
                                                            callback_retry_base_seconds=2.0))


def receivers(monkeypatch, *answers) -> Receivers:
    fake = Receivers(*answers)
    monkeypatch.setattr(events, "post_once", fake.post)
    monkeypatch.setattr(callbacks, "post_once", fake.post)
    return fake


def subscriber(svc) -> str:
    return subscribe(svc, EVENT, {"NotificationUrl": "https://flow.example/hook"}, START).id


def queued(svc) -> list[EventMessage | CallbackRetry]:
    """Every events-queue message visible now, received (and deleted, as the host does once it returns)."""
    found = []
    while (message := svc.queue.receive(events=True)) is not None:
        svc.queue.delete(message.id, message.pop_receipt, events=True)
        found.append(decode(message.body))
    return found


def test_a_failed_attempt_queues_the_next_for_when_its_pause_is_over_and_records_the_failure(svc, clock, monkeypatch):
    fake, sub_id = receivers(monkeypatch, 500), subscriber(svc)
    notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    assert len(fake.posts) == 1 and queued(svc) == []  # one attempt; the next waits for its pause (2 s ± 20 %)
    clock.pass_(3)
    [again] = queued(svc)
    assert (again.attempt, again.since) == (2, START)
    counted = svc.subscription_cache.get(sub_id)  # counted by this instance; written only when it pauses
    assert (counted.failures, counted.lasterror) == (1, "500") and svc.subscriptions.get(sub_id).failures == 0
    notify(svc, again.encode())
    assert len(fake.posts) == 2 and svc.subscription_cache.get(sub_id).failures == 0  # delivered: count cleared


def test_a_subscriber_failing_five_times_in_a_row_is_paused_and_its_events_kept_untried_until_then(
        svc, clock, monkeypatch):
    fake, sub_id = receivers(monkeypatch, *[503] * BREAKER_FAILURES), subscriber(svc)
    for _ in range(BREAKER_FAILURES):
        notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    paused = svc.subscriptions.get(sub_id)  # written when its breaker opened: every instance sees it
    assert paused.paused(START) and paused.pauseduntil == START + timedelta(minutes=1) and paused.failures == 5

    notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())  # a new event while it is paused
    assert len(fake.posts) == BREAKER_FAILURES  # not tried
    clock.pass_(59)
    held = [m for m in queued(svc) if m.attempt == 1]
    assert held == []  # kept hidden until the pause is over, then spread over as long again
    clock.pass_(62)
    [kept] = [m for m in queued(svc) if m.attempt == 1]
    notify(svc, kept.encode())
    assert len(fake.posts) == BREAKER_FAILURES + 1 and not svc.subscriptions.get(sub_id).paused(clock.now)


def test_a_subscriber_that_answers_410_gone_is_unsubscribed_and_not_tried_again(svc, monkeypatch):
    fake, sub_id = receivers(monkeypatch, 410), subscriber(svc)
    notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    assert svc.subscriptions.list() == [] and queued(svc) == [] and len(fake.posts) == 1


def test_an_event_older_than_its_retention_is_dropped_untried(svc, clock, monkeypatch):
    fake, sub_id = receivers(monkeypatch), subscriber(svc)
    clock.pass_(svc.settings.event_retention_seconds + 1)
    notify(svc, EventMessage(sub_id, PAYLOAD, attempt=9, since=START).encode())
    assert fake.posts == [] and queued(svc) == []


def test_a_refusal_that_is_not_429_or_5xx_is_not_tried_again(svc, clock, monkeypatch):
    fake, sub_id = receivers(monkeypatch, 400), subscriber(svc)
    notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    clock.pass_(3600)
    assert queued(svc) == [] and len(fake.posts) == 1 and svc.subscription_cache.get(sub_id).failures == 1


def test_subscriptions_stop_at_the_limit_with_a_message_naming_the_setting(svc):
    capped = dataclasses.replace(svc, settings=dataclasses.replace(svc.settings, max_subscriptions=2))
    subscriber(capped), subscriber(capped)
    with pytest.raises(LimitReached, match="BGOPS_MAX_SUBSCRIPTIONS"):
        subscriber(capped)
    assert len(svc.subscriptions.list()) == 2


def test_a_callback_retry_claims_the_callback_afresh_makes_one_attempt_and_records_the_last(
        svc, clock, monkeypatch, make_op):
    fake = receivers(monkeypatch, 503, 200)
    op = svc.store.create(make_op(callbackurl="https://client.example/cb", status=make_op().status))
    op = svc.store.replace(op.with_changes(callbackstate=CallbackState.SENDING, callbackclaimedon=START))
    clock.pass_(60)
    notify(svc, CallbackRetry(op.id, 2).encode())
    assert len(fake.posts) == 1 and svc.store.get(op.id).callbackclaimedon == clock.now  # claimed afresh
    clock.pass_(4)  # the pause after attempt 2
    [third] = queued(svc)
    assert third == CallbackRetry(op.id, 3)
    notify(svc, third.encode())
    assert svc.store.get(op.id).callbackstate is CallbackState.DELIVERED
    assert svc.store.get(op.id).callbackresult == "200 after 3 attempt(s)"


def test_a_callback_retry_for_a_callback_settled_meanwhile_does_nothing(svc, monkeypatch, make_op):
    fake = receivers(monkeypatch)
    op = svc.store.create(make_op(callbackurl="https://client.example/cb", callbackstate=CallbackState.DELIVERED))
    notify(svc, CallbackRetry(op.id, 2).encode())
    assert fake.posts == [] and svc.store.get(op.id).etag == op.etag


def test_a_paused_subscribers_event_is_queued_for_when_its_pause_is_over_not_tried_first(svc, clock, monkeypatch,
                                                                                       make_op):
    receivers(monkeypatch, *[503] * BREAKER_FAILURES)
    sub_id = subscriber(svc)
    for _ in range(BREAKER_FAILURES):
        notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    queued(svc)  # (the failed ones' next attempts)
    op = svc.store.create(make_op(eventsstate=EVENTS_OWED))
    events.publish_owed(svc, op)
    assert queued(svc) == []  # not now: once the pause (a minute) is over, spread over as long again
    clock.pass_(121)
    [kept] = [m for m in queued(svc) if isinstance(m, FanOut)]  # (with the failed events' next attempts)
    assert kept.subscribers == (sub_id,)  # one message for all that had to wait
    notify(svc, kept.encode())
    assert [(m.subscription_id, m.attempt) for m in queued(svc)] == [(sub_id, 1)]


def test_events_kept_for_many_paused_subscribers_come_back_spread_over_the_pause_not_at_its_end(svc, clock, monkeypatch,
                                                                                              make_op):
    """One message keeps an event for twenty paused subscribers; it comes back once, spread over as long again
    as the pause (a minute): not at the soonest of twenty spreads, which crowds the pause's end."""
    receivers(monkeypatch, *[503] * (20 * BREAKER_FAILURES))
    subs = [subscriber(svc) for _ in range(20)]
    for sub_id in subs:
        for _ in range(BREAKER_FAILURES):
            notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    before = set(svc.queue.events)
    for _ in range(100):
        events.publish_owed(svc, svc.store.create(make_op(eventsstate=EVENTS_OWED)))
    kept = sorted(m.visible_at - clock.seconds() for i, m in svc.queue.events.items() if i not in before)
    assert len(kept) == 100 and kept[0] > 59 and kept[-1] <= 121
    assert 80 < kept[50] < 100  # the median of a spread over a minute, after the minute


def test_when_a_pause_is_over_one_delivery_is_tried_and_the_kept_events_wait_for_its_answer(svc, clock, monkeypatch):
    """The breaker is half open: the first kept event that comes back is tried, and the others are put off
    while it is on its way (not all sent to a subscriber that may still be down); once it works, they go."""
    monkeypatch.setattr(events, "PATIENCE_SECONDS", 0.01)
    fake, started, answered = Receivers(*[503] * BREAKER_FAILURES), [], threading.Event()

    def post(url, payload, **options):
        started.append(url)
        if len(started) > BREAKER_FAILURES:  # the try when the pause is over: on its way until answered
            answered.wait(10)
        return fake.post(url, payload, **options)

    monkeypatch.setattr(events, "post_once", post)
    sub_id = subscriber(svc)
    for _ in range(BREAKER_FAILURES):
        notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    clock.pass_(61)  # the pause is over
    for _ in range(3):
        notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    assert len(started) == BREAKER_FAILURES + 1  # one tried; two put off
    answered.set()
    wait_until(lambda: not svc.subscription_cache.busy(sub_id, 1), message="the try to end")
    assert svc.subscriptions.get(sub_id).pauseduntil is None  # it worked: the breaker is closed
    clock.pass_(21)
    for message in [m for m in queued(svc) if m.attempt == 1]:
        notify(svc, message.encode())
    assert len(fake.posts) == BREAKER_FAILURES + 3


def test_a_fan_out_sends_those_that_may_be_tried_now_and_keeps_the_others_in_one_message(svc, clock, monkeypatch,
                                                                                        make_op):
    receivers(monkeypatch, *[503] * BREAKER_FAILURES)
    paused, busy, ready = subscriber(svc), subscriber(svc), subscriber(svc)
    for _ in range(BREAKER_FAILURES):
        notify(svc, EventMessage(paused, PAYLOAD, since=START).encode())
    queued(svc)
    events.publish_owed(svc, svc.store.create(make_op(eventsstate=EVENTS_OWED)))
    [every] = queued(svc)  # three subscribers: the worker sends one fan-out
    assert isinstance(every, FanOut) and every.subscribers is None
    with svc.subscription_cache.delivering(busy, 2), svc.subscription_cache.delivering(busy, 2):  # two on their way
        notify(svc, every.encode())
    [now] = queued(svc)
    assert now.subscription_id == ready
    clock.pass_(121)
    later = [m for m in queued(svc) if isinstance(m, FanOut)]
    assert [sorted(m.subscribers) for m in later] == [sorted((paused, busy))]


def test_subscribers_counted_by_two_instances_are_paused_once_not_twice(svc, clock, monkeypatch):
    """Another instance paused it meanwhile: this one's write conflicts, and it takes that pause up instead
    of doubling it."""
    receivers(monkeypatch, *[503] * (2 * BREAKER_FAILURES)), subscriber(svc)
    sub_id = svc.subscriptions.list()[0].id
    other = dataclasses.replace(svc, subscription_cache=type(svc.subscription_cache)(svc.subscriptions.list))
    for _ in range(BREAKER_FAILURES - 1):
        notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
        notify(other, EventMessage(sub_id, PAYLOAD, since=START).encode())
    notify(other, EventMessage(sub_id, PAYLOAD, since=START).encode())  # the other instance pauses it
    notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())  # this one's fifth: conflict
    assert svc.subscriptions.get(sub_id).pauseduntil == START + timedelta(minutes=1)
    assert svc.subscription_cache.get(sub_id).paused(START)


@pytest.mark.parametrize("answer, watch_left", [(200, False), (503, True)])
def test_an_attempt_that_outlasts_the_patience_gives_the_slot_back_and_a_message_stands_in_for_it(
        svc, clock, monkeypatch, answer, watch_left):
    """notify returns while the attempt goes on; the event's next attempt is queued for when this one must
    have ended (so that it is not lost with the instance), then deleted once it worked, or brought forward
    to its pause once it failed."""
    monkeypatch.setattr(events, "PATIENCE_SECONDS", 0.01)
    answered = threading.Event()
    fake = Receivers(answer)

    def slow(url, payload, **options):
        answered.wait(10)
        return fake.post(url, payload, **options)

    monkeypatch.setattr(events, "post_once", slow)
    sub_id = subscriber(svc)
    notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())  # returns: the attempt goes on
    assert fake.posts == [] and len(svc.queue.events) == 1 and queued(svc) == []  # standing in, not yet due
    answered.set()
    wait_until(lambda: fake.posts and not svc.subscription_cache.busy(sub_id, 2) and
               (len(svc.queue.events) == 0) is not watch_left, message="the attempt to end and its message to change")
    clock.pass_(3)  # the pause after a first attempt (2 s, and its jitter)
    assert [(m.subscription_id, m.attempt) for m in queued(svc)] == ([(sub_id, 2)] if watch_left else [])
