"""OData conventions a generic client relies on: the service document, $metadata, @odata.context,
@odata.etag and If-Match, $top as a cap, Prefer: odata.maxpagesize, and the headers of every response."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers import ALL_COLUMNS

from shared.api import odata
from shared.services.maintenance import PURGE_JOB_ID

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
ODATA_JSON = "application/json; odata.metadata=minimal"


def _done(app, name="sample_Echo", inputs=None) -> str:
    response = app.submit(name, inputs or {})
    assert response.status_code == 202, response.text
    op_id = response.json()["backgroundOperationId"]
    app.wait_for_status(op_id, (30, 31))
    return op_id


@pytest.fixture(scope="module")
def seven(quiet_app):
    """Seven finished operations in an app of their own, newest first, then the app's own system job (the
    purge's, listed from the app's start: its id sorts after every operation's)."""
    return [_done(quiet_app, inputs={"N": n}) for n in range(7)][::-1] + [PURGE_JOB_ID]


def _entity_url(app, op_id) -> str:
    return app.url(f"data/v9.2/backgroundoperations({op_id})")


def test_service_document_lists_the_entity_sets_and_points_at_metadata(app):
    response = requests.get(app.url("data/v9.2/"), timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == ODATA_JSON
    assert response.json() == {"@odata.context": app.url("data/v9.2/$metadata"),
                               "value": [{"name": name, "kind": "EntitySet", "url": name}
                                         for name in ("backgroundoperations", "asyncoperations")]}


def test_metadata_describes_every_column_with_its_edm_type_the_key_and_the_entity_set(app):
    response = requests.get(app.url("data/v9.2/$metadata"), timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/xml"
    assert response.headers["OData-Version"] == "4.0"
    root = ET.fromstring(response.content)
    assert root.tag == f"{EDMX}Edmx" and root.get("Version") == "4.0"
    entity_type = root.find(f".//{EDM}EntityType[@Name='backgroundoperation']")
    assert [ref.get("Name") for ref in entity_type.find(f"{EDM}Key")] == ["backgroundoperationid"]
    types = {p.get("Name"): p.get("Type") for p in entity_type.findall(f"{EDM}Property")}
    assert list(types) == list(ALL_COLUMNS)
    assert types["backgroundoperationid"] == "Edm.Guid" and types["createdon"] == "Edm.DateTimeOffset"
    assert types["backgroundoperationstatecode"] == "Edm.Int32" and types["inputparameters"] == "Edm.String"
    entity_set = root.find(f".//{EDM}EntityContainer/{EDM}EntitySet")
    assert entity_set.get("Name") == "backgroundoperations"
    assert entity_set.get("EntityType") == "Microsoft.Dynamics.CRM.backgroundoperation"


def test_every_row_has_its_etag_and_every_response_its_context(app):
    op_id = _done(app)
    one = requests.get(_entity_url(app, op_id), timeout=10)
    assert one.headers["Content-Type"] == ODATA_JSON and one.headers["OData-Version"] == "4.0"
    assert one.json()["@odata.context"] == app.url("data/v9.2/$metadata#backgroundoperations/$entity")
    assert one.json()["@odata.etag"] == one.headers["ETag"] and one.headers["ETag"].startswith('W/"')
    listed = requests.get(app.url("data/v9.2/backgroundoperations"), params={"$select": "name"}, timeout=10)
    assert listed.json()["@odata.context"] == app.url(
        "data/v9.2/$metadata#backgroundoperations(backgroundoperationid,name)")
    assert all(row["@odata.etag"] and row["backgroundoperationid"] for row in listed.json()["value"])


def _postponed(app, name="sample_Sleep", inputs=None) -> str:
    response = requests.post(app.url("ExecuteBackgroundOperation"), timeout=10, json={
        "Request": {"RequestName": name, "Parameters": inputs or {"Seconds": 60}},
        "PostponeUntil": "2099-01-01T00:00:00Z"})
    assert response.status_code == 202, response.text
    return response.json()["backgroundOperationId"]


def _status(app, op_id) -> int:
    return app.row(op_id)["backgroundoperationstatuscode"]


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(app):
    op_id = _postponed(app)
    first = requests.get(_entity_url(app, op_id), timeout=10).headers["ETag"]
    resumed = requests.patch(_entity_url(app, op_id), json={"backgroundoperationstatecode": 0},
                             headers={"If-Match": first}, timeout=10)
    assert resumed.status_code == 204 and resumed.headers["ETag"] != first
    refused = requests.patch(_entity_url(app, op_id), headers={"If-Match": first}, timeout=10, json={
        "backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22})
    assert refused.status_code == 412 and "If-Match" in refused.json()["error"]["message"]
    assert _status(app, op_id) in (0, 20)  # resumed, maybe running: not cancelled
    star = requests.patch(_entity_url(app, op_id), headers={"If-Match": "*"}, timeout=10, json={
        "backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22})
    assert star.status_code == 204
    app.wait_for_status(op_id, 32)


def test_delete_with_a_stale_if_match_is_412_with_a_fresh_one_or_star_it_cancels(app):
    changed, untouched = _postponed(app), _postponed(app)
    stale = requests.get(_entity_url(app, changed), timeout=10).headers["ETag"]
    requests.patch(_entity_url(app, changed), json={"backgroundoperationstatecode": 0}, timeout=10)
    refused = requests.delete(app.url(f"backgroundoperation/{changed}"), headers={"If-Match": stale}, timeout=10)
    assert refused.status_code == 412 and _status(app, changed) in (0, 20)
    star = requests.delete(app.url(f"backgroundoperation/{changed}"), headers={"If-Match": "*"}, timeout=10)
    assert star.status_code == 200
    fresh = requests.get(_entity_url(app, untouched), timeout=10).headers["ETag"]
    matching = requests.delete(app.url(f"backgroundoperation/{untouched}"), headers={"If-Match": fresh}, timeout=10)
    assert matching.status_code == 200 and _status(app, untouched) == 32
    app.wait_for_status(changed, 32)


def test_top_caps_the_total_with_no_next_link_past_it(quiet_app, seven):
    body = requests.get(quiet_app.url("data/v9.2/backgroundoperations"), params={"$top": "3"}, timeout=10).json()
    assert [row["backgroundoperationid"] for row in body["value"]] == seven[:3]
    assert "@odata.nextLink" not in body
    empty = requests.get(quiet_app.url("backgroundoperations"), params={"$top": "0"}, timeout=10).json()
    assert empty["value"] == [] and "@odata.nextLink" not in empty


def _pages(url, **first) -> list[list[str]]:
    pages, response = [], requests.get(url, timeout=10, **first)
    while True:
        assert response.status_code == 200, response.text
        pages.append([row["backgroundoperationid"] for row in response.json()["value"]])
        link = response.json().get("@odata.nextLink")
        if not link:
            return pages
        response = requests.get(link, timeout=10)  # followed as it is: no headers, no extra options


def test_maxpagesize_sets_the_page_size_and_next_links_go_to_the_end(quiet_app, seven):
    url = quiet_app.url("data/v9.2/backgroundoperations")
    first = requests.get(url, headers={"Prefer": "odata.maxpagesize=3"}, timeout=10)
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=3"
    assert _pages(url, headers={"Prefer": "odata.maxpagesize=3"}) == [seven[:3], seven[3:6], seven[6:]]


def test_maxpagesize_and_top_together_page_up_to_the_cap(quiet_app, seven):
    url = quiet_app.url("data/v9.2/backgroundoperations")
    pages = _pages(url, params={"$top": "5"}, headers={"Prefer": "odata.maxpagesize=2"})
    assert pages == [seven[:2], seven[2:4], seven[4:5]]


def test_next_link_keeps_filter_and_select(quiet_app, seven):
    response = requests.get(quiet_app.url("backgroundoperations"), timeout=10, headers={
        "Prefer": "odata.maxpagesize=2"}, params={"$filter": "name eq 'sample_Echo'", "$select": "name"})
    query = parse_qs(urlsplit(response.json()["@odata.nextLink"]).query)
    assert query["$filter"] == ["name eq 'sample_Echo'"] and query["$select"] == ["name"]


@pytest.mark.parametrize("prefer", [";", "odata.maxpagesize=0", "odata.maxpagesize=lots", "respond-async, =x"])
def test_a_malformed_prefer_is_400_on_list_and_on_submit_and_writes_nothing(quiet_app, prefer):
    listed = requests.get(quiet_app.url("backgroundoperations"), headers={"Prefer": prefer}, timeout=10)
    assert listed.status_code == 400 and "Prefer" in listed.json()["error"]["message"]
    rows, messages = quiet_app.count_rows(), quiet_app.count_messages()
    submitted = requests.post(quiet_app.url("data/v9.2/sample_Echo"), json={}, timeout=10,
                              headers={"Prefer": f"respond-async, {prefer}"})
    assert submitted.status_code == 400
    assert (quiet_app.count_rows(), quiet_app.count_messages()) == (rows, messages)


@pytest.mark.parametrize("params", [{"$skiptoken": "not-a-token"}, {"$top": "9" * 400}, {"$orderby": "nosuch desc"},
                                    {"$orderby": "createdon sideways"}, {"$skip": "-1"}, {"$count": "maybe"}])
def test_bad_query_options_are_a_clear_400(app, params):
    response = requests.get(app.url("data/v9.2/backgroundoperations"), params=params, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["message"]


@pytest.mark.parametrize("entity_set", ["backgroundoperations", "asyncoperations"])
def test_slash_count_is_501_saying_why_and_a_bad_filter_on_it_400(quiet_app, entity_set):
    counted = requests.get(quiet_app.url(f"data/v9.2/{entity_set}/$count"), timeout=10)
    assert counted.status_code == 501, counted.text
    assert counted.json()["error"] == {"code": "NotImplemented", "message": odata.COUNT_NOT_IMPLEMENTED}
    refused = requests.get(quiet_app.url(f"data/v9.2/{entity_set}/$count"), params={"$filter": "x eq 1"}, timeout=10)
    assert refused.status_code == 400 and "cannot filter on 'x'" in refused.json()["error"]["message"]


def test_filter_on_the_key_finds_that_row(app):
    op_id = _done(app)
    body = requests.get(app.url("backgroundoperations"), timeout=10,
                        params={"$filter": f"(backgroundoperationid eq {op_id})"}).json()
    assert [row["backgroundoperationid"] for row in body["value"]] == [op_id]


def test_a_bad_filter_is_refused_even_when_top_asks_for_no_rows(app):
    response = requests.get(app.url("backgroundoperations"), params={"$top": "0", "$filter": "runas eq 'x'"},
                            timeout=10)
    assert response.status_code == 400


# Every option read once and as written, on every GET.

@pytest.mark.parametrize("route", ["data/v9.2/backgroundoperations", "data/v9.2/asyncoperations"])
def test_top_given_twice_is_400_naming_it_not_the_first_silently(quiet_app, seven, route):
    response = requests.get(quiet_app.url(route), params=[("$top", "1"), ("$top", "2")], timeout=10)
    assert response.status_code == 400, response.text
    assert "$top is given more than once" in response.json()["error"]["message"]


@pytest.mark.parametrize("text, words", [("(name eq 'sample_Echo'", "never closed"),
                                         ("name eq 'sample_Echo')", "closes no")])
def test_a_filter_with_unbalanced_parentheses_is_400_not_answered(quiet_app, seven, text, words):
    response = requests.get(quiet_app.url("backgroundoperations"), params={"$filter": text}, timeout=10)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]["message"]


def test_a_control_character_in_a_filter_is_400_naming_the_option(quiet_app, seven):
    response = requests.get(quiet_app.url("backgroundoperations"), params={"$filter": "name eq 'sample\x00Echo'"},
                            timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("The query option $filter must not hold control")


def test_the_status_monitor_refuses_an_option_it_does_not_take_as_every_get_does(app):
    op_id = _done(app)
    assert requests.get(app.url(f"backgroundoperation/{op_id}"), timeout=10).status_code == 200
    for method in ("GET", "DELETE"):
        response = requests.request(method, app.url(f"backgroundoperation/{op_id}"), params={"$select": "name"},
                                    timeout=10)
        assert response.status_code == 400, response.text
        assert "Unsupported query option(s) $select" in response.json()["error"]["message"]
