"""A flow's HTTP action against the app with function keys enforced, as a maker sets it up:
the function URL with ``?code=`` pasted into the action, ``Prefer: respond-async``, defaults for the rest."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from helpers import CallbackServer, wait_until
from power_automate import HttpAction

from faults.proxy import StorageProxy
from shared.domain.idempotency import key_hash

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def flow():
    return HttpAction()


def _url(app, path: str, **params: str) -> str:
    """The function URL with its key, as the portal's "Get function URL" gives it."""
    return f"{app.url(path)}?{urlencode({'code': app.key, **params})}"


def _polls(result) -> list:
    return [s for s in result.sent if s.method == "GET"]


def test_a_flow_waits_for_success_polling_location_with_the_key_and_nothing_else(keyed_app, flow):
    result = flow.run("POST", _url(keyed_app, "data/v9.2/sample_Sleep"), headers=ASYNC, json={"Seconds": 1.5})
    assert result.succeeded and result.status == 200
    assert result.body["backgroundOperationStatusCode"] == 30 and result.body["SleptSeconds"] == 1.5
    polls = _polls(result)
    assert polls and all(s.headers == {} for s in polls)
    assert all(parse_qs(urlsplit(s.url).query) == {"code": [keyed_app.key]} for s in polls)
    assert result.count("POST") == 1 and all(s.status in (200, 202) for s in result.sent)


def test_a_permanent_failure_is_a_succeeded_action_with_the_error_in_the_body_by_default(keyed_app, flow):
    result = flow.run("POST", _url(keyed_app, "data/v9.2/sample_Fail"), headers=ASYNC,
                      json={"NonRetryable": True, "ErrorCode": 42})
    assert result.succeeded  # Dataverse's answer: 200 for a Failed operation
    assert result.body["backgroundOperationStatusCode"] == 31 and result.body["backgroundOperationErrorCode"] == 42
    assert result.count("POST") == 1


def test_with_the_opt_in_a_permanent_failure_fails_the_action_and_the_flow_can_branch_on_it(keyed_app, flow):
    url = _url(keyed_app, "data/v9.2/sample_Fail", returnInternalServerErrorOnFailure="true")
    result = flow.run("POST", url, headers=ASYNC, json={"NonRetryable": True, "ErrorCode": 42})
    assert not result.succeeded and result.status == 500
    assert result.body["error"]["code"] == "0x0000002A" and "fail" in result.body["error"]["message"]
    assert result.count("POST") == 1  # the submit itself is never repeated
    finals = [s for s in _polls(result) if s.status == 500]
    assert len(finals) == 5  # the retry policy re-reads the status monitor: harmless, a GET


def test_a_flow_that_cancels_while_it_runs_ends_with_canceled(keyed_app, flow):
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(result=flow.run(
        "POST", _url(keyed_app, "data/v9.2/sample_Sleep"), headers=ASYNC, json={"Seconds": 30})))
    runner.start()
    running = wait_until(lambda: [s for s in list(flow.sent) if s.method == "GET" and s.status == 202],
                         timeout=20, message="the flow to be polling")
    location = running[0].url
    cancel = HttpAction().run("DELETE", location)  # a second HTTP action in the flow
    assert cancel.succeeded and cancel.body["backgroundOperationStatusCode"] in (22, 32)
    runner.join(30)
    result = outcome["result"]
    assert result.succeeded and result.body["backgroundOperationStatusCode"] == 32


def test_a_failing_synchronous_call_is_sent_exactly_once_and_its_side_effect_happens_once(keyed_app, flow):
    erp = CallbackServer()
    try:
        for i in range(3):  # three operations to sync, a batch each
            HttpAction().run("POST", _url(keyed_app, "ExecuteBackgroundOperation"), json={
                "Request": {"RequestName": "sample_Echo", "Parameters": {"I": i}}})
        target = erp.new_url(answers=(200, 500))  # takes the first batch, then fails
        result = flow.run("POST", _url(keyed_app, "data/v9.2/sample_SyncRecordsToExternalSystem"), json={
            "EntityName": "backgroundoperations", "ExternalSystemUrl": target, "BatchSize": 1})
        assert result.status == 400 and "500" in result.body["error"]["message"]
        assert result.count("POST") == 1  # a 4xx: the retry policy leaves it alone
        assert [call["status"] for call in erp.calls(target)] == [200, 500]  # batch 1 sent once, not five times
    finally:
        erp.stop()


def test_a_flow_calls_execute_background_operation_and_gets_the_outputs(keyed_app, flow):
    result = flow.run("POST", _url(keyed_app, "ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo", "Parameters": {"Account": "Contoso"}}})
    assert result.succeeded and result.body["Account"] == "Contoso"
    assert result.body["backgroundOperationStatusCode"] == 30


def test_a_flow_whose_first_202_is_lost_resends_the_submit_with_its_key_and_follows_the_same_operation(
        keyed_app, flow):
    """The retry policy re-sends a POST whose answer never came; with an Idempotency-Key that stays the same
    across the action's retries (as the run's id does), the second POST answers the operation the first made."""
    proxy = StorageProxy({"App": keyed_app.port})  # a TCP proxy between the flow and the app
    try:
        proxy.lose_next_answer("App")
        url = f"http://127.0.0.1:{proxy.ports['App']}/api/data/v9.2/sample_Echo?{urlencode({'code': keyed_app.key})}"
        key = f"run-{uuid.uuid4()}"
        result = flow.run("POST", url, headers={**ASYNC, "Idempotency-Key": key}, json={"Order": 42})
    finally:
        proxy.stop()
    assert result.succeeded and result.body["Order"] == 42
    assert [s.status for s in result.sent if s.method == "POST"] == [None, 202]  # lost, then answered
    rows = keyed_app.tables().query_entities("idempotencykey eq @k", parameters={"k": key_hash("", key)})
    assert len([row for row in rows if len(row["RowKey"]) == 36]) == 1  # one operation, not two


def test_a_flow_that_prefers_to_wait_gets_the_outputs_in_one_round_trip(keyed_app, flow):
    result = flow.run("POST", _url(keyed_app, "data/v9.2/sample_Echo"), headers={"Prefer": "respond-async, wait=20"},
                      json={"Account": "Contoso"})
    assert result.succeeded and result.status == 200 and result.body["Account"] == "Contoso"
    assert result.count("POST") == 1 and _polls(result) == []


@pytest.fixture(scope="module")
def seven_rows(keyed_app):
    """Seven finished operations of this module, newest first, and the $filter that finds exactly them."""
    since = datetime.now(UTC).replace(microsecond=0)  # rows of earlier tests are older
    wait_until(lambda: datetime.now(UTC) >= since + timedelta(seconds=1), message="a new second")
    since += timedelta(seconds=1)
    ids = []
    for n in range(7):
        response = HttpAction().run("POST", _url(keyed_app, "ExecuteBackgroundOperation"), json={
            "Request": {"RequestName": "sample_Fail", "Parameters": {"NonRetryable": True, "ErrorCode": 7000 + n}}})
        ids.append(response.body["backgroundOperationId"])
    return ids[::-1], f"createdon ge {since.isoformat()} and backgroundoperationstatuscode eq 31"


def _list_url(app, row_filter: str, **options: str) -> str:
    return _url(app, "data/v9.2/backgroundoperations", **{"$filter": row_filter, "$select": "errorcode", **options})


def test_pagination_follows_next_links_with_the_key_and_reads_every_row(keyed_app, seven_rows):
    ids, row_filter = seven_rows
    action = HttpAction()
    result = action.paginate(_list_url(keyed_app, row_filter), threshold=5000,
                             headers={"Prefer": "odata.maxpagesize=3"})
    assert result.succeeded and [row["backgroundoperationid"] for row in result.body["value"]][:7] == ids
    assert len(result.body["value"]) == 7 and result.count("GET") == 3  # pages of 3, 3 and 1
    assert all(s.headers == {} for s in result.sent[1:])  # next pages: the link as it is


def test_pagination_with_top_reads_exactly_top_rows(keyed_app, seven_rows):
    ids, row_filter = seven_rows
    result = HttpAction().paginate(_list_url(keyed_app, row_filter, **{"$top": "5"}), threshold=5000,
                                   headers={"Prefer": "odata.maxpagesize=2"})
    assert [row["backgroundoperationid"] for row in result.body["value"]] == ids[:5]
    assert result.count("GET") == 3  # 2 + 2 + 1, and no nextLink past $top


def test_pagination_threshold_stops_after_the_page_that_reaches_it(keyed_app, seven_rows):
    ids, row_filter = seven_rows
    result = HttpAction().paginate(_list_url(keyed_app, row_filter), threshold=4,
                                   headers={"Prefer": "odata.maxpagesize=3"})
    assert [row["backgroundoperationid"] for row in result.body["value"]] == ids[:6]  # whole pages
