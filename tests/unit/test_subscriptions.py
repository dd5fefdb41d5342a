"""Event subscriptions (shared/domain/subscriptions.py) and their cache (shared/services/subscription_cache.py)."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.errors import InvalidRequest
from shared.domain.states import Status
from shared.domain.subscriptions import (
    INLINE_OUTPUTS_BYTES,
    INLINE_OUTPUTS_DEPTH,
    MAX_PAUSE,
    Subscription,
    after_delivery,
    check_event,
    check_filter,
    event_payload,
    mask_url,
)
from shared.services.subscription_cache import SubscriptionCache


def sub(name: str = "") -> Subscription:
    return Subscription(id="s1", event="OnBackgroundOperationComplete",
                        notification_url="https://flow.example/hook?sig=SECRET", operation_name=name)


@pytest.mark.parametrize("url, masked", [
    ("https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers?sig=XYZ",
     "https://prod-01.westus.logic.azure.com:443/***"),
    ("https://user:pass@host.example/p", "https://host.example/***"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9000/***"),
])
def test_a_notification_url_is_shown_with_its_path_query_and_credentials_hidden(url, masked):
    assert mask_url(url) == masked


def test_the_url_is_not_in_the_repr():
    assert "SECRET" not in repr(sub())


def test_a_filter_matches_the_name_regardless_of_case_and_no_filter_matches_all(make_op):
    assert sub("SAMPLE_echo").matches(make_op(name="sample_Echo"))
    assert not sub("sample_Fail").matches(make_op(name="sample_Echo"))
    assert sub().matches(make_op(name="anything"))


@pytest.mark.parametrize("value, message", [
    ("sample_Echo", "Filter must be an object"), ({"status": 30}, "no field 'status'"),
    ({"name": ""}, "Filter.name must be"), ({"name": 7}, "Filter.name must be")])
def test_a_bad_filter_is_refused_saying_what_it_can_be(value, message):
    with pytest.raises(InvalidRequest, match=message):
        check_filter(value)


def test_no_filter_and_a_name_filter_are_read():
    assert check_filter(None) == "" and check_filter({"name": "sample_Echo"}) == "sample_Echo"


def test_the_event_name_is_matched_regardless_of_case_and_an_unknown_one_named():
    assert check_event("onbackgroundoperationcomplete") == "OnBackgroundOperationComplete"
    with pytest.raises(InvalidRequest, match="subscribe to: OnBackgroundOperationComplete"):
        check_event("OnSomething")


def test_the_payload_carries_the_documented_parameters_and_the_outputs_of_a_success_only(make_op):
    op = make_op(status=Status.FAILED, name="sample_Fail", outputs={"Partial": 1})
    assert event_payload(op, "https://app/api/backgroundoperation/x") == {
        "MessageName": "OnBackgroundOperationComplete",
        "InputParameters": {"PayloadType": 0, "LocationUrl": "https://app/api/backgroundoperation/x",
                            "BackgroundOperationId": op.id},
        "OutputParameters": {"BackgroundOperationStateCode": 3, "BackgroundOperationStatusCode": 31,
                             "OperationName": "sample_Fail", "Outputs": {}}}  # outputs only of a success


def test_outputs_travel_in_the_event_up_to_its_size_and_depth_and_are_read_when_delivered_beyond(make_op):
    def _outputs(outputs) -> dict | None:
        return event_payload(make_op(status=Status.SUCCEEDED, outputs=outputs), "x")["OutputParameters"]["Outputs"]

    deep = {"End": True}
    for _ in range(INLINE_OUTPUTS_DEPTH - 1):
        deep = {"Level": deep}
    fits = {"Blob": "x" * (INLINE_OUTPUTS_BYTES - len('{"Blob":""}'))}
    assert _outputs(deep) == deep and _outputs(fits) == fits and _outputs({}) == {} and _outputs(None) == {}
    assert _outputs({"Level": deep}) is None  # one level deeper
    assert _outputs({"Blob": fits["Blob"] + "x"}) is None  # one byte larger
    assert _outputs({"Blob": "é" * (INLINE_OUTPUTS_BYTES // 2)}) is None  # counted in bytes of UTF-8
    nested: list = []
    for _ in range(5_000):  # deeper than json.dumps may go: stops at the depth, never recurses
        nested = [nested]
    assert _outputs({"Nested": nested}) is None


def test_the_cache_reads_the_list_once_per_ttl_and_again_after_invalidate(make_op):
    reads, now = [], [0.0]
    cache = SubscriptionCache(lambda: reads.append(1) or [sub()], ttl_seconds=30, clock=lambda: now[0])
    op = make_op()
    for moment in (0.0, 10.0, 29.9):
        now[0] = moment
        assert cache.matching(op) == [sub()]
    assert len(reads) == 1
    now[0] = 30.0
    cache.matching(op)
    cache.invalidate()
    cache.matching(op)
    assert len(reads) == 3


NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class Fixed(random.Random):
    """Draws ``value`` every time."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_a_subscriber_is_paused_at_its_fifth_failure_in_a_row_and_each_failed_try_after_doubles_the_pause():
    current, pauses = sub(), []
    for failure in range(1, 9):
        current = after_delivery(current, False, "503", NOW, rng=Fixed(0.0))
        pauses.append(None if current.pauseduntil is None else (current.pauseduntil - NOW).total_seconds())
        assert current.failures == failure and current.lasterror == "503"
    assert pauses == [None] * 4 + [60, 120, 240, 480]
    assert current.paused(NOW) and not current.paused(current.pauseduntil)


def test_the_breaker_remembers_when_it_opened_after_being_closed_where_the_kept_events_are_found_from():
    first = after_delivery(dataclasses.replace(sub(), failures=4), False, "500", NOW)
    assert first.pausedsince == NOW
    again = after_delivery(first, False, "500", NOW + timedelta(minutes=1))  # its try failed: opened again
    assert again.pausedsince == NOW and again.pauseduntil > first.pauseduntil
    closed = after_delivery(again, True, "200", NOW + timedelta(minutes=3))  # its drain goes on from then
    assert (closed.pauseduntil, closed.pausedsince) == (None, NOW)
    later = after_delivery(dataclasses.replace(closed, failures=4), False, "500", NOW + timedelta(hours=1))
    assert later.pausedsince == NOW + timedelta(hours=1)


def test_the_pause_never_passes_an_hour_and_a_fifth():
    long_failing = dataclasses.replace(sub(), failures=40)
    assert after_delivery(long_failing, False, "Timeout", NOW, rng=Fixed(0.0)).pauseduntil == NOW + MAX_PAUSE
    assert after_delivery(long_failing, False, "Timeout", NOW, rng=Fixed(0.999999)).pauseduntil < NOW + 1.2 * MAX_PAUSE


def test_subscribers_paused_at_once_are_paused_until_different_moments_up_to_a_fifth_longer():
    """A shared outage pauses them together: their tries when the pauses end are spread, not all at once."""
    ends = [after_delivery(dataclasses.replace(sub(), failures=4), False, "503", NOW).pauseduntil for _ in range(50)]
    seconds = sorted((end - NOW).total_seconds() for end in ends)
    assert seconds[0] >= 60 and seconds[-1] <= 72 and seconds[-1] - seconds[0] > 6 and len(set(seconds)) > 40


def test_a_delivery_that_works_closes_the_breaker_and_on_a_healthy_subscriber_writes_nothing():
    paused = after_delivery(dataclasses.replace(sub(), failures=4), False, "500", NOW)
    assert paused.paused(NOW)
    healed = after_delivery(paused, True, "200", NOW)
    assert (healed.failures, healed.pauseduntil, healed.lasterror) == (0, None, "")
    assert after_delivery(sub(), True, "200", NOW) is None


def test_the_cache_counts_this_instances_failures_across_reloads_until_the_breaker_opens_or_closes():
    stored = [sub()]
    clock = [0.0]
    cache = SubscriptionCache(lambda: list(stored), ttl_seconds=30, clock=lambda: clock[0])
    cache.record(after_delivery(cache.get("s1"), False, "500", NOW))
    clock[0] += 31  # reloaded: the count written nowhere yet is kept
    assert cache.get("s1").failures == 1 and cache.get("s1").lasterror == "500"
    stored[0] = dataclasses.replace(sub(), failures=5, pauseduntil=NOW)  # another instance paused it
    clock[0] += 31
    assert cache.get("s1").failures == 5 and cache.get("s1").pauseduntil == NOW  # the stored breaker wins


def test_at_most_two_deliveries_to_one_subscriber_are_in_flight_in_an_instance():
    cache = SubscriptionCache(lambda: [sub()])
    with cache.delivering("s1", 2) as first, cache.delivering("s1", 2) as second, cache.delivering("s1", 2) as third:
        assert (first, second, third) == (True, True, False)
        with cache.delivering("s2", 2) as other:
            assert other
    with cache.delivering("s1", 2) as again:
        assert again  # the slots are given back


def test_the_one_try_a_subscriber_gets_when_its_pause_is_over_is_taken_once_until_it_may_have_ended():
    clock = [0.0]
    cache = SubscriptionCache(lambda: [sub()], clock=lambda: clock[0])
    assert not cache.trial_taken("s1")
    assert cache.take_trial("s1", 25) and cache.trial_taken("s1")
    assert not cache.take_trial("s1", 25) and cache.take_trial("s2", 25)  # one each
    clock[0] += 25  # it may have ended: another may be taken
    assert not cache.trial_taken("s1") and cache.take_trial("s1", 25)
