"""Subscriptions to OnBackgroundOperationComplete: subscribe, receive, unsubscribe, and bad input."""

from __future__ import annotations

import time

import jsonschema
import pytest
import requests
from helpers import CallbackServer, wait_until
from power_automate import dynamic_schema

EVENT_URL = "webhooks/OnBackgroundOperationComplete"


@pytest.fixture(scope="module")
def receiver():
    server = CallbackServer()
    yield server
    server.stop()


@pytest.fixture
def subscribe(events_app):
    """``subscribe(url, **filter)``: a subscription, deleted after the test."""
    made = []

    def make(url: str, **filter_fields):
        body = {"NotificationUrl": url, **({"Filter": filter_fields} if filter_fields else {})}
        response = requests.post(events_app.url(EVENT_URL), json=body, timeout=10)
        assert response.status_code == 201, response.text
        made.append(response.headers["Location"])
        return response

    yield make
    for location in made:
        requests.delete(location, timeout=10)


def _finish(app, name, inputs, status) -> str:
    response = app.submit(name, inputs)
    op_id = response.json()["backgroundOperationId"]
    app.wait_for_status(op_id, status)
    return op_id


def _cancelled(app) -> str:
    op_id = app.submit("sample_Sleep", {"Seconds": 30}).json()["backgroundOperationId"]
    app.wait_for_status(op_id, 20)
    requests.delete(app.url(f"backgroundoperation/{op_id}"), timeout=10)
    app.wait_for_status(op_id, 32)
    return op_id


def test_subscribing_answers_201_with_location_and_the_url_masked(events_app, subscribe, receiver):
    url = receiver.new_url()
    response = subscribe(url, name="SAMPLE_ECHO")
    body = response.json()
    assert response.headers["Location"] == events_app.url(f"webhooks/{body['id']}")
    assert body["eventName"] == "OnBackgroundOperationComplete" and body["filter"] == {"name": "sample_Echo"}
    assert body["notificationUrl"] == f"{receiver.base}/***" and "secret" not in response.text
    listed = requests.get(events_app.url("webhooks"), timeout=10).json()["value"]
    assert body in listed and "secret" not in str(listed)
    assert requests.get(response.headers["Location"], timeout=10).json() == body


def test_every_terminal_status_reaches_the_subscriber_once_with_the_event_parameters(events_app, subscribe, receiver):
    url = receiver.new_url()
    subscribe(url)
    ids = {30: _finish(events_app, "sample_Echo", {"A": 1}, 30),
           31: _finish(events_app, "sample_Fail", {"NonRetryable": True}, 31),
           32: _cancelled(events_app)}
    names = {30: "sample_Echo", 31: "sample_Fail", 32: "sample_Sleep"}
    calls = wait_until(lambda: len(receiver.calls(url)) >= 3 and receiver.calls(url))
    received = {c["body"]["InputParameters"]["BackgroundOperationId"]: c["body"] for c in calls}
    assert set(received) == set(ids.values()) and len(calls) == 3
    for status, op_id in ids.items():
        assert received[op_id] == {
            "MessageName": "OnBackgroundOperationComplete",
            "InputParameters": {"PayloadType": 0, "LocationUrl": events_app.url(f"backgroundoperation/{op_id}"),
                                "BackgroundOperationId": op_id},
            "OutputParameters": {"BackgroundOperationStateCode": 3, "BackgroundOperationStatusCode": status,
                                 "OperationName": names[status], "Outputs": {"A": 1} if status == 30 else {}}}
    assert "secret" not in events_app.log()


def test_the_trigger_shows_the_chosen_operations_outputs_typed_and_each_event_carries_them(
        events_app, subscribe, receiver):
    url = receiver.new_url()
    card = {"NotificationUrl": url, "Filter": {"name": "sample_Sleep"}}  # the trigger's card, as the maker fills it
    subscribe(url, **card["Filter"])
    served = requests.get(events_app.url("openapi.json"), timeout=10).json()
    event = served["paths"]["/webhooks/{event}"]["x-ms-notification-content"]["schema"]["$ref"].rsplit("/", 1)[1]
    outputs = served["definitions"][event]["properties"]["OutputParameters"]["properties"]["Outputs"]
    shown = dynamic_schema(events_app.url(""), served, outputs, card)
    assert shown["properties"]["SleptSeconds"]["type"] == "number"
    assert shown["properties"]["SleptSeconds"]["x-ms-summary"] == "SleptSeconds"
    op_id = _finish(events_app, "sample_Sleep", {"Seconds": 0.1}, 30)
    [call] = wait_until(lambda: receiver.calls(url))
    assert call["body"]["InputParameters"]["BackgroundOperationId"] == op_id
    assert call["body"]["OutputParameters"]["Outputs"] == {"SleptSeconds": 0.1}
    jsonschema.validate(call["body"]["OutputParameters"]["Outputs"], shown)


def test_outputs_larger_and_deeper_than_a_queue_message_reach_the_subscriber_whole(events_app, subscribe, receiver):
    url, deep = receiver.new_url(), {"End": True}
    for _ in range(10):
        deep = {"Level": deep}
    subscribe(url, name="sample_Echo")
    inputs = {"Blob": "x" * 100_000, "Deep": deep}
    op_id = _finish(events_app, "sample_Echo", inputs, 30)
    [call] = wait_until(lambda: receiver.calls(url))
    assert call["body"]["InputParameters"]["BackgroundOperationId"] == op_id
    assert call["body"]["OutputParameters"]["Outputs"] == inputs


def test_a_filter_on_the_name_receives_only_that_operation(events_app, subscribe, receiver):
    echo_only, everything = receiver.new_url(), receiver.new_url()
    subscribe(echo_only, name="sample_Echo")
    subscribe(everything)
    fail_id = _finish(events_app, "sample_Fail", {"NonRetryable": True}, 31)
    echo_id = _finish(events_app, "sample_Echo", {}, 30)
    wait_until(lambda: len(receiver.calls(everything)) >= 2)
    wait_until(lambda: receiver.calls(echo_only))
    assert [c["body"]["InputParameters"]["BackgroundOperationId"] for c in receiver.calls(echo_only)] == [echo_id]
    assert fail_id in [c["body"]["InputParameters"]["BackgroundOperationId"] for c in receiver.calls(everything)]


def test_a_dead_subscriber_delays_neither_the_operation_nor_its_callback_nor_the_others_and_is_paused(
        events_app, subscribe, receiver):
    slow = CallbackServer()
    try:
        dead, alive, callback = slow.new_url(answers=(503,) * 10), receiver.new_url(), receiver.new_url()
        location = subscribe(dead).headers["Location"]
        subscribe(alive)
        started = time.monotonic()
        op_id = events_app.submit("sample_Echo", {}, callback).json()["backgroundOperationId"]
        wait_until(lambda: receiver.calls(callback) and receiver.calls(alive), timeout=10)
        assert time.monotonic() - started < 5  # the dead one's retries (0.2, 0.4, 0.8, 1.6 s apart) run apart
        assert events_app.row(op_id)["backgroundoperationstatuscode"] == 30
        wait_until(lambda: len(slow.calls(dead)) == 5, timeout=15)  # its fifth failure in a row pauses it
        shown = wait_until(lambda: (r := requests.get(location, timeout=10).json())["status"] == "Paused" and r,
                           message="the subscription to show it is paused")
        assert shown["consecutiveFailures"] == 5 and shown["lastError"] == "503" and shown["pausedUntil"]
        assert "notificationUrl" in shown and "?" not in shown["notificationUrl"]  # still masked
    finally:
        slow.stop()


def test_a_subscriber_that_answers_410_gone_is_unsubscribed(events_app, subscribe, receiver):
    url = receiver.new_url(answers=(410,))
    location = subscribe(url).headers["Location"]
    _finish(events_app, "sample_Echo", {}, 30)
    wait_until(lambda: requests.get(location, timeout=10).status_code == 404, message="the 410 to unsubscribe")
    assert len(receiver.calls(url)) == 1


def test_unsubscribing_stops_the_events_and_a_second_delete_is_404(events_app, subscribe, receiver):
    url, witness = receiver.new_url(), receiver.new_url()
    location = requests.post(events_app.url(EVENT_URL), json={"NotificationUrl": url}, timeout=10).headers["Location"]
    subscribe(witness)
    assert requests.delete(location, timeout=10).status_code == 204
    assert requests.delete(location, timeout=10).status_code == 404
    op_id = _finish(events_app, "sample_Echo", {}, 30)
    wait_until(lambda: op_id in [c["body"]["InputParameters"]["BackgroundOperationId"]
                                 for c in receiver.calls(witness)], message="the witness to get the event")
    assert receiver.calls(url) == []


@pytest.mark.parametrize("path, body, status, words", [
    (EVENT_URL, {}, 400, "NotificationUrl must be a non-empty string"),
    (EVENT_URL, {"NotificationUrl": "not a url"}, 400, "NotificationUrl must be an absolute"),
    (EVENT_URL, {"NotificationUrl": "https://"}, 400, "NotificationUrl must be an absolute"),
    (EVENT_URL, {"NotificationUrl": "https://x.example/h", "Filter": {"status": 30}}, 400, "no field 'status'"),
    (EVENT_URL, {"NotificationUrl": "https://x.example/h", "Filter": {"name": "nope"}}, 400, "no operation named"),
    (EVENT_URL, {"NotificationUrl": "https://x.example/h", "Filter": "sample_Echo"}, 400, "Filter must be an object"),
    (EVENT_URL, {"NotificationUrl": "https://x.example/h", "Extra": 1}, 400, "no field 'Extra'"),
    ("webhooks/OnSomethingElse", {"NotificationUrl": "https://x.example/h"}, 400, "no event named"),
])
def test_a_bad_subscription_is_a_clear_4xx_and_stores_nothing(events_app, path, body, status, words):
    before = requests.get(events_app.url("webhooks"), timeout=10).json()["value"]
    response = requests.post(events_app.url(path), json=body, timeout=10)
    assert response.status_code == status and words in response.json()["error"]["message"], response.text
    assert requests.get(events_app.url("webhooks"), timeout=10).json()["value"] == before


def test_plain_http_is_refused_unless_allowed(make_app):
    strict = make_app(BGOPS_ALLOW_HTTP_CALLBACKS="false")
    response = requests.post(strict.url(EVENT_URL), json={"NotificationUrl": "http://x.example/h"}, timeout=10)
    assert response.status_code == 400 and "BGOPS_ALLOW_HTTP_CALLBACKS" in response.json()["error"]["message"]


@pytest.mark.parametrize("sub_id", ["00000000-0000-0000-0000-000000000000", "not-an-id", "a'b"])
def test_an_unknown_subscription_is_404(events_app, sub_id):
    assert requests.get(events_app.url(f"webhooks/{sub_id}"), timeout=10).status_code == 404
    assert requests.delete(events_app.url(f"webhooks/{sub_id}"), timeout=10).status_code == 404


def test_cancelling_an_operation_that_never_ran_notifies_too(events_app, subscribe, receiver):
    url = receiver.new_url()
    subscribe(url)
    response = requests.post(events_app.url("ExecuteBackgroundOperation"), timeout=10, json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": "2099-01-01T00:00:00Z"})
    op_id = response.json()["backgroundOperationId"]
    assert requests.delete(events_app.url(f"backgroundoperation/{op_id}"), timeout=10).json()[
        "backgroundOperationStatusCode"] == 32
    [call] = wait_until(lambda: receiver.calls(url))
    assert call["body"]["InputParameters"]["BackgroundOperationId"] == op_id
    assert call["body"]["OutputParameters"]["BackgroundOperationStatusCode"] == 32
