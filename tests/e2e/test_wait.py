"""Prefer: wait=N (RFC 7240) over HTTP: a submit or a status read held until its operation has finished, or N
seconds have passed; what was honoured in Preference-Applied; held requests hold no thread; an operation another
instance runs is learned of by reading its row; bad values are 400s."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from shared.services.pools import HTTP_THREADS

SUBMIT = "data/v9.2/sample_Sleep"


def _submit(app, seconds: float, prefer: str, path: str = SUBMIT, **kwargs) -> requests.Response:
    return app.http.post(app.url(path), json={"Seconds": seconds}, headers={"Prefer": prefer}, timeout=60, **kwargs)


def test_a_quick_operation_is_answered_finished_in_the_one_round_trip(app):
    started = time.monotonic()
    response = _submit(app, 0.3, "respond-async, wait=20")
    took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["SleptSeconds"] == 0.3 and response.json()["backgroundOperationStatusCode"] == 30
    assert response.headers["Preference-Applied"] == "respond-async, wait=20"
    op_id = response.headers["x-ms-dyn-backgroundoperationid"]
    assert response.headers["Location"].endswith(f"/backgroundoperation/{op_id}")
    assert took < 10, took  # told by the worker in its process, not found by polling


def test_a_slow_operation_is_answered_accepted_when_the_wait_is_over(app):
    started = time.monotonic()
    response = _submit(app, 30, "respond-async, wait=1")
    took = time.monotonic() - started
    assert response.status_code == 202 and response.headers["Preference-Applied"] == "respond-async, wait=1"
    assert 1 <= took < 8, took
    app.http.delete(response.headers["Location"], timeout=30)


def test_the_status_monitor_holds_a_read_until_the_operation_finishes(app):
    submitted = _submit(app, 1.5, "respond-async")
    location = submitted.headers["Location"]
    read = app.http.get(location, headers={"Prefer": "wait=30"}, timeout=60)
    assert read.status_code == 200 and read.json()["SleptSeconds"] == 1.5
    assert read.headers["Preference-Applied"] == "wait=30"
    plain = app.http.get(location, timeout=30)
    assert plain.status_code == 200 and "Preference-Applied" not in plain.headers


def test_a_failure_the_caller_opted_into_is_the_500_after_the_wait(app):
    response = app.http.post(app.url("data/v9.2/sample_Fail?returnInternalServerErrorOnFailure=true"),
                              json={"NonRetryable": True}, headers={"Prefer": "respond-async, wait=20"}, timeout=60)
    assert response.status_code == 500 and response.json()["backgroundOperationStatusCode"] == 31
    assert response.json()["error"]["code"].startswith("0x")


def test_execute_background_operation_waits_too_and_keeps_its_sdk_fields(app):
    response = app.http.post(app.url("ExecuteBackgroundOperation"), timeout=60, headers={"Prefer": "wait=20"},
                             json={"Request": {"RequestName": "sample_Echo", "Parameters": {"Text": "hi"}}})
    assert response.status_code == 200 and response.json()["Text"] == "hi"
    assert response.json()["BackgroundOperationId"] == response.headers["x-ms-dyn-backgroundoperationid"]


def test_waiting_requests_hold_no_thread(app):
    """Twice as many held reads as the HTTP pool has threads all end together, after their one wait: had each held
    a thread, the second half would have waited for the first to end (twice the wait)."""
    location = _submit(app, 60, "respond-async").headers["Location"]
    count, wait = HTTP_THREADS * 2, 5

    def held_read() -> tuple[int, float]:
        started = time.monotonic()
        response = app.http.get(location, headers={"Prefer": f"wait={wait}"}, timeout=60)
        return response.status_code, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=count) as pool:
        held = [pool.submit(held_read) for _ in range(count)]
        started = time.monotonic()
        assert app.http.get(app.url("health"), timeout=30).status_code == 200
        assert time.monotonic() - started < 2
        answers = [h.result() for h in held]
    assert {status for status, _ in answers} == {202}
    assert max(took for _, took in answers) < 2 * wait, answers
    app.http.delete(location, timeout=30)


def test_a_wait_beyond_the_apps_maximum_is_cut_down_and_says_so(make_app):
    app = make_app(BGOPS_MAX_WAIT_SECONDS="1")
    response = _submit(app, 30, "respond-async, wait=200")
    assert response.status_code == 202 and response.headers["Preference-Applied"] == "respond-async, wait=1"


def test_an_operation_another_instance_runs_is_learned_of_by_reading_its_row(make_app):
    http_only = make_app(**{"AzureWebJobs.worker.Disabled": "true", "BGOPS_WAIT_POLL_SECONDS": "1"})
    make_app(name=http_only.queue_name)  # the instance that runs it
    started = time.monotonic()
    response = _submit(http_only, 0.2, "respond-async, wait=30")
    assert response.status_code == 200 and response.json()["SleptSeconds"] == 0.2
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("prefer, words", [
    ("respond-async, wait=-1", "whole number of seconds from 0"),
    ("respond-async, wait=soon", "whole number of seconds from 0"),
    ("respond-async, wait", "whole number of seconds from 0"),
    ("respond-async, wait=231", "at most 230"),
])
def test_a_wait_that_cannot_be_honoured_is_a_400_and_submits_nothing(quiet_app, prefer, words):
    rows, messages = quiet_app.count_rows(), quiet_app.count_messages()
    response = _submit(quiet_app, 0, prefer)
    assert response.status_code == 400 and words in response.json()["error"]["message"], response.text
    assert (quiet_app.count_rows(), quiet_app.count_messages()) == (rows, messages)
