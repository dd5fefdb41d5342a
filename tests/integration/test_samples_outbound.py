"""The samples cannot leak: sample_SyncRecordsToExternalSystem sends only what its caller could list through
the API (never a table of the storage account by name, never a callback URL) and posts only where callbacks
may go. Run synchronously, with the services as they run in Azure, on Azurite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.bootstrap import build_services
from shared.domain.errors import HandlerFailed
from shared.services.submission import Submission, run_now, submit
from shared.settings import Settings

SYNC = "sample_SyncRecordsToExternalSystem"
BASE_URL = "https://app.example.com"
SECRET = "sig=CALLBACK-SAS-SECRET"


@pytest.fixture
def svc(storage_settings, unique_name):
    services = build_services(Settings(storage=storage_settings, queue_name=unique_name("q"),
                                       table_name=unique_name("ops"), enable_samples=True))  # callbacks guarded
    services.table_service.create_table_if_not_exists("anothertable")
    services.table_service.get_table_client("anothertable").upsert_entity({"PartitionKey": "p", "RowKey": "1"})
    submitted(services)  # something to send, so that the URL is tried
    return services


@pytest.fixture
def signed_in(storage_settings, unique_name):
    """Services with App Service Authentication on, posting anywhere (the test's receiver is on 127.0.0.1)."""
    return build_services(Settings(storage=storage_settings, queue_name=unique_name("q"),
                                   table_name=unique_name("ops"), enable_samples=True, allow_http_callbacks=True,
                                   platform_authentication=True))


def submitted(svc, runas: str = "", at: datetime | None = None, **options):
    """A queued sample_Echo, submitted as ``runas`` (at the time ``at``, when given)."""
    if at is not None:
        svc.clock = lambda: at
    return submit(svc, Submission(name="sample_Echo", inputs={"N": 1}, base_url=BASE_URL, runas=runas, **options))


def sent(callbacks, url: str) -> list[dict]:
    """The batches the external system received."""
    return [call["body"] for call in callbacks.calls(url)]


@pytest.mark.parametrize("entity", ["table_name", "table_name_upper", "anothertable"])
def test_the_sync_sample_reads_no_table_by_name_not_even_the_apps_own(svc, entity):
    name = {"table_name": svc.settings.table_name, "table_name_upper": svc.settings.table_name.upper()}.get(entity,
                                                                                                          entity)
    with pytest.raises(HandlerFailed, match="backgroundoperations or asyncoperations") as refused:
        run_now(svc, SYNC, {"EntityName": name, "ExternalSystemUrl": "https://example.com/in"})
    assert "never the rows of a table" in str(refused.value)


@pytest.mark.parametrize("url", ["https://127.0.0.1:9/in", "https://169.254.169.254/latest/meta-data",
                                 "https://localhost:9/in", "https://2130706433/in", "http://example.com/in"])
def test_the_sync_sample_cannot_post_where_callbacks_may_not_go(svc, url):
    with pytest.raises(HandlerFailed) as failed:
        run_now(svc, SYNC, {"EntityName": "backgroundoperations", "ExternalSystemUrl": url})
    assert "The URL" in str(failed.value) and "127.0.0.1" not in str(failed.value)


def test_the_sync_sample_sends_the_callers_own_operations_without_their_callback_urls(signed_in, callbacks):
    mine = [submitted(signed_in, "alice", callback_url=f"{callbacks.base}/cb/alice?{SECRET}"),
            submitted(signed_in, "alice")]
    theirs = submitted(signed_in, "bob", callback_url=f"{callbacks.base}/cb/bob?{SECRET}")
    url = callbacks.new_url()
    outputs = run_now(signed_in, SYNC, {"EntityName": "backgroundoperations", "ExternalSystemUrl": url},
                      runas="alice")
    assert outputs == {"RecordsSynced": 2, "Batches": 1}
    records = sent(callbacks, url)[0]["records"]
    assert sorted(r["backgroundoperationid"] for r in records) == sorted(op.id for op in mine)
    assert {r["runas"] for r in records} == {"alice"} and "inputparameters" in records[0]
    text = json.dumps(sent(callbacks, url))
    assert "CALLBACK-SAS-SECRET" not in text and "/cb/" not in text and "callbackurl" not in text
    assert theirs.id not in text


def test_the_sync_sample_sends_another_principal_nothing_of_alices(signed_in, callbacks):
    submitted(signed_in, "alice")
    url = callbacks.new_url()
    outputs = run_now(signed_in, SYNC, {"EntityName": "asyncoperations", "ExternalSystemUrl": url}, runas="bob")
    assert outputs == {"RecordsSynced": 0, "Batches": 0} and sent(callbacks, url) == []


def test_the_sync_sample_incremental_sends_only_operations_changed_since_last_sync_date(signed_in, callbacks):
    since = datetime.now(UTC).replace(microsecond=0)
    submitted(signed_in, "alice", at=since - timedelta(minutes=5))
    changed = [submitted(signed_in, "alice", at=since), submitted(signed_in, "alice", at=since + timedelta(minutes=5))]
    url = callbacks.new_url()
    outputs = run_now(signed_in, SYNC, {"EntityName": "asyncoperations", "ExternalSystemUrl": url,
                                        "SyncMode": "Incremental",
                                        "LastSyncDate": since.isoformat().replace("+00:00", "Z")}, runas="alice")
    assert outputs["RecordsSynced"] == 2
    records = sent(callbacks, url)[0]["records"]
    assert sorted(r["asyncoperationid"] for r in records) == sorted(op.id for op in changed)


def test_the_sync_sample_posts_batches_of_batch_size_across_pages(signed_in, callbacks):
    mine = [submitted(signed_in, "alice") for _ in range(5)]
    url = callbacks.new_url()
    outputs = run_now(signed_in, SYNC, {"EntityName": "backgroundoperations", "ExternalSystemUrl": url,
                                        "BatchSize": 2}, runas="alice")
    assert outputs == {"RecordsSynced": 5, "Batches": 3}
    batches = sent(callbacks, url)
    assert [len(b["records"]) for b in batches] == [2, 2, 1]
    assert [r["backgroundoperationid"] for b in batches for r in b["records"]] == sorted(op.id for op in mine)
