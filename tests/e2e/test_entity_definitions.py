"""EntityDefinitions, read-only, asked as the Dataverse SDK for Python asks (docs/dataverse-sdk-wire.md): its
query string form-encoded by requests, ``value[0]`` taken unchecked, and the picklist look before an update."""

from __future__ import annotations

import re

import pytest
import requests

from shared.api import metadata


def _get(app, path: str, **params) -> requests.Response:
    return requests.get(app.url(f"data/v9.2/{path}"), params=params or None, timeout=10)


@pytest.mark.parametrize(("table", "entity_set", "key"), [("backgroundoperation", "backgroundoperations",
                                                           "backgroundoperationid"),
                                                          ("asyncoperation", "asyncoperations", "asyncoperationid")])
def test_the_sdks_entity_set_lookup_finds_each_table_and_only_it(app, table, entity_set, key):
    answer = _get(app, "EntityDefinitions", **{"$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
                                                "$filter": f"LogicalName eq '{table}'"})
    assert answer.status_code == 200, answer.text
    assert "%24select" in answer.url and "+eq+" in answer.url  # sent as requests (and the SDK) encode it
    [found] = answer.json()["value"]
    assert {k: v for k, v in found.items() if k != "MetadataId"} == {
        "LogicalName": table, "EntitySetName": entity_set, "PrimaryIdAttribute": key}
    assert answer.json()["@odata.context"].endswith("$metadata#EntityDefinitions")


def test_tables_get_reads_six_properties_and_the_ids_are_stable_and_match_the_key_form(app):
    select = "MetadataId,LogicalName,SchemaName,EntitySetName,PrimaryNameAttribute,PrimaryIdAttribute"
    [first] = _get(app, "EntityDefinitions", **{"$select": select,
                                                 "$filter": "LogicalName eq 'asyncoperation'"}).json()["value"]
    [again] = _get(app, "EntityDefinitions", **{"$select": select,
                                                 "$filter": "LogicalName eq 'asyncoperation'"}).json()["value"]
    assert first == again and set(first) == set(select.split(","))
    assert re.fullmatch(r"[0-9a-f-]{36}", first["MetadataId"]) and first["SchemaName"] == "AsyncOperation"
    by_id = _get(app, f"EntityDefinitions({first['MetadataId']})").json()
    by_name = _get(app, "EntityDefinitions(LogicalName='asyncoperation')").json()
    assert by_id["LogicalName"] == by_name["LogicalName"] == "asyncoperation"
    assert by_name["@odata.context"].endswith("$metadata#EntityDefinitions/$entity")


def test_attributes_are_the_metadata_documents_columns_with_their_types(app):
    answer = _get(app, "EntityDefinitions(LogicalName='backgroundoperation')/Attributes",
                  **{"$select": "LogicalName,AttributeType"}).json()["value"]
    csdl = _get(app, "$metadata").text
    entity = csdl[csdl.index(f'<EntityType Name="{metadata.ENTITY_TYPE}">'):]
    properties = re.findall(r'<Property Name="([^"]+)" Type="([^"]+)"', entity[:entity.index("</EntityType>")])
    edm = {"Uniqueidentifier": "Edm.Guid", "String": "Edm.String", "Integer": "Edm.Int32",
           "DateTime": "Edm.DateTimeOffset", "Double": "Edm.Double"}
    assert [(a["LogicalName"], edm[a["AttributeType"]]) for a in answer] == properties
    states = _get(app, "EntityDefinitions(LogicalName='asyncoperation')/Attributes",
                  **{"$filter": "LogicalName eq 'statecode'"}).json()["value"]
    assert [a["AttributeType"] for a in states] == ["State"]


def test_the_picklist_look_an_update_makes_first_finds_none(app):
    answer = _get(app, "EntityDefinitions(LogicalName='backgroundoperation')/Attributes/"
                       "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
                  **{"$select": "LogicalName", "$expand": "OptionSet($select=Options)"})
    assert answer.status_code == 200 and answer.json()["value"] == []


@pytest.mark.parametrize(("path", "params", "status", "says"), [
    ("EntityDefinitions(LogicalName='account')", {}, 404, "this app has backgroundoperation and asyncoperation"),
    ("EntityDefinitions", {"$filter": "LogicalName eq 'account'"}, 200, None),  # the SDK: "no such table"
    ("EntityDefinitions", {"$filter": "startswith(LogicalName,'a')"}, 400, "one comparison"),
    ("EntityDefinitions", {"$select": "LogicalName,Colour"}, 400, "unknown property Colour"),
    # Found by a fresh schemathesis seed: a $filter no table matches left the $select unread.
    ("EntityDefinitions", {"$select": "true", "$filter": "SchemaName eq 'none'"}, 400, "unknown property true"),
    ("EntityDefinitions(LogicalName='asyncoperation')/Attributes", {"$select": "x", "$filter": "LogicalName eq 'y'"},
     400, "unknown property x"),
    ("EntityDefinitions", {"$top": "1"}, 501, "does not implement $top"),
    ("EntityDefinitions(LogicalName='asyncoperation')/Attributes/Microsoft.Dynamics.CRM.NoSuchAttributeMetadata", {},
     404, "No attribute type"),
])
def test_what_cannot_be_answered_is_a_clear_4xx_or_a_501(app, path, params, status, says):
    answer = _get(app, path, **params)
    assert answer.status_code == status, answer.text
    if says:
        assert says in answer.json()["error"]["message"]
    else:
        assert answer.json()["value"] == []


@pytest.mark.parametrize(("method", "path"), [("POST", "EntityDefinitions"),
                                              ("PATCH", "EntityDefinitions(LogicalName='asyncoperation')"),
                                              ("PUT", "EntityDefinitions(LogicalName='asyncoperation')"),
                                              ("DELETE", "EntityDefinitions(LogicalName='asyncoperation')"),
                                              ("POST", "EntityDefinitions(LogicalName='asyncoperation')/Attributes")])
def test_the_tables_are_fixed_a_write_is_405_saying_so_and_changes_nothing(app, method, path):
    before = _get(app, "EntityDefinitions").json()
    answer = requests.request(method, app.url(f"data/v9.2/{path}"), json={"LogicalName": "new_table"}, timeout=10)
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET"
    assert "read-only" in answer.json()["error"]["message"]
    assert _get(app, "EntityDefinitions").json() == before
