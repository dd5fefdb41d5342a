"""One at a time (Dataverse's ExecuteAsync: "only one message running asynchronously is allowed to
execute at a time for each organization"), over real HTTP through devhost, whose worker runs several
messages at once: ExecuteAsync jobs never overlap, and a caller's DependencyToken makes a line of its own.
"""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from helpers import wait_until

JOBS = 20


def _execute_async(app, seconds: float, **extra):
    return app.http.post(app.url("ExecuteAsync"), json={
        "Request": {"RequestName": "sample_Sleep", "Parameters": {"Seconds": seconds}}, **extra}, timeout=30)


def _job(app, job_id) -> dict:
    return app.http.get(app.url(f"data/v9.2/asyncoperations({job_id})"), timeout=30).json()


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def line_app(quiet_app):
    """The app on a queue and a table of this module's own: no other test's ExecuteAsync jobs share its line."""
    return quiet_app


def test_twenty_execute_async_jobs_never_overlap_and_run_in_the_order_submitted(line_app):
    ids = [_execute_async(line_app, 0.3).json()["AsyncJobId"] for _ in range(JOBS)]
    waiting = _job(line_app, ids[-1])  # the last can only wait while the others run, one by one
    assert (waiting["statecode"], waiting["statuscode"], waiting["dependencytoken"]) == (0, 0, "organization")
    jobs = [wait_until(lambda job_id=job_id: (job := _job(line_app, job_id))["statuscode"] == 30 and job,
                       timeout=120, message="every job to succeed") for job_id in ids]
    assert all(job["dependencytoken"] == "organization" for job in jobs)
    rows = [line_app.table_row(job_id) for job_id in ids]  # the stored times, to the microsecond
    spans = [(row["starttime"], row["endtime"]) for row in rows]
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert ended <= started  # each started after the one submitted before it had ended
    print("\n".join(f"job {i:2}: {s:%H:%M:%S.%f} -> {e:%H:%M:%S.%f}" for i, (s, e) in enumerate(spans)))


def test_a_dependency_token_is_a_line_of_its_own_beside_the_organizations(line_app):
    blocker = _execute_async(line_app, 5).json()["AsyncJobId"]
    mine = _execute_async(line_app, 0.1, DependencyToken="nightly-import").json()["AsyncJobId"]
    job = wait_until(lambda: (j := _job(line_app, mine))["statuscode"] == 30 and j, timeout=30,
                     message="the job in its own line to run while the organization's line is busy")
    assert job["dependencytoken"] == "nightly-import" and _job(line_app, blocker)["statuscode"] == 20
    line_app.http.delete(line_app.url(f"backgroundoperation/{blocker}"), timeout=30)


def test_execute_multiple_puts_its_execute_async_jobs_in_line_in_request_order(line_app):
    body = {"Requests": [{"RequestName": "ExecuteAsync", "Parameters": {"Request": {
        "RequestName": "sample_Sleep", "Parameters": {"Seconds": 0.1}}}} for _ in range(10)],
        "Settings": {"ReturnResponses": True}}
    response = line_app.http.post(line_app.url("ExecuteMultiple"), json=body, timeout=60).json()
    ids = [r["Response"]["AsyncJobId"] for r in response["Responses"]]
    jobs = [wait_until(lambda job_id=job_id: (job := _job(line_app, job_id))["statuscode"] == 30 and job,
                       timeout=60, message="every job to succeed") for job_id in ids]
    assert all(job["statuscode"] == 30 for job in jobs)
    spans = [(row["starttime"], row["endtime"]) for row in map(line_app.table_row, ids)]
    assert all(ended <= started for (_, ended), (started, _) in itertools.pairwise(spans))


@pytest.mark.parametrize("token", ["", "x" * 257, 42, ["a"], {"a": 1}])
def test_a_dependency_token_that_is_not_a_short_string_is_refused(line_app, token):
    before = line_app.count_rows()
    response = _execute_async(line_app, 0.1, DependencyToken=token)
    assert response.status_code == 400 and "DependencyToken" in response.json()["error"]["message"], response.text
    assert line_app.count_rows() == before
