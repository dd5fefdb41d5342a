"""ExecuteMultiple, as Dataverse has it, over real HTTP through devhost: up to 1,000 requests queued in one
call, with Dataverse's ContinueOnError and ReturnResponses, and a fault per RequestIndex."""

from __future__ import annotations

import json

import pytest
from azure.storage.queue import QueueClient
from helpers import wait_until

ECHO = {"RequestName": "sample_Echo", "Parameters": {"A": 1}}
UNKNOWN = {"RequestName": "sample_NoSuchThing", "Parameters": {}}


def _async(name="sample_Echo", **parameters):
    return {"RequestName": "ExecuteAsync", "Parameters": {"Request": {"RequestName": name, "Parameters": parameters}}}


def _multiple(app, requests, **settings):
    body = {"Requests": requests, **({"Settings": settings} if settings else {})}
    return app.http.post(app.url("ExecuteMultiple"), json=body, timeout=120)


def _ids_of(app) -> set[str]:
    return {e["RowKey"] for e in app.tables().list_entities(select=["RowKey"]) if len(e["RowKey"]) == 36}


def test_each_kind_of_request_is_queued_and_answered_under_its_request_index(app, callbacks):
    url = callbacks.new_url()
    background = {"RequestName": "ExecuteBackgroundOperation",
                  "Parameters": {"Request": {"RequestName": "sample_Echo", "Parameters": {"B": 2}},
                                 "CallbackUri": url}}
    response = _multiple(app, [_async(A=1), background, ECHO], ReturnResponses=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["IsFaulted"] is False and [r["RequestIndex"] for r in body["Responses"]] == [0, 1, 2]
    assert all(r["Fault"] is None for r in body["Responses"])
    job, queued, direct = (r["Response"] for r in body["Responses"])
    assert set(job) == {"AsyncJobId"} and set(queued) == set(direct) == {"BackgroundOperationId", "Location"}
    for op_id, inputs in ((job["AsyncJobId"], {"A": 1}), (queued["BackgroundOperationId"], {"B": 2}),
                          (direct["BackgroundOperationId"], {"A": 1})):
        outputs = app.wait_for_status(op_id, 30)["outputparameters"]
        assert json.loads(outputs) == [{"Key": k, "Value": v} for k, v in inputs.items()]
    assert app.http.get(queued["Location"], timeout=30).json()["backgroundOperationStatusCode"] == 30
    [call] = wait_until(lambda: callbacks.calls(url), timeout=30, message="the entry's callback")
    assert call["body"]["backgroundOperationId"] == queued["BackgroundOperationId"]


def test_processing_stops_at_the_first_fault_and_the_requests_before_it_stay_queued(app):
    before = _ids_of(app)
    response = _multiple(app, [ECHO, UNKNOWN, ECHO, ECHO], ReturnResponses=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["IsFaulted"] is True and [r["RequestIndex"] for r in body["Responses"]] == [0, 1]
    fault = body["Responses"][1]["Fault"]
    assert (fault["ErrorCode"], fault["StatusCode"]) == ("UnknownOperation", 404)
    assert "sample_NoSuchThing" in fault["Message"] and body["Responses"][1]["Response"] is None
    queued = body["Responses"][0]["Response"]["BackgroundOperationId"]
    assert _ids_of(app) - before == {queued}  # the two after the fault were not processed: no row
    app.wait_for_status(queued, 30)


def test_continue_on_error_queues_every_good_request_and_reports_each_fault(app):
    bad_inputs = {"RequestName": "sample_Sleep", "Parameters": {"Seconds": "long"}}
    response = _multiple(app, [UNKNOWN, ECHO, bad_inputs, _async()], ContinueOnError=True, ReturnResponses=True)
    body = response.json()
    assert response.status_code == 200 and body["IsFaulted"] is True
    faults = {r["RequestIndex"]: r["Fault"] for r in body["Responses"] if r["Fault"]}
    assert sorted(faults) == [0, 2] and faults[2]["ErrorCode"] == "InvalidRequest" and "Seconds" in faults[2]["Message"]
    app.wait_for_status(body["Responses"][1]["Response"]["BackgroundOperationId"], 30)
    app.wait_for_status(body["Responses"][3]["Response"]["AsyncJobId"], 30)


def test_without_return_responses_only_the_faults_come_back(app):
    quiet = _multiple(app, [ECHO, ECHO]).json()
    assert quiet == {"IsFaulted": False, "Responses": []}
    faulted = _multiple(app, [ECHO, UNKNOWN], ContinueOnError=True).json()
    assert faulted["IsFaulted"] is True and [r["RequestIndex"] for r in faulted["Responses"]] == [1]


@pytest.mark.parametrize(("requests", "says"), [
    ([ECHO] * 1001, "at most 1000 requests"),
    ([ECHO, "sample_Echo"], "RequestIndex 1"),
    ([ECHO, ECHO, {"Parameters": {}}], "RequestIndex 2"),
    ([{"RequestName": "ExecuteMultiple", "Parameters": {"Requests": [ECHO]}}], "cannot be nested"),
    ([{"RequestName": "sample_Echo", "Parameters": [1]}], "RequestIndex 0"),
    ([], "needs \"Requests\""),
])
def test_a_body_that_is_not_a_list_of_requests_is_refused_before_anything_is_queued(app, requests, says):
    before = _ids_of(app)
    response = _multiple(app, requests, ContinueOnError=True)
    assert response.status_code == 400 and says in response.json()["error"]["message"], response.text
    assert _ids_of(app) == before


@pytest.mark.parametrize("settings", [{"ContinueOnError": "yes"}, {"ReturnResponse": True}, [True]])
def test_settings_that_are_not_two_booleans_are_refused(app, settings):
    response = app.http.post(app.url("ExecuteMultiple"), json={"Requests": [ECHO], "Settings": settings}, timeout=30)
    assert response.status_code == 400, response.text


def test_a_thousand_requests_are_queued_in_one_call_each_once(make_app):
    # The worker is disabled (as the Functions host does it), so what is queued stays to be counted, and no
    # thousand operations run beside the other tests.
    host = make_app(BGOPS_ENABLE_SAMPLES="true", **{"AzureWebJobs.worker.Disabled": "true"})
    response = _multiple(host, [_async(I=i) if i % 2 else dict(ECHO, Parameters={"I": i}) for i in range(1000)],
                         ReturnResponses=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["IsFaulted"] is False and [r["RequestIndex"] for r in body["Responses"]] == list(range(1000))
    ids = [r["Response"].get("AsyncJobId") or r["Response"]["BackgroundOperationId"] for r in body["Responses"]]
    assert len(set(ids)) == 1000 and set(ids) <= _ids_of(host)
    rows = {e["RowKey"]: e for e in host.tables().list_entities(select=["RowKey", "inputparameters"])}
    assert all(f'"Value":{i}}}' in rows[op_id]["inputparameters"] for i, op_id in enumerate(ids))
    queue = QueueClient.from_connection_string(host.connection_string, host.queue_name)
    assert queue.get_queue_properties().approximate_message_count == 1000


def test_a_bad_recurrence_or_dependency_token_in_an_entry_is_that_entrys_fault(app):
    bad_rule = _async()
    bad_rule["Parameters"]["RecurrencePattern"] = "FREQ=FORTNIGHTLY"
    bad_token = _async()
    bad_token["Parameters"]["DependencyToken"] = "x" * 300
    body = _multiple(app, [ECHO, bad_rule, bad_token], ContinueOnError=True).json()
    faults = {r["RequestIndex"]: r["Fault"]["Message"] for r in body["Responses"]}
    assert sorted(faults) == [1, 2] and "FREQ" in faults[1] and "DependencyToken" in faults[2]
