"""The samples cannot leak (issue 9): sample_SyncRecordsToExternalSystem reads no table of the app's own
and posts only where callbacks may go. Run synchronously, with the services as they run in Azure."""

from __future__ import annotations

import pytest

from shared.domain.errors import HandlerFailed
from shared.services.container import build_services
from shared.services.submission import run_now
from shared.settings import Settings

SYNC = "sample_SyncRecordsToExternalSystem"


@pytest.fixture
def svc(storage_settings, unique_name):
    services = build_services(Settings(storage=storage_settings, queue_name=unique_name("q"),
                                       table_name=unique_name("ops"), enable_samples=True))  # callbacks guarded
    services.table_service.create_table_if_not_exists("Contacts")
    services.table_service.get_table_client("Contacts").upsert_entity({"PartitionKey": "p", "RowKey": "1"})
    return services


def test_the_sync_sample_cannot_read_the_apps_own_table(svc):
    services, name = svc, svc.settings.table_name
    with pytest.raises(HandlerFailed, match="this app's own records"):
        run_now(services, SYNC, {"EntityName": name.upper(), "ExternalSystemUrl": "https://example.com/in"})


@pytest.mark.parametrize("url", ["https://127.0.0.1:9/in", "https://169.254.169.254/latest/meta-data",
                                 "https://localhost:9/in", "https://2130706433/in", "http://example.com/in"])
def test_the_sync_sample_cannot_post_where_callbacks_may_not_go(svc, url):
    with pytest.raises(HandlerFailed) as failed:
        run_now(svc, SYNC, {"EntityName": "Contacts", "ExternalSystemUrl": url})
    assert "The URL" in str(failed.value) and "127.0.0.1" not in str(failed.value)
