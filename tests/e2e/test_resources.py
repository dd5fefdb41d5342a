"""The table as a resource (SPEC §3.3), listing, health (§3.4) and purge (§7)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from helpers import wait_until

COLUMNS = ["backgroundoperationid", "name", "displayname", "backgroundoperationstatecode",
           "backgroundoperationstatuscode", "inputparameters", "outputparameters", "starttime", "endtime",
           "retrycount", "errorcode", "errormessage", "runas", "createdon", "modifiedon", "ttlinseconds",
           "postponeuntil"]


def _done(app, name="sample_Echo", inputs=None, headers=None, **body) -> str:
    response = requests.post(app.url(f"data/v9.2/{name}"), json=inputs or {},
                             headers={"Prefer": "respond-async", **(headers or {})})
    op_id = response.json()["backgroundOperationId"]
    app.wait_for_status(op_id, (30, 31))
    return op_id


def test_entity_has_exactly_the_logical_columns_on_both_routes(app):
    op_id = _done(app, inputs={"K": "v"}, headers={"X-MS-CLIENT-PRINCIPAL-ID": "user-42"})
    webapi = requests.get(app.url(f"data/v9.2/backgroundoperations({op_id})")).json()
    alias = requests.get(app.url(f"backgroundoperations/{op_id}")).json()
    assert webapi == alias
    assert list(webapi) == ["@odata.context", "@odata.etag", *COLUMNS]
    assert webapi["inputparameters"] == '[{"Key":"K","Value":"v"}]'
    assert webapi["runas"] == ""  # the header is ignored: authentication is not on, nobody vouches for it
    assert webapi["createdon"].endswith("Z") and webapi["endtime"].endswith("Z")
    assert webapi["ttlinseconds"] == 7776000


def test_select_narrows_the_columns_and_unknown_columns_are_refused(app):
    op_id = _done(app)
    narrowed = requests.get(app.url(f"data/v9.2/backgroundoperations({op_id})"),
                            params={"$select": "name,backgroundoperationstatuscode"})
    body = narrowed.json()
    assert body.pop("@odata.etag") == narrowed.headers["ETag"]
    assert body.pop("@odata.context").endswith(
        "/api/data/v9.2/$metadata#backgroundoperations(backgroundoperationid,name,backgroundoperationstatuscode)"
        "/$entity")
    assert body == {"backgroundoperationid": op_id, "name": "sample_Echo", "backgroundoperationstatuscode": 30}
    refused = requests.get(app.url(f"backgroundoperations/{op_id}"), params={"$select": "callbackurl"})
    assert refused.status_code == 400 and "callbackurl" in refused.json()["error"]["message"]


def test_entity_route_matches_regardless_of_case(app):
    op_id = _done(app)
    assert requests.get(app.url(f"DATA/v9.2/BackgroundOperations({op_id.upper()})")).status_code == 200


def test_list_is_newest_first_filtered_and_pages_with_next_link(app):
    ids = [_done(app, "sample_Fail", {"NonRetryable": True, "ErrorCode": 7}) for _ in range(5)]
    url, params, seen = app.url("data/v9.2/backgroundoperations"), {
        "$filter": "backgroundoperationstatuscode eq 31 and name eq 'sample_Fail'",
        "$select": "backgroundoperationid,createdon"}, []
    pages, headers = 0, {"Prefer": "odata.maxpagesize=2"}
    while url:
        body = requests.get(url, params=params, headers=headers).json()
        pages += 1
        seen += [row["backgroundoperationid"] for row in body["value"]]
        assert len(body["value"]) <= 2
        assert all(set(row) == {"@odata.etag", "backgroundoperationid", "createdon"} for row in body["value"])
        url, params, headers = body.get("@odata.nextLink"), None, None  # followed as it is, no headers
        if url:
            assert parse_qs(urlsplit(url).query)["$skiptoken"][0].endswith(":2")
    assert set(ids) <= set(seen) and len(seen) == len(set(seen)) and pages >= 3
    created = [requests.get(app.url(f"backgroundoperations/{i}")).json()["createdon"] for i in seen]
    assert created == sorted(created, reverse=True)


def test_list_filter_on_createdon_and_default_top(app):
    op_id = _done(app)
    created = app.row(op_id)["createdon"]
    body = requests.get(app.url("backgroundoperations"), params={"$filter": f"createdon ge {created}"}).json()
    assert op_id in [row["backgroundoperationid"] for row in body["value"]]
    assert len(requests.get(app.url("backgroundoperations")).json()["value"]) <= 50


def test_name_filter_matches_regardless_of_case_like_the_routes(app):
    op_id = _done(app)
    body = requests.get(app.url("backgroundoperations"), params={"$filter": "name eq 'SAMPLE_ECHO'", "$top": 1000})
    assert op_id in [row["backgroundoperationid"] for row in body.json()["value"]]


def test_query_options_the_route_does_not_support_are_refused_not_ignored(app):
    op_id = _done(app)
    # 400: OData has no such option; 501: OData has it, this service does not implement it.
    for params, status in (({"$Filter": "backgroundoperationstatecode eq 99"}, 400),
                           ({"$orderby": "createdon asc"}, 501), ({"$expand": "x"}, 501)):
        response = requests.get(app.url("backgroundoperations"), params=params)
        message = response.json()["error"]["message"]
        assert response.status_code == status and ("$filter" in message or "createdon desc" in message), params
    assert requests.get(app.url(f"backgroundoperations/{op_id}"), params={"$filter": "x"}).status_code == 501


def test_unsupported_filters_are_refused_not_answered_wrongly(app):
    for text in ("name eq 'a' or name eq 'b'", "contains(name,'a')", "runas eq 'x'", "name eq",
                 "createdon ge 9999-12-31T23:59:59-05:00", "createdon ge 0001-01-01T00:00:00+01:00"):
        response = requests.get(app.url("backgroundoperations"), params={"$filter": text})
        assert response.status_code == 400, text
        assert "$filter" in response.json()["error"]["message"]
    assert requests.get(app.url("backgroundoperations"), params={"$top": "-1"}).status_code == 400


def test_health_is_ok_when_storage_answers(app):
    response = requests.get(app.url("health"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_purge_deletes_finished_rows_past_their_ttl_and_keeps_the_rest(app):
    response = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "TtlInSeconds": 1})
    short = response.json()["backgroundOperationId"]
    app.wait_for_status(short, 30)
    keep = _done(app)
    unfinished = requests.post(app.url("ExecuteBackgroundOperation"), json={
        "Request": {"RequestName": "sample_Echo"}, "TtlInSeconds": 1,
        "PostponeUntil": "2099-01-01T00:00:00Z"}).json()["backgroundOperationId"]

    def purged() -> bool:  # run the timer function now, as Core Tools' admin endpoint does
        assert requests.post(f"{app.base}/admin/functions/purge", json={"input": ""}).status_code == 202
        return app.status(short).status_code == 404

    wait_until(purged, timeout=15, interval=0.5, message="the expired row to be purged")
    assert app.status(keep).status_code == 200
    assert app.status(unfinished).status_code == 202
