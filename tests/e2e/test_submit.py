"""Submitting operations (SPEC §3.1): the 202 contract, both routes, the SDK message, sync runs, refusals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from helpers import wait_until

FORMATTED = "@OData.Community.Display.V1.FormattedValue"


def test_accepted_response_has_the_dataverse_headers_and_body(app):
    response = app.submit("sample_Echo", {"A": 1})
    assert response.status_code == 202
    body = response.json()
    op_id = body["backgroundOperationId"]
    uuid.UUID(op_id)
    assert response.headers["Location"] == f"{app.base}/api/backgroundoperation/{op_id}"
    assert body["location"] == response.headers["Location"]
    assert response.headers["x-ms-dyn-backgroundoperationid"] == op_id
    assert response.headers["Preference-Applied"] == "respond-async"
    assert response.headers["Retry-After"] == "1"
    assert response.headers["OData-Version"] == "4.0"
    assert body["backgroundOperationStateCode"] == 0 and body["backgroundOperationStatusCode"] == 0
    assert body["backgroundOperationStateCode" + FORMATTED] == "Ready"
    assert body["backgroundOperationStatusCode" + FORMATTED] == "Waiting For Resources"


@pytest.mark.parametrize("token", ["odata.callback", "callback"])
def test_both_prefer_callback_syntaxes_are_accepted_and_echoed(app, callbacks, token):
    path = f"/syntax-{token}"
    response = requests.post(app.url("data/v9.2/sample_Echo"), json={},
                             headers={"Prefer": f'respond-async, {token}; url="{callbacks.base}{path}"'})
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == f"respond-async, {token}"
    wait_until(lambda: callbacks.calls(path), message="the callback")


def test_operations_alias_route_submits_too(app):
    response = requests.post(app.url("operations/sample_Echo"), json={"X": "y"}, headers={"Prefer": "respond-async"})
    assert response.status_code == 202
    row = app.wait_for_status(response.json()["backgroundOperationId"], 30)
    assert row["name"] == "sample_Echo" and row["displayname"] == "Echo"


def test_route_and_operation_name_match_regardless_of_case(app):
    response = requests.post(app.url("DATA/V9.2/SAMPLE_ECHO"), json={}, headers={"Prefer": "respond-async"})
    assert response.status_code == 202
    app.wait_for_status(response.json()["backgroundOperationId"], 30)


def test_execute_background_operation_returns_sdk_fields_and_honours_ttl(app):
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo", "Parameters": {"Q": 1}}, "TtlInSeconds": 3600})
    assert response.status_code == 202
    body = response.json()
    assert body["BackgroundOperationId"] == body["backgroundOperationId"]
    assert body["Location"] == body["location"] == response.headers["Location"]
    row = app.wait_for_status(body["BackgroundOperationId"], 30)
    assert row["ttlinseconds"] == 3600
    assert row["outputparameters"] == '[{"Key":"Q","Value":1}]'


def test_postpone_until_creates_it_suspended_and_it_runs_when_due(app):
    due = datetime.now(UTC) + timedelta(seconds=3)
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": due.isoformat()})
    assert response.status_code == 202
    body = response.json()
    assert (body["backgroundOperationStateCode"], body["backgroundOperationStatusCode"]) == (1, 10)
    row = app.row(body["backgroundOperationId"])
    assert row["backgroundoperationstatuscode"] == 10 and row["postponeuntil"]
    done = app.wait_for_status(body["backgroundOperationId"], 30, timeout=30)
    assert datetime.fromisoformat(done["starttime"].replace("Z", "+00:00")) >= due.replace(microsecond=0)


def test_postpone_beyond_the_queues_seven_day_limit_is_accepted(app):
    due = datetime.now(UTC) + timedelta(days=30)
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": due.isoformat()})
    assert response.status_code == 202
    row = app.row(response.json()["backgroundOperationId"])
    assert row["backgroundoperationstatuscode"] == 10
    assert row["postponeuntil"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_without_respond_async_it_runs_synchronously_and_writes_no_row(app):
    before = app.count_rows()
    response = requests.post(app.url("data/v9.2/sample_Echo"), json={"Sync": True})
    assert response.status_code == 200
    assert response.json() == {"Sync": True}
    assert app.count_rows() == before


@pytest.mark.parametrize("inputs", [{"NonRetryable": True, "ErrorCode": 42}, {"FailTimes": 1, "ErrorCode": 42}])
def test_synchronous_handler_failure_is_a_4xx_with_an_error_body_so_retry_policies_leave_it(app, inputs):
    # Power Automate re-sends 408/429/5xx; a handler's error must not be one of them.
    response = requests.post(app.url("data/v9.2/sample_Fail"), json=inputs)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x0000002A" and "fail" in error["message"]


MIB = 1024 * 1024


@pytest.mark.parametrize("path, body, headers, status, words", [
    ("data/v9.2/sample_Echo", b"[1,2]", {}, 400, "JSON object"),
    ("data/v9.2/sample_Echo", b"{not json", {}, 400, "not valid JSON"),
    ("data/v9.2/sample_Sleep", b"{}", {}, 400, "Seconds"),
    ("data/v9.2/sample_Sleep", b'{"Seconds": "ten"}', {}, 400, "number"),
    ("data/v9.2/sample_Fail", b'{"FailTimes": true}', {}, 400, "int"),
    ("data/v9.2/sample_Fail", b'{"Bogus": 1}', {}, 400, "Bogus"),
    ("data/v9.2/sample_Nope", b"{}", {}, 404, "sample_Nope"),
    ("data/v9.2/sample_Echo", b"{}", {"Prefer": 'respond-async, odata.callback; url="ftp://x/y"'}, 400, "https"),
    ("data/v9.2/sample_Echo", b"{}", {"Prefer": 'respond-async, odata.callback; url="/relative"'}, 400, "https"),
    ("data/v9.2/sample_Echo", f'{{"Big": "{"x" * MIB}"}}'.encode(), {}, 413, "at most 1,048,576 (1 MiB)"),
    ("data/v9.2/sample_Echo", f'{{"Big": "{"x" * (8 * MIB + 1)}"}}'.encode(), {}, 413, "larger than 8 MiB"),
    ("ExecuteBackgroundOperation", b'{"Request": "sample_Echo"}', {}, 400, "RequestName"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, "TtlInSeconds": -5}', {}, 400,
     "TtlInSeconds"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, "TtlInSeconds": "1"}', {}, 400,
     "TtlInSeconds"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, "PostponeUntil": "soon"}', {},
     400, "PostponeUntil"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Nope"}}', {}, 404, "sample_Nope"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, "CallbackUri": 5}', {}, 400,
     "callback"),
    ("data/v9.2/sample_Echo", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", {}, 400, "nested"),
    ("data/v9.2/sample_Echo", b'{"a": NaN}', {}, 400, "not valid JSON"),
    ("data/v9.2/sample_Echo", b'{"a": 1e400}', {}, 400, "not valid JSON"),
    ("data/v9.2/sample_Echo", b"{}", {"Prefer": 'respond-async, odata.callback; url="https://[::1/cb?sig=S"'}, 400,
     "malformed"),
    ("data/v9.2/sample_Echo", b"{}", {"Prefer": 'respond-async, odata.callback; url="https://h:99999/cb"'}, 400,
     "malformed"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo", "Parameters": []}}', {}, 400,
     "JSON object"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, '
                                   b'"PostponeUntil": "9999-12-31T23:59:59-05:00"}', {}, 400, "PostponeUntil"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, "PostponeUntil": 20300101}', {},
     400, "PostponeUntil"),
    ("data/v9.2/" + "x" * 3000, b"{}", {}, 404, "No operation named"),
    # ExecuteAsync takes the same Request, and nothing it does not know.
    ("ExecuteAsync", b"{}", {}, 400, "RequestName"),
    ("ExecuteAsync", b'{"Request": {"RequestName": "sample_Nope"}}', {}, 404, "sample_Nope"),
    ("ExecuteAsync", b'{"Request": {"RequestName": "sample_Sleep", "Parameters": {}}}', {}, 400, "Seconds"),
    ("ExecuteAsync", b'{"Request": {"RequestName": "sample_Echo"}, "Bogus": 1}', {}, 400, "no property 'Bogus'"),
    # Bounded input. Deep nesting once made every later list answer 500.
    ("data/v9.2/sample_Echo", b'{"A": ' + b"[" * 40 + b"]" * 40 + b"}", {}, 400, "nested more than 32 levels"),
    ("data/v9.2/sample_Echo", b'{"A": ' + b"[" * 980 + b"]" * 980 + b"}", {}, 400, "nested more than 32 levels"),
    ("data/v9.2/sample_Echo", b'{"A": ' + b"9" * 400 + b"}", {}, 400, "too large"),
    ("data/v9.2/sample_Echo", ('{"A": "' + "\U0001F600" * (MIB // 4) + '"}').encode("utf-8"), {}, 413,
     "1,048,600 bytes"),  # 4 bytes each in UTF-8
    ("data/v9.2/sample_Echo", b'{"A": 1}', {"Prefer": 'respond-async, odata.callback; url="https://'
                                               + "a" * 70 + '.example.com/cb"'}, 400, "DNS cannot look up"),
    # Every decoder is bounded. JSON in UTF-8 only; no control character in any URL.
    ("data/v9.2/sample_Echo", '{"A": "ü"}'.encode("utf-16"), {}, 415, "UTF-16 byte order mark"),
    ("data/v9.2/sample_Echo", '{"A": "ü"}'.encode("utf-16-le"), {}, 415, "looks like UTF-16"),
    ("ExecuteBackgroundOperation", '{"Request": {"RequestName": "sample_Echo"}}'.encode("utf-8-sig"), {}, 415,
     "UTF-8 byte order mark"),
    ("data/v9.2/sample_Echo", b'{"A": 1}', {"Content-Type": "application/json; charset=utf-16"}, 415,
     "charset other than UTF-8 (utf-16)"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, '
                                   b'"CallbackUri": "https://example.com/cb?sig=S\\u0000"}', {}, 400,
     "callback URL must not hold control characters"),
    ("ExecuteBackgroundOperation", b'{"Request": {"RequestName": "sample_Echo"}, '
                                   b'"CallbackUri": "https://example.com/cb?sig=S%00"}', {}, 400,
     "callback URL must not hold control characters"),
    ("data/v9.2/sample%00Echo", b"{}", {}, 400, "request path must not hold control characters"),
    ("data/v9.2/sample_Echo?returnInternalServerErrorOnFailure=%00", b"{}", {}, 400,
     "returnInternalServerErrorOnFailure must not hold control characters"),
])
def test_refused_submission_says_what_to_fix_and_leaves_no_row_or_message(quiet_app, path, body, headers, status,
                                                                        words):
    app = quiet_app
    rows, messages = app.count_rows(), app.count_messages()
    response = requests.post(app.url(path), data=body,
                             headers={"Prefer": "respond-async", "Content-Type": "application/json", **headers})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and words in error["message"] and len(error["message"]) < 600
    assert (app.count_rows(), app.count_messages()) == (rows, messages)


def test_execute_async_answers_its_async_job_id_and_the_job_runs(app):
    """Seed 004: ExecuteAsync queues the request as a system job and returns its AsyncJobId."""
    response = app.http.post(app.url("ExecuteAsync"), timeout=30,
                             json={"Request": {"RequestName": "sample_Echo", "Parameters": {"Text": "queued"}}})
    assert response.status_code == 202, response.text
    job_id = response.json()["AsyncJobId"]
    assert response.json() == {"AsyncJobId": job_id}
    assert response.headers["Location"] == app.url(f"backgroundoperation/{job_id}")
    app.wait_for_status(job_id, 30)
    done = app.http.get(response.headers["Location"], timeout=30)
    assert done.status_code == 200 and done.json()["Text"] == "queued"


def test_inputs_and_outputs_of_1_mib_each_go_through_submit_poll_and_list(app):
    inputs = {"Document": "ü" * (MIB // 2 - 50)}  # two bytes each: just under 1 MiB as stored
    accepted = app.submit("sample_Echo", inputs)
    assert accepted.status_code == 202, accepted.text
    op_id = accepted.json()["backgroundOperationId"]
    app.wait_for_status(op_id, 30)
    done = app.http.get(app.url(f"backgroundoperation/{op_id}"), timeout=30)
    assert done.status_code == 200 and done.json()["Document"] == inputs["Document"]
    row = app.row(op_id)
    assert json.loads(row["inputparameters"]) == json.loads(row["outputparameters"]) == \
        [{"Key": "Document", "Value": inputs["Document"]}]
    listed = app.http.get(app.url("data/v9.2/backgroundoperations"), params={"$filter": f"backgroundoperationid eq "
                                                                                      f"{op_id}"}, timeout=30)
    assert json.loads(listed.json()["value"][0]["inputparameters"])[0]["Value"] == inputs["Document"]


def test_a_row_that_cannot_be_read_is_listed_as_damaged_and_the_list_still_answers(app):
    op_id = app.submit("sample_Echo", {"A": 1}).json()["backgroundOperationId"]
    app.wait_for_status(op_id, 30)
    # As a row written before input was bounded (or by hand) would be.
    app.tables().update_entity({"PartitionKey": op_id[-1], "RowKey": op_id,
                                "inputparameters": '[{"Key":"A","Value":' + "[" * 5000 + "]" * 5000 + "}]"})
    listed = app.http.get(app.url("data/v9.2/backgroundoperations"), timeout=30)
    assert listed.status_code == 200
    [row] = [r for r in listed.json()["value"] if r["backgroundoperationid"] == op_id]
    assert "cannot be read" in row["@bgops.damaged"]
    assert app.row(op_id)["@bgops.damaged"] == row["@bgops.damaged"]
