"""Running, retrying, failing, cancelling, pausing and postponing operations through HTTP and the local host
(SPEC §2, §3.2-3.3, §4): each route and trigger once. Every case of what the worker decides is tested on the
in-memory stores (tests/unit/test_worker.py and its neighbours)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests
from helpers import wait_until


def _submit(app, name, inputs=None, callback=None) -> str:
    response = app.submit(name, inputs, callback)
    assert response.status_code == 202, response.text
    return response.json()["backgroundOperationId"]


def _patch(app, op_id, body) -> requests.Response:
    return requests.patch(app.url(f"data/v9.2/backgroundoperations({op_id})"), json=body, timeout=30)


def test_status_monitor_answers_202_with_location_while_running_then_200(app):
    op_id = _submit(app, "sample_Sleep", {"Seconds": 1.5})
    running = app.status(op_id)
    assert running.status_code == 202
    assert running.headers["Location"].endswith(f"/api/backgroundoperation/{op_id}")
    assert running.headers["Retry-After"] == "1"
    assert running.json()["backgroundOperationStateCode"] in (0, 2)
    done = wait_until(lambda: (r := app.status(op_id)).status_code == 200 and r, timeout=30)
    assert done.json()["SleptSeconds"] == 1.5
    assert done.json()["backgroundOperationStatusCode"] == 30


def test_operation_fails_after_four_attempts_with_the_last_error(app, callbacks):
    op_id = _submit(app, "sample_Fail", {"FailTimes": 10, "ErrorCode": 1234}, f"{callbacks.base}/fail-4")
    row = app.wait_for_status(op_id, 31, timeout=60)
    assert row["retrycount"] == 3
    assert row["errorcode"] == 1234 and "attempt 4" in row["errormessage"]
    attempts = json.loads(row["attempts"])  # each attempt's own error, not only the last
    assert [(a["attempt"], a["outcome"], a["errorcode"]) for a in attempts] == [
        (n, "Failed", 1234) for n in range(1, 5)]
    assert [f"attempt {n} " in a["errormessage"] for n, a in enumerate(attempts, 1)] == [True] * 4
    body = app.status(op_id).json()
    assert body["backgroundOperationErrorCode"] == 1234
    assert "attempt 4" in body["backgroundOperationErrorMessage"]
    payload = wait_until(lambda: callbacks.calls("/fail-4"))[0]["body"]
    assert payload == {"location": app.url(f"backgroundoperation/{op_id}"), "backgroundOperationId": op_id,
                       "backgroundOperationStateCode": 3, "backgroundOperationStatusCode": 31,
                       "backgroundOperationErrorCode": 1234,
                       "backgroundOperationErrorMessage": row["errormessage"]}


def test_callback_url_never_appears_in_responses_or_logs(app, callbacks):
    secret = "sig=TopSecretSas0123456789"
    op_id = _submit(app, "sample_Echo", {}, f"{callbacks.base}/secret?{secret}")
    wait_until(lambda: callbacks.calls("/secret"))
    texts = [app.status(op_id).text, requests.get(app.url(f"backgroundoperations/{op_id}")).text,
             requests.get(app.url("backgroundoperations"), params={"$top": 1000}).text,
             requests.get(app.url(f"backgroundoperations/{op_id}"),
                          params={"$select": "progressmessage,errormessage"}).text, app.log()]
    assert not [t for t in texts if "TopSecretSas" in t]


def test_cancel_before_start_ends_canceled_at_once_and_calls_back(app, callbacks):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later, "CallbackUri": f"{callbacks.base}/c1"})
    op_id = response.json()["backgroundOperationId"]
    cancel = requests.delete(app.url(f"backgroundoperation/{op_id}"))
    assert cancel.status_code == 200
    assert cancel.json() == {"backgroundOperationStateCode": 3, "backgroundOperationStatusCode": 32}
    payload = wait_until(lambda: callbacks.calls("/c1"))[0]["body"]
    assert payload["backgroundOperationStatusCode"] == 32
    # Asked again: the same answer, as an idempotent DELETE, and no second callback.
    again = requests.delete(app.url(f"backgroundoperation/{op_id}"))
    assert again.status_code == 200 and again.json()["backgroundOperationStatusCode"] == 32
    assert len(callbacks.calls("/c1")) == 1


def test_cancel_of_an_operation_that_finished_otherwise_is_409(app):
    op_id = _submit(app, "sample_Echo", {"A": 1})
    app.wait_for_status(op_id, 30)
    refused = requests.delete(app.url(f"backgroundoperation/{op_id}"))
    assert refused.status_code == 409 and "terminal state" in refused.json()["error"]["message"]


def test_a_hundred_simultaneous_cancels_of_a_running_operation_all_answer_200_and_call_back_once(app, callbacks):
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Sleep", "Parameters": {"Seconds": 30}},
        "CallbackUri": f"{callbacks.base}/c100"})
    op_id = response.json()["backgroundOperationId"]
    app.wait_for_status(op_id, 20)
    url = app.url(f"backgroundoperation/{op_id}")
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: requests.delete(url, timeout=60), range(100)))
    assert [a.status_code for a in answers] == [200] * 100
    assert {a.json()["backgroundOperationStatusCode"] for a in answers} <= {22, 32}
    app.wait_for_status(op_id, 32)
    # Delivered is final: a callback is sent only by the one writer whose claim (ETag-conditional) won.
    wait_until(lambda: app.table_row(op_id).get("callbackstate") == "delivered", message="the callback delivered")
    assert [c["body"]["backgroundOperationStatusCode"] for c in callbacks.calls("/c100")] == [32]


def test_cancel_by_patch_the_sdk_way(app):
    op_id = _submit(app, "sample_Sleep", {"Seconds": 30})
    app.wait_for_status(op_id, 20)
    response = _patch(app, op_id, {"backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22})
    assert response.status_code == 204
    app.wait_for_status(op_id, 32, timeout=15)


def test_pause_suspends_a_running_operation_and_resume_starts_it_over(app):
    # Far longer than the handler takes to see the pause (it re-reads its row every 2 s): no race.
    op_id = _submit(app, "sample_Sleep", {"Seconds": 120})
    app.wait_for_status(op_id, 20)
    assert _patch(app, op_id, {"backgroundoperationstatecode": 1}).status_code == 204
    paused = app.wait_for_status(op_id, 10, timeout=15)
    assert paused["backgroundoperationstatecode"] == 1 and paused["endtime"] is None
    time.sleep(0.5)  # not a synchronisation: shows that a paused operation stays paused
    assert app.row(op_id)["backgroundoperationstatuscode"] == 10
    assert _patch(app, op_id, {"backgroundoperationstatecode": 0}).status_code == 204
    again = app.wait_for_status(op_id, 20, timeout=15)  # started over: running again, from the start
    assert again["outputparameters"] is None
    _patch(app, op_id, {"backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22})
    app.wait_for_status(op_id, 32, timeout=15)


def test_postpone_by_patch_then_resume_runs_it(app):
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later})
    op_id = response.json()["backgroundOperationId"]
    assert _patch(app, op_id, {"backgroundoperationstatecode": 0}).status_code == 204
    app.wait_for_status(op_id, 30)


def test_refused_patch_names_both_states_and_changes_nothing(app):
    op_id = _submit(app, "sample_Echo")
    app.wait_for_status(op_id, 30)
    before = app.row(op_id)
    for body in ({"backgroundoperationstatecode": 1}, {"backgroundoperationstatecode": 2,
                                                      "backgroundoperationstatuscode": 22}):
        response = _patch(app, op_id, body)
        assert response.status_code == 400
        assert "Completed/Succeeded (3/30)" in response.json()["error"]["message"]
    # State codes no change leads to: the one asked for beside the row's own.
    unsupported = _patch(app, op_id, {"backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 20})
    assert unsupported.status_code == 400 and unsupported.json()["error"]["message"].startswith(
        "Unsupported state change to statecode 2 with statuscode 20 while it is Completed/Succeeded (3/30)")
    assert _patch(app, op_id, {"name": "x"}).status_code == 400
    assert _patch(app, op_id, {"postponeuntil": "2000-01-01T00:00:00Z"}).status_code == 400
    assert app.row(op_id) == before
    nobody = _patch(app, "0" * 8 + "-0000-4000-8000-" + "0" * 12, {"backgroundoperationstatecode": 9})
    assert nobody.status_code == 404  # no row to say a state of


def test_patch_bodies_of_the_wrong_type_or_with_two_changes_are_refused(app):
    op_id = _submit(app, "sample_Sleep", {"Seconds": 30})
    app.wait_for_status(op_id, 20)
    for body in ({"backgroundoperationstatecode": True}, {"backgroundoperationstatecode": 1.0},
                 {"backgroundoperationstatecode": "1"}, {"postponeuntil": 20300101},
                 {"backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22,
                  "postponeuntil": "2030-01-01T00:00:00Z"}):
        response = _patch(app, op_id, body)
        assert response.status_code == 400, body
    assert app.row(op_id)["backgroundoperationstatuscode"] == 20
    requests.delete(app.url(f"backgroundoperation/{op_id}"))
    app.wait_for_status(op_id, 32, timeout=15)


def test_pause_of_a_ready_operation_is_refused(app):
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later})
    op_id = response.json()["backgroundOperationId"]
    refused = _patch(app, op_id, {"backgroundoperationstatecode": 1})
    assert refused.status_code == 400 and "Suspended/Waiting (1/10)" in refused.json()["error"]["message"]


def test_unknown_and_malformed_ids(app):
    assert app.status("00000000-0000-4000-8000-000000000000").status_code == 404
    assert app.status("not-a-guid").status_code == 400
    assert requests.delete(app.url("backgroundoperation/00000000-0000-4000-8000-000000000000")).status_code == 404
    assert requests.get(app.url("backgroundoperations(00000000-0000-4000-8000-000000000000)")).status_code == 404


def test_poison_queue_message_fails_the_operation_and_calls_back(app, callbacks):
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later, "CallbackUri": f"{callbacks.base}/poison"})
    op_id = response.json()["backgroundOperationId"]
    # What the host does after maxDequeueCount: the message lands in <queue>-poison.
    app.queue_client(app.queue_name + "-poison").send_message(op_id)
    row = app.wait_for_status(op_id, 31)
    assert "poison queue" in row["errormessage"]
    assert wait_until(lambda: callbacks.calls("/poison"))[0]["body"]["backgroundOperationStatusCode"] == 31


def test_malformed_and_unknown_messages_are_dropped_and_the_worker_goes_on(app):
    queue = app.queue_client(app.queue_name)
    queue.send_message("this is not an id")
    queue.send_message("00000000-0000-4000-8000-000000000000")
    op_id = _submit(app, "sample_Echo")
    app.wait_for_status(op_id, 30)
    assert "Dropped a queue message that is not an operation id" in app.log()


def test_requests_are_served_while_long_handlers_hold_every_thread_of_the_workers_pool(make_app):
    """HTTP functions run on the worker's event loop, not in the thread pool the queue-triggered
    worker uses, so handlers that hold all of its threads (two here) cannot keep requests waiting."""
    app = make_app(PYTHON_THREADPOOL_THREAD_COUNT="2")
    ids = [_submit(app, "sample_Sleep", {"Seconds": 60}) for _ in range(3)]
    wait_until(lambda: sum(app.row(i)["backgroundoperationstatuscode"] == 20 for i in ids) == 2, timeout=30,
               message="two handlers to hold both threads")
    # Each would wait the 60 s of a handler if requests needed a thread of that pool.
    assert requests.get(app.url("health"), timeout=10).status_code == 200
    assert requests.get(app.url(f"backgroundoperation/{ids[2]}"), timeout=10).status_code == 202
    assert requests.get(app.url("data/v9.2/backgroundoperations"), timeout=10).status_code == 200
    assert app.submit("sample_Echo", {"A": 1}).status_code == 202
    for op_id in ids:
        requests.delete(app.url(f"backgroundoperation/{op_id}"), timeout=10)
