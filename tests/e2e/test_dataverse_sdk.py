"""Microsoft's Dataverse SDK for Python (PowerPlatform-Dataverse-Client), for real, against the app over HTTPS
(the SDK refuses http://), pointed at it as at an org URL. What it sends is in docs/dataverse-sdk-wire.md.

Locally nothing checks the bearer token (no function key, no App Service Authentication), so the credential is a
stand-in that hands out one; in Azure it is a real Entra ID credential for the app's audience."""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.credentials import AccessToken
from helpers import AppProcess, wait_until
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.filters import col


class LocalCredential:
    """A TokenCredential: a token the local app does not check."""

    def get_token(self, *scopes: str, **options: object) -> AccessToken:
        return AccessToken("local", int(time.time()) + 3600)


@pytest.fixture(scope="module")
def tls_app(azurite, tmp_path_factory):
    with AppProcess(azurite, tmp_path_factory.mktemp("sdk") / "host.log", https=True,
                    settings={"BGOPS_ENABLE_SAMPLES": "true"}) as app:
        yield app


@pytest.fixture(scope="module")
def client(tls_app):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", str(tls_app.ca))  # trust the local authority, as the README says
        yield DataverseClient(tls_app.base, LocalCredential())


@pytest.fixture(scope="module")
def three(tls_app):
    """Three finished sample_Echo operations, newest first."""
    ids = []
    for n in range(3):
        answer = requests.post(tls_app.url("data/v9.2/sample_Echo"), json={"N": n}, timeout=10,
                               headers={"Prefer": "respond-async"}, verify=str(tls_app.ca))
        ids.append(answer.json()["backgroundOperationId"])
    for op_id in ids:
        wait_until(lambda op_id=op_id: requests.get(tls_app.url(f"backgroundoperation/{op_id}"), timeout=10,
                                                    verify=str(tls_app.ca)).status_code == 200)
    return ids[::-1]


def test_the_sdk_refuses_plain_http_so_the_app_serves_https():
    with pytest.raises(ValueError, match="HTTPS"):
        DataverseClient("http://127.0.0.1:7071", LocalCredential())


def test_records_retrieve_with_and_without_select(client, three):
    row = client.records.retrieve("backgroundoperation", three[0])
    assert row["backgroundoperationid"] == three[0] and row["backgroundoperationstatuscode"] == 30
    narrow = client.records.retrieve("backgroundoperation", three[0], select=["name"])
    assert narrow.data == {"backgroundoperationid": three[0], "name": "sample_Echo"}  # the key comes along


def test_records_list_with_filter_select_top_and_orderby_reads_newest_first_with_each_rows_key(client, three):
    rows = client.records.list("backgroundoperation", filter="name eq 'sample_Echo'", select=["name"], top=2,
                               orderby=["createdon desc"])
    assert [r["backgroundoperationid"] for r in rows] == three[:2]  # Record.id is the SDK's to leave empty
    with pytest.raises(HttpError) as refused:
        client.records.list("backgroundoperation", orderby=["name"])
    assert refused.value.status_code == 501


def test_records_list_pages_follows_the_servers_pages_without_overlap_or_gaps(client, three):
    pages = list(client.records.list_pages("asyncoperation", filter="name eq 'sample_Echo'", select=["name"],
                                           page_size=2))
    assert [len(page) for page in pages] == [2, 1]
    assert [r["asyncoperationid"] for page in pages for r in page] == three


def test_the_query_builder(client, three):
    rows = (client.query.builder("asyncoperation").where(col("name") == "sample_Echo").select("name", "statuscode")
            .top(3).execute())
    assert [(r["asyncoperationid"], r["statuscode"]) for r in rows] == [(op_id, 30) for op_id in three]


def test_tables_get_describes_the_system_job_table(client):
    info = client.tables.get("asyncoperation")
    assert (info.logical_name, info.entity_set_name, info.primary_id_attribute, info.schema_name) == (
        "asyncoperation", "asyncoperations", "asyncoperationid", "AsyncOperation")
    assert client.tables.get("account") is None


@pytest.fixture
def line(client, tls_app):
    """Two system jobs in line: the one ahead running (for a minute), the one behind waiting for its turn (Ready,
    0/0), so that it can be postponed; both canceled after the test."""
    def execute_async(name: str, parameters: dict) -> str:
        answer = requests.post(tls_app.url("ExecuteAsync"), timeout=10, verify=str(tls_app.ca),
                               json={"Request": {"RequestName": name, "Parameters": parameters}})
        return answer.json()["AsyncJobId"]

    ahead, behind = execute_async("sample_Sleep", {"Seconds": 60}), execute_async("sample_Echo", {})
    wait_until(lambda: client.records.retrieve("asyncoperation", ahead, select=["statuscode"])["statuscode"] == 20,
               message="the job ahead to run")
    yield ahead, behind
    for op_id in (behind, ahead):
        requests.patch(tls_app.url(f"data/v9.2/asyncoperations({op_id})"), json={"statecode": 3, "statuscode": 32},
                       timeout=10, verify=str(tls_app.ca))


def test_records_update_postpones_a_job_waiting_in_line_then_cancels_it_and_the_one_ahead(client, line):
    ahead, behind = line
    client.records.update("asyncoperation", behind, {"postponeuntil": "2031-06-01T00:00:00Z"})
    postponed = client.records.retrieve("asyncoperation", behind, select=["statecode", "postponeuntil"])
    assert (postponed["statecode"], postponed["postponeuntil"]) == (1, "2031-06-01T00:00:00Z")
    for op_id in (behind, ahead):
        client.records.update("asyncoperation", op_id, {"statecode": 3, "statuscode": 32})  # cancel
    wait_until(lambda: [client.records.retrieve("asyncoperation", op_id, select=["statuscode"])["statuscode"]
                        for op_id in (behind, ahead)] == [32, 32], message="both canceled")


def test_client_batch_retrieves_lists_and_changes_in_one_request_and_stops_at_a_failure(client, three, line):
    job = line[1]  # waiting for its turn: it can be postponed
    batch = client.batch.new()
    batch.records.retrieve("backgroundoperation", three[0], select=["name"])
    batch.records.list("backgroundoperation", select=["name"], top=2,
                       filter=f"name eq 'sample_Echo' and backgroundoperationid eq {three[1]}")
    with batch.changeset() as change_set:
        change_set.records.update("asyncoperation", job, {"postponeuntil": "2031-06-01T00:00:00Z"})
        change_set.records.update("asyncoperation", job, {"statecode": 3, "statuscode": 32})  # cancel
    batch.records.retrieve("asyncoperation", job, select=["statecode", "statuscode", "postponeuntil"])
    result = batch.execute()
    retrieved, listed, postponed, canceled, read = result.responses
    assert (retrieved.status_code, retrieved.data["name"], retrieved.data["backgroundoperationid"]) == \
        (200, "sample_Echo", three[0])
    assert [(row["backgroundoperationid"], row["name"]) for row in listed.data["value"]] == [(three[1], "sample_Echo")]
    assert [(r.status_code, r.content_id) for r in (postponed, canceled)] == [(204, "1"), (204, "2")]
    assert (read.data["statecode"], read.data["statuscode"], read.data["postponeuntil"]) == \
        (3, 32, "2031-06-01T00:00:00Z")  # a postponed job is canceled at once: it is not running

    failing = client.batch.new()
    failing.records.retrieve("asyncoperation", "00000000-0000-0000-0000-000000000000")
    failing.records.retrieve("asyncoperation", job)
    stopped = failing.execute()
    assert [(r.status_code, r.error_code) for r in stopped.responses] == [(404, "OperationNotFound")]
    assert [r.status_code for r in failing.execute(continue_on_error=True).responses] == [404, 200]
