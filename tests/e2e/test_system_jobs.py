"""The rows as System Jobs: ``asyncoperations``, over real HTTP through devhost, read
with plain requests and with pyodata (a maintained OData client)."""

from __future__ import annotations

import requests
from odata import ODataService

ASYNC_COLUMNS = ["asyncoperationid", "name", "operationtype", "statecode", "statuscode", "postponeuntil",
                 "recurrencepattern", "recurrencestarttime", "dependencytoken", "message", "friendlymessage",
                 "errorcode", "retrycount", "createdon", "startedon", "completedon", "modifiedon",
                 "executiontimespan"]


def _job(app, op_id, **params) -> requests.Response:
    return app.http.get(app.url(f"data/v9.2/asyncoperations({op_id})"), params=params, timeout=30)


def _done(app, name="sample_Echo", inputs=None) -> str:
    op_id = app.submit(name, inputs or {"A": 1}).json()["backgroundOperationId"]
    app.wait_for_status(op_id, (30, 31))
    return op_id


def test_a_finished_operation_reads_as_a_system_job_with_asyncoperations_columns(app):
    op_id = _done(app, "sample_Fail", {"NonRetryable": True})
    row, job = app.row(op_id), _job(app, op_id)
    assert job.status_code == 200
    body = job.json()
    assert list(body) == ["@odata.context", "@odata.etag", *ASYNC_COLUMNS]
    assert body["@odata.context"].endswith("$metadata#asyncoperations/$entity")
    assert (body["asyncoperationid"], body["name"], body["operationtype"]) == (op_id, "sample_Fail", 54)
    assert (body["statecode"], body["statuscode"]) == (3, 31)
    assert body["message"] == body["friendlymessage"] == row["errormessage"] and body["errorcode"] == row["errorcode"]
    assert (body["startedon"], body["completedon"], body["createdon"]) == (row["starttime"], row["endtime"],
                                                                           row["createdon"])
    assert body["executiontimespan"] >= 0 and body["recurrencepattern"] is None
    assert body["@odata.etag"] == job.headers["ETag"] == app.http.get(
        app.url(f"data/v9.2/backgroundoperations({op_id})"), timeout=30).headers["ETag"]  # one row, one ETag


def test_the_list_filters_selects_and_pages_with_asyncoperations_names(app):
    ids = {_done(app) for _ in range(3)}
    response = app.http.get(app.url("data/v9.2/asyncoperations"), timeout=30, headers={"Prefer": "odata.maxpagesize=2"},
                            params={"$filter": "statuscode eq 30 and name eq 'sample_Echo'",
                                    "$select": "statuscode,name"})
    assert response.status_code == 200, response.text
    first = response.json()
    assert all(set(r) == {"@odata.etag", "asyncoperationid", "statuscode", "name"} for r in first["value"])
    assert len(first["value"]) == 2 and "asyncoperations" in first["@odata.nextLink"]
    seen, link = [r["asyncoperationid"] for r in first["value"]], first["@odata.nextLink"]
    while link and not ids <= set(seen):
        page = app.http.get(link, timeout=30).json()
        seen += [r["asyncoperationid"] for r in page["value"]]
        link = page.get("@odata.nextLink")
    assert ids <= set(seen) and len(seen) == len(set(seen))


def test_only_what_seed_003_allows_can_be_filtered_or_changed(app):
    op_id = _done(app)
    refused = app.http.get(app.url("data/v9.2/asyncoperations"), params={"$filter": "operationtype eq 54"},
                           timeout=30)
    assert refused.status_code == 400 and "asyncoperationid, statecode, statuscode, name or createdon" in \
        refused.json()["error"]["message"]
    for attribute in ("name", "operationtype", "message"):
        response = app.http.patch(app.url(f"data/v9.2/asyncoperations({op_id})"), json={attribute: "x"}, timeout=30)
        assert response.status_code == 400 and f"'{attribute}' cannot be changed" in response.json()["error"]["message"]


def test_cancel_and_postpone_through_asyncoperations(app):
    running = app.submit("sample_Sleep", {"Seconds": 60}).json()["backgroundOperationId"]
    app.wait_for_status(running, 20)
    etag = _job(app, running).headers["ETag"]
    canceled = app.http.patch(app.url(f"data/v9.2/asyncoperations({running})"), headers={"If-Match": etag},
                              json={"statecode": 2, "statuscode": 22}, timeout=30)
    assert canceled.status_code in (204, 412), canceled.text  # 412 only if progress was written meanwhile
    if canceled.status_code == 412:
        assert app.http.patch(app.url(f"data/v9.2/asyncoperations({running})"),
                              json={"statecode": 2, "statuscode": 22}, timeout=30).status_code == 204
    app.wait_for_status(running, 32, timeout=15)


def test_python_odata_reads_filters_and_cancels_system_jobs(keyed_app):
    """python-odata (a maintained OData 4 client) reflects asyncoperations from $metadata, reads one by key,
    filters by its names and saves a state change, as it does for backgroundoperations."""
    session = requests.Session()
    session.headers["x-functions-key"] = keyed_app.key
    done = _done(keyed_app)
    service = ODataService(keyed_app.url("data/v9.2/"), reflect_entities=True, session=session, quiet_progress=True)
    jobs = service.entities["asyncoperations"]
    job = service.query(jobs).get(done)
    assert (job.asyncoperationid, job.statuscode, job.name, job.operationtype) == (done, 30, "sample_Echo", 54)
    assert [j.asyncoperationid for j in service.query(jobs).filter(jobs.asyncoperationid == done).all()] == [done]

    response = session.post(keyed_app.url("ExecuteAsync"), timeout=30,
                            json={"Request": {"RequestName": "sample_Sleep", "Parameters": {"Seconds": 60}}})
    waiting = response.json()["AsyncJobId"]
    keyed_app.wait_for_status(waiting, 20)
    job = service.query(jobs).get(waiting)
    job.statecode, job.statuscode = 2, 22
    service.save(job)  # PATCH with the changed column only: {"statuscode": 22}, the job being Locked already
    keyed_app.wait_for_status(waiting, 32, timeout=15)
