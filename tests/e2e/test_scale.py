"""Many operations at once, and the bulk-sync sample against a real stand-in ERP (SPEC §5)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from azure.data.tables import TableServiceClient
from helpers import CallbackServer, wait_until

OPERATIONS = 300


def test_hundreds_of_concurrent_submissions_all_reach_a_terminal_state(app):
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


@pytest.fixture(scope="module")
def accounts(app):
    """A table of 3,000 rows to sync, written in batches."""
    name = "accounts" + app.table_name[3:]
    table = TableServiceClient.from_connection_string(app.connection_string).create_table(name)
    for start in range(0, 3000, 100):
        table.submit_transaction([("create", {"PartitionKey": "p", "RowKey": f"{i:05d}", "Name": f"Account {i}"})
                                  for i in range(start, start + 100)])
    return name


def test_sync_records_posts_every_row_in_batches_and_reports_counts(app, erp, accounts):
    response = app.submit("sample_SyncRecordsToExternalSystem", {
        "EntityName": accounts, "SyncMode": "Full", "ExternalSystemUrl": erp.url, "BatchSize": 250})
    op_id = response.json()["backgroundOperationId"]
    row = app.wait_for_status(op_id, (30, 31), timeout=60)
    assert row["backgroundoperationstatuscode"] == 30, row["errormessage"]
    outputs = dict((p["Key"], p["Value"]) for p in json.loads(row["outputparameters"]))
    assert outputs == {"RecordsSynced": 3000, "Batches": 12}
    keys = [r["RowKey"] for b in erp.batches if b["entityName"] == accounts for r in b["records"]]
    assert sorted(keys) == [f"{i:05d}" for i in range(3000)]


def test_incremental_sync_sends_only_rows_changed_since_last_sync(app, erp, accounts):
    table = TableServiceClient.from_connection_string(app.connection_string).get_table_client(accounts)
    since = datetime.now(UTC) - timedelta(seconds=1)
    wait_until(lambda: datetime.now(UTC) > since + timedelta(seconds=1.5), interval=0.1)
    table.upsert_entity({"PartitionKey": "p", "RowKey": "00007", "Name": "Changed"})
    before = len(erp.batches)
    response = app.submit("sample_SyncRecordsToExternalSystem", {
        "EntityName": accounts, "SyncMode": "Incremental", "ExternalSystemUrl": erp.url,
        "LastSyncDate": (since + timedelta(seconds=1)).isoformat()})
    row = app.wait_for_status(response.json()["backgroundOperationId"], (30, 31), timeout=60)
    assert row["outputparameters"] == '[{"Key":"RecordsSynced","Value":1},{"Key":"Batches","Value":1}]'
    assert erp.batches[before]["records"][0]["Name"] == "Changed"


def test_sync_of_a_missing_table_fails_for_good_with_a_clear_message(app, erp):
    response = app.submit("sample_SyncRecordsToExternalSystem", {
        "EntityName": "nosuchtable", "ExternalSystemUrl": erp.url})
    row = app.wait_for_status(response.json()["backgroundOperationId"], 31, timeout=30)
    assert row["retrycount"] == 0 and "nosuchtable" in row["errormessage"]
