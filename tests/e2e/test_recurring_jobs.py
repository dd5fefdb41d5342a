"""Recurring jobs and the purge's system job over real HTTP through devhost:
what a caller sends (RecurrencePattern, RecurrenceStartTime) and what the System Jobs view then shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from helpers import wait_until


def _execute_async(app, **extra):
    return app.http.post(app.url("ExecuteAsync"), json={
        "Request": {"RequestName": "sample_Echo", "Parameters": {"A": 1}}, **extra}, timeout=30)


def _job(app, job_id) -> dict:
    return app.http.get(app.url(f"data/v9.2/asyncoperations({job_id})"), timeout=30).json()


def test_a_recurring_job_runs_now_then_waits_suspended_for_its_next_occurrence(app):
    response = _execute_async(app, RecurrencePattern="FREQ=HOURLY;INTERVAL=2", DependencyToken="hourly-report")
    assert response.status_code == 202, response.text
    job_id = response.json()["AsyncJobId"]
    job = wait_until(lambda: (j := _job(app, job_id))["statuscode"] == 10 and j, timeout=30,
                     message="the first run to end and the job to wait for the next")
    assert (job["statecode"], job["recurrencepattern"]) == (1, "FREQ=HOURLY;INTERVAL=2")
    start = datetime.fromisoformat(job["recurrencestarttime"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(job["postponeuntil"].replace("Z", "+00:00")) == start + timedelta(hours=2)
    row = app.http.get(app.url(f"data/v9.2/backgroundoperations({job_id})"), params={"$select": "recentruns"},
                       timeout=30)
    [run] = json.loads(row.json()["recentruns"])
    assert run["outcome"] == "Succeeded" and run["completedon"]
    assert app.http.delete(app.url(f"backgroundoperation/{job_id}"), timeout=30).json()[
        "backgroundOperationStatusCode"] == 32  # cancel ends the series


def test_a_start_time_to_come_is_the_first_occurrence(app):
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    job_id = _execute_async(app, RecurrencePattern="FREQ=WEEKLY",
                            RecurrenceStartTime=start.isoformat()).json()["AsyncJobId"]
    job = _job(app, job_id)
    assert (job["statecode"], job["statuscode"]) == (1, 10) and job["postponeuntil"] == job["recurrencestarttime"]


@pytest.mark.parametrize(("extra", "says"), [
    ({"RecurrencePattern": "FREQ=DAILY;BYSECOND=1"}, "not allowed"),
    ({"RecurrencePattern": "every day"}, "not allowed"),
    ({"RecurrencePattern": "FREQ=DAILY", "RecurrenceStartTime": "2020-01-01T00:00:00Z"}, "in the past"),
    ({"RecurrencePattern": "FREQ=DAILY", "RecurrenceStartTime": "tomorrow"}, "RecurrenceStartTime"),
    ({"RecurrenceStartTime": "2030-01-01T00:00:00Z"}, "needs a RecurrencePattern"),
    ({"RecurrencePattern": ["FREQ=DAILY"]}, "RRULE"),
])
def test_a_bad_recurrence_is_refused_with_what_to_fix_and_writes_nothing(quiet_app, extra, says):
    before = quiet_app.count_rows()
    response = _execute_async(quiet_app, **extra)
    assert response.status_code == 400 and says in response.json()["error"]["message"], response.text
    assert quiet_app.count_rows() == before


def _purge_jobs(app) -> list[dict]:
    return app.http.get(app.url("data/v9.2/asyncoperations"), timeout=30, params={
        "$filter": "name eq 'bgops_PurgeExpired'"}).json()["value"]


def test_the_purge_shows_as_a_system_job_from_the_start_waiting_for_the_timers_next_run(make_app):
    [job] = _purge_jobs(make_app())  # the timer has not fired: its schedule is each 1 January
    next_new_year = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    assert (job["statecode"], job["statuscode"]) == (1, 10)
    assert datetime.fromisoformat(job["postponeuntil"].replace("Z", "+00:00")) == next_new_year


def test_the_purge_shows_as_a_recurring_system_job_that_callers_cannot_cancel(app):
    assert requests.post(f"{app.base}/admin/functions/purge", json={"input": ""}, timeout=30).status_code == 202
    [job] = wait_until(lambda: [j for j in _purge_jobs(app) if j["statuscode"] == 10
                                and "Deleted" in (app.row(j["asyncoperationid"])["outputparameters"] or "")],
                       timeout=30, message="the purge's system job, its run recorded")
    assert job["statecode"] == 1 and job["postponeuntil"]
    refused = app.http.delete(app.url(f"backgroundoperation/{job['asyncoperationid']}"), timeout=30)
    assert refused.status_code == 400 and "system job" in refused.json()["error"]["message"]
    catalog = app.http.get(app.url("operations"), timeout=30).json()["value"]
    assert "bgops_PurgeExpired" not in {d["name"] for d in catalog}
