"""Many operations at once, and the bulk-sync sample against a real stand-in ERP (SPEC §5)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from helpers import CallbackServer, wait_until

OPERATIONS = 100  # the fault run submits 200 at once and counts every one; this proves the wiring


def test_a_hundred_concurrent_submissions_all_reach_a_terminal_state(app):
    def submit(i: int) -> str:
        name, inputs = ("sample_Fail", {"FailTimes": 1}) if i % 10 == 0 else ("sample_Echo", {"I": i})
        response = requests.post(app.url(f"data/v9.2/{name}"), json=inputs, headers={"Prefer": "respond-async"},
                                 timeout=60)
        assert response.status_code == 202
        return response.json()["backgroundOperationId"]

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(submit, range(OPERATIONS)))
    assert len(set(ids)) == OPERATIONS
    table = app.tables()

    def finished() -> bool:
        done = {e["RowKey"] for e in table.query_entities("backgroundoperationstatecode eq 3",
                                                          select=["RowKey"])}
        return set(ids) <= done

    wait_until(finished, timeout=120, interval=1, message=f"{OPERATIONS} operations to finish")
    statuses = {app.row(i)["backgroundoperationstatuscode"] for i in ids[::25]}
    assert statuses == {30}


class ERP(CallbackServer):
    """A stand-in external system: a real HTTP server that records the batches POSTed to it."""

    @property
    def url(self) -> str:
        return f"{self.base}/import"

    @property
    def batches(self) -> list[dict]:
        return [call["body"] for call in self.calls("/import")]


@pytest.fixture(scope="module")
def erp():
    server = ERP()
    yield server
    server.stop()


def _posted(erp: ERP, since: int = 0) -> list[dict]:
    return [record for batch in erp.batches[since:] for record in batch["records"]]


def test_sync_records_posts_the_operations_in_batches_as_the_api_shows_them_and_reports_counts(app, erp):
    submitted = app.submit("sample_Echo", {"A": 1}, callback="http://127.0.0.1:9/secret-callback?sig=x")
    app.wait_for_status(submitted.json()["backgroundOperationId"], (30, 31), timeout=60)
    response = app.submit("sample_SyncRecordsToExternalSystem", {
        "EntityName": "backgroundoperations", "SyncMode": "Full", "ExternalSystemUrl": erp.url, "BatchSize": 100})
    row = app.wait_for_status(response.json()["backgroundOperationId"], (30, 31), timeout=60)
    assert row["backgroundoperationstatuscode"] == 30, row["errormessage"]
    outputs = dict((p["Key"], p["Value"]) for p in json.loads(row["outputparameters"]))
    records = _posted(erp)
    assert outputs == {"RecordsSynced": len(records), "Batches": len(erp.batches)} and len(records) >= 2
    assert len(erp.batches) == -(-len(records) // 100)
    assert submitted.json()["backgroundOperationId"] in {r["backgroundoperationid"] for r in records}
    assert "secret-callback" not in json.dumps(erp.batches) and not any("callbackurl" in r for r in records)


def test_incremental_sync_sends_only_operations_changed_since_last_sync(app, erp):
    since = datetime.now(UTC)
    wait_until(lambda: datetime.now(UTC) > since + timedelta(seconds=1), interval=0.1)
    changed = app.submit("sample_Echo", {"A": 2}).json()["backgroundOperationId"]
    app.wait_for_status(changed, (30, 31), timeout=60)
    before = len(erp.batches)
    response = app.submit("sample_SyncRecordsToExternalSystem", {
        "EntityName": "backgroundoperations", "SyncMode": "Incremental", "ExternalSystemUrl": erp.url,
        "LastSyncDate": since.isoformat()})
    sync = response.json()["backgroundOperationId"]
    row = app.wait_for_status(sync, (30, 31), timeout=60)
    assert row["backgroundoperationstatuscode"] == 30, row["errormessage"]
    assert {r["backgroundoperationid"] for r in _posted(erp, before)} <= {changed, sync}  # nothing older
    assert changed in {r["backgroundoperationid"] for r in _posted(erp, before)}


def test_sync_of_anything_but_the_apis_entity_sets_fails_for_good_with_a_clear_message(app, erp):
    response = app.submit("sample_SyncRecordsToExternalSystem", {
        "EntityName": "nosuchtable", "ExternalSystemUrl": erp.url})
    row = app.wait_for_status(response.json()["backgroundOperationId"], 31, timeout=30)
    assert row["retrycount"] == 0 and "nosuchtable" in row["errormessage"]
    assert "backgroundoperations" in row["errormessage"]
