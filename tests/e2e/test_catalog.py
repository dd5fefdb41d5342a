"""The operations catalog: Dataverse's Custom API definitions for this app's operations."""

from __future__ import annotations

import requests


def test_the_catalog_lists_every_registered_operation_with_its_parameters(app):
    response = requests.get(app.url("operations"), timeout=10)
    assert response.status_code == 200
    catalog = {d["name"]: d for d in response.json()["value"]}
    assert list(catalog) == ["sample_Echo", "sample_Fail", "sample_IsSystemAdmin", "sample_Repeat", "sample_Sleep",
                             "sample_SyncRecordsToExternalSystem"]
    sync = catalog["sample_SyncRecordsToExternalSystem"]
    assert sync["displayName"] == "Sync records to an external system" and sync["description"]
    assert {p["name"]: (p["type"], p["required"]) for p in sync["requestParameters"]} == {
        "EntityName": ("string", True), "SyncMode": ("string", False), "ExternalSystemUrl": ("string", True),
        "LastSyncDate": ("datetime", False), "BatchSize": ("int", False)}
    assert all(p["description"] for p in sync["requestParameters"])
    assert [p["name"] for p in sync["responseProperties"]] == ["RecordsSynced", "Batches"]


def test_one_operation_by_name_regardless_of_case_with_the_json_schema_of_its_inputs(app):
    response = requests.get(app.url("operations/SAMPLE_SLEEP"), timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "sample_Sleep"
    assert body["inputSchema"]["required"] == ["Seconds"]
    assert body["inputSchema"]["properties"]["Seconds"]["type"] == "number"
    assert body["inputSchema"]["additionalProperties"] is False
    assert body["outputSchema"]["properties"]["SleptSeconds"]["type"] == "number"


def test_an_operation_with_open_inputs_says_so_and_its_schema_admits_any_property(app):
    body = requests.get(app.url("operations/sample_Echo"), timeout=10).json()
    assert body["openInputs"] is True and "additionalProperties" not in body["inputSchema"]


def test_an_unknown_operation_is_404_naming_it(app):
    response = requests.get(app.url("operations/contoso_Nothing"), timeout=10)
    assert response.status_code == 404 and "contoso_Nothing" in response.json()["error"]["message"]


def test_the_catalog_route_does_not_shadow_submitting_to_the_alias(app):
    response = requests.post(app.url("operations/sample_Echo"), json={"A": 1}, timeout=10)
    assert response.status_code == 200 and response.json() == {"A": 1}
