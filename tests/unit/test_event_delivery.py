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

from shared.domain import subscriptions as subscriptions_module
from shared.domain.errors import LimitReached, StorageUnavailable
from shared.domain.operation import EVENTS_OWED, CallbackState
from shared.domain.states import Status
from shared.domain.subscriptions import (
    BREAKER_FAILURES,
    EVENT,
    INLINE_OUTPUTS_BYTES,
    INLINE_OUTPUTS_DEPTH,
    event_payload,
    kept_key,
)
from shared.services import callbacks, events
from shared.services import kept as kept_module
from shared.services.delivery import Delivery
from shared.services.events import notify, subscribe
from shared.storage.event_messages import CallbackRetry, Drain, EventMessage, FanOut, decode
from shared.storage.ports import KeptEvent

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


@pytest.fixture(autouse=True)
def exact_pauses(monkeypatch):
    """Pauses of exactly a minute, two, four... (their spread is tested in test_subscriptions.py)."""
    monkeypatch.setattr(subscriptions_module, "PAUSE_SPREAD", 0.0)


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


def event(n: int) -> dict:
    return {"MessageName": EVENT, "InputParameters": {"BackgroundOperationId": f"op{n}"}}


def pause(svc, sub_id: str) -> str:
    """Fail BREAKER_FAILURES deliveries to the subscriber (the receivers answer 503): its breaker opens for a
    minute; the failed events' next tries are taken off the queue (not the drain queued for the pause's end)."""
    for _ in range(BREAKER_FAILURES):
        notify(svc, EventMessage(sub_id, PAYLOAD, since=START).encode())
    assert svc.subscriptions.get(sub_id).paused(svc.clock())
    for message_id, message in list(svc.queue.events.items()):
        if isinstance(decode(message.body), EventMessage):
            del svc.queue.events[message_id]
    return sub_id


def deliver_all(svc, message) -> None:
    """Notify ``message``, then every events-queue message that is visible now, until none is."""
    notify(svc, message.encode())
    while found := queued(svc):
        for again in found:
            notify(svc, again.encode())


def run_for(svc, clock, seconds: float) -> None:
    """Let ``seconds`` pass a second at a time, delivering every message as it comes due."""
    for _ in range(int(seconds)):
        clock.pass_(1)
        for message in queued(svc):
            deliver_all(svc, message)


def queued(svc) -> list[EventMessage | CallbackRetry | FanOut | Drain]:
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

    notify(svc, EventMessage(sub_id, event(1), since=START).encode())  # a new event while it is paused
    assert len(fake.posts) == BREAKER_FAILURES  # not tried
    assert svc.kept.waiting(sub_id, 10)[0].payload == event(1)
    clock.pass_(59)
    assert [m for m in queued(svc) if not isinstance(m, EventMessage)] == []  # kept, and nothing looks at it
    clock.pass_(2)
    [drain] = [m for m in queued(svc) if isinstance(m, Drain)]  # the pause is over: its kept events are sent
    assert drain.subscription_id == sub_id
    deliver_all(svc, drain)
    assert fake.posts[-1][1] == event(1) and not svc.subscriptions.get(sub_id).paused(clock.now)
    assert svc.kept.waiting(sub_id, 10) == []


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


def test_a_paused_subscribers_event_is_kept_not_queued(svc, clock, monkeypatch, make_op):
    receivers(monkeypatch, *[503] * BREAKER_FAILURES)
    sub_id = pause(svc, subscriber(svc))
    op = svc.store.create(make_op(eventsstate=EVENTS_OWED))
    events.publish_owed(svc, op)
    assert queued(svc) == [] and svc.store.get(op.id).eventsstate == "published"
    [kept] = svc.kept.waiting(sub_id, 10)
    assert (kept.payload["InputParameters"]["BackgroundOperationId"], kept.since) == (op.id, START)


def test_nothing_looks_at_the_events_kept_for_paused_subscribers_until_a_pause_is_over_then_one_try_each(
        svc, clock, monkeypatch, make_op):
    """A hundred events for twenty paused subscribers: a write each and no message, however long the pause;
    when it is over, one drain per subscriber, which tries one kept event; those that fail again are paused
    again (twice as long) and their other events stay kept, untouched."""
    fake = receivers(monkeypatch, *[503] * (20 * BREAKER_FAILURES + 20))
    subs = [pause(svc, subscriber(svc)) for _ in range(20)]
    for _ in range(100):
        events.publish_owed(svc, svc.store.create(make_op(eventsstate=EVENTS_OWED)))
    assert len(svc.queue.events) == 20 and all(len(svc.kept.waiting(s, 1000)) == 100 for s in subs)  # the drains
    clock.pass_(59)
    assert queued(svc) == []
    clock.pass_(2)
    drains = queued(svc)
    assert sorted(d.subscription_id for d in drains if isinstance(d, Drain)) == sorted(subs) and len(drains) == 20
    tries = len(fake.posts)
    for drain in drains:
        deliver_all(svc, drain)
    assert len(fake.posts) == tries + 20  # one try each
    assert all(svc.subscriptions.get(s).pauseduntil == clock.now + timedelta(minutes=2) for s in subs)
    clock.pass_(30)
    for message in queued(svc):  # the tries' next attempts, and the drains' second looks: all paused again
        deliver_all(svc, message)
    assert all(len(svc.kept.waiting(s, 1000)) == 100 for s in subs) and len(fake.posts) == tries + 20
    clock.pass_(89)
    assert queued(svc) == []


def test_once_the_one_try_works_the_kept_events_go_in_order_a_page_at_a_time_then_one_last_look(
        svc, clock, monkeypatch):
    fake = receivers(monkeypatch, *[503] * BREAKER_FAILURES)
    sub_id = pause(svc, subscriber(svc))
    count = kept_module.DRAIN_PAGE + 5
    for n in range(count):
        notify(svc, EventMessage(sub_id, event(n), since=START).encode())
        clock.pass_(0.001)
    clock.pass_(61)
    [drain] = queued(svc)
    posts = len(fake.posts)
    deliver_all(svc, drain)  # the one try works, the breaker closes and its drain sends the first page
    assert len(fake.posts) < posts + 10  # not all at once: spread over DRAIN_PAGE_SECONDS
    run_for(svc, clock, 2 * kept_module.DRAIN_PAGE_SECONDS)  # the rest of the page, then the next
    sent = [payload["InputParameters"]["BackgroundOperationId"] for _, payload in fake.posts[posts:]]
    assert sent == [f"op{n}" for n in range(count)]  # in the order they were kept
    assert svc.kept.waiting(sub_id, 10) == []
    svc.kept.keep(KeptEvent(kept_key(START, "late"), event(998), START), [sub_id])  # kept as the pause ended
    clock.pass_(kept_module.LAST_LOOK_SECONDS)
    for message in queued(svc):
        deliver_all(svc, message)
    assert fake.posts[-1][1] == event(998) and svc.kept.waiting(sub_id, 10) == []
    clock.pass_(kept_module.LAST_LOOK_SECONDS)
    assert queued(svc) == []  # one last look, not one every half minute


def test_a_drain_reads_from_when_the_breaker_opened_and_each_page_goes_on_from_where_the_last_ended(
        svc, clock, monkeypatch):
    """Nothing kept before the breaker opened is read again (the rows stay until their retention ends: a drain
    that read from the start would read every event it ever sent)."""
    receivers(monkeypatch, *[503] * BREAKER_FAILURES)
    sub_id = pause(svc, subscriber(svc))
    opened = svc.subscriptions.get(sub_id).pausedsince
    for n in range(kept_module.DRAIN_PAGE + 1):
        notify(svc, EventMessage(sub_id, event(n), since=START).encode())
        clock.pass_(0.001)
    reads, waiting = [], svc.kept.waiting
    monkeypatch.setattr(svc.kept, "waiting",
                        lambda sub, count, after="": reads.append(after) or waiting(sub, count, after))
    clock.pass_(61)
    run_for(svc, clock, 2 * kept_module.DRAIN_PAGE_SECONDS)
    assert waiting(sub_id, 1000) == []  # all sent
    assert reads[0] == kept_key(opened - kept_module.CLOCK_SKEW, "")  # the try, then the first page, from there
    last_of_first_page = kept_key(START + timedelta(milliseconds=kept_module.DRAIN_PAGE), f"op{kept_module.DRAIN_PAGE}")
    assert reads == [reads[0], reads[0], last_of_first_page]


def test_the_purge_drops_kept_events_past_retention_and_sends_those_of_a_subscriber_no_longer_paused(
        svc, clock, monkeypatch):
    fake = receivers(monkeypatch, *[503] * BREAKER_FAILURES)
    sub_id = pause(svc, subscriber(svc))
    notify(svc, EventMessage(sub_id, event(1), since=START).encode())
    clock.pass_(61)
    queued(svc)  # its drain, lost
    notify(svc, EventMessage(sub_id, event(2), since=clock.now).encode())  # a new event: the try, it works
    queued(svc)  # the closing's drain, lost too
    assert kept_module.tidy_kept(svc) == 0
    [drain] = queued(svc)
    deliver_all(svc, drain)
    assert fake.posts[-1][1] == event(1)
    run_for(svc, clock, kept_module.LAST_LOOK_SECONDS + 1)
    svc.kept.keep(KeptEvent(kept_key(clock.now, "old"), event(3), clock.now), [sub_id])
    clock.pass_(svc.settings.event_retention_seconds + 1)
    assert kept_module.tidy_kept(svc) == 2  # the one sent again (rows stay until then) and the one still kept
    assert svc.kept.waiting(sub_id, 10) == [] and queued(svc) == []


def test_when_a_pause_is_over_one_delivery_is_tried_and_the_kept_events_wait_for_its_answer(svc, clock, monkeypatch):
    """The breaker is half open: the first event that comes is tried, and the others are kept while it is on
    its way (not all sent to a subscriber that may still be down); once it works, they go."""
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
    queued(svc)  # (its drain: nothing was kept)
    for n in range(3):
        notify(svc, EventMessage(sub_id, event(n), since=START).encode())
    assert len(started) == BREAKER_FAILURES + 1 and len(svc.kept.waiting(sub_id, 10)) == 2  # one tried; two kept
    answered.set()
    wait_until(lambda: not svc.subscription_cache.busy(sub_id, 1), message="the try to end")
    assert svc.subscriptions.get(sub_id).pauseduntil is None  # it worked: the breaker is closed
    run_for(svc, clock, 2)  # and its drain sends the two kept
    assert len(fake.posts) == BREAKER_FAILURES + 3 and svc.kept.waiting(sub_id, 10) == []


def test_a_fan_out_sends_those_that_may_be_tried_now_and_keeps_the_others_in_one_message(svc, clock, monkeypatch,
                                                                                        make_op):
    receivers(monkeypatch, *[503] * BREAKER_FAILURES)
    paused, busy, ready, also_ready = pause(svc, subscriber(svc)), subscriber(svc), subscriber(svc), subscriber(svc)
    events.publish_owed(svc, svc.store.create(make_op(eventsstate=EVENTS_OWED)))
    [every] = queued(svc)  # more than two subscribers that are not paused: the worker sends one fan-out
    assert isinstance(every, FanOut) and sorted(every.subscribers) == sorted((busy, ready, also_ready))
    assert len(svc.kept.waiting(paused, 10)) == 1  # and keeps the event for the paused one
    with svc.subscription_cache.delivering(busy, 2), svc.subscription_cache.delivering(busy, 2):  # two on their way
        notify(svc, every.encode())
    assert sorted(m.subscription_id for m in queued(svc)) == sorted((ready, also_ready))
    clock.pass_(21)
    later = [m for m in queued(svc) if isinstance(m, FanOut)]
    assert [m.subscribers for m in later] == [(busy,)]


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


def _nested(depth: int) -> dict:
    return {"Level": _nested(depth - 1)} if depth else {"End": True}


def test_an_events_outputs_are_read_from_the_row_at_each_delivery_never_carried_in_its_messages(
        svc, clock, monkeypatch, make_op):
    fake, sub_id = receivers(monkeypatch, 503, 200), subscriber(svc)
    outputs = {"Deep": _nested(20), "Blob": "x" * 100_000}  # deeper and larger than a message may be
    op = svc.store.create(make_op(status=Status.SUCCEEDED, outputs=outputs))
    payload = event_payload(op, "https://app/api/backgroundoperation/x")
    assert payload["OutputParameters"]["Outputs"] is None
    notify(svc, EventMessage(sub_id, payload, since=START).encode())
    clock.pass_(3)
    [again] = queued(svc)
    assert again.payload == payload  # the next attempt's message: the outputs still to be read
    notify(svc, again.encode())
    assert [posted["OutputParameters"]["Outputs"] for _, posted in fake.posts] == [outputs, outputs]


def test_small_outputs_travel_in_the_event_none_say_empty_and_those_of_a_row_gone_say_null(
        svc, monkeypatch, make_op):
    fake, sub_id = receivers(monkeypatch), subscriber(svc)
    small = make_op(status=Status.SUCCEEDED, outputs={"A": 1, "Deep": _nested(INLINE_OUTPUTS_DEPTH - 2)})
    failed = make_op(status=Status.FAILED, outputs={"Partial": 1})
    gone = make_op(status=Status.SUCCEEDED, outputs={"Blob": "x" * INLINE_OUTPUTS_BYTES})  # never written: as if
    # purged

    reads, read = [], svc.store.get
    monkeypatch.setattr(svc.store, "get", lambda operation_id: reads.append(operation_id) or read(operation_id))
    for op in (small, failed, gone):
        notify(svc, EventMessage(sub_id, event_payload(op, "https://app/x"), since=START).encode())
    assert [posted["OutputParameters"]["Outputs"] for _, posted in fake.posts] == [small.outputs, {}, None]
    assert reads == [gone.id]  # small ones cost no read


def test_an_event_whose_outputs_cannot_be_read_is_not_posted_and_its_message_comes_again(svc, monkeypatch, make_op):
    fake, sub_id = receivers(monkeypatch), subscriber(svc)
    op = svc.store.create(make_op(status=Status.SUCCEEDED, outputs={"Blob": "x" * 10_000}))

    def down(operation_id):
        raise StorageUnavailable("Table storage failed to read a row: the service did not answer")

    monkeypatch.setattr(svc.store, "get", down)
    with pytest.raises(StorageUnavailable):  # the host gets the message again
        notify(svc, EventMessage(sub_id, event_payload(op, "https://app/x"), since=START).encode())
    assert fake.posts == [] and svc.subscription_cache.get(sub_id).failures == 0  # not the subscriber's fault
