"""Custom APIs as Dataverse calls them, over real HTTP through devhost: seed 000's two Web API examples as written
(a function bound to systemuser, Prefer: respond-async, with and without a callback), a function with its
parameters in the URL, the wrong forms refused naming the right one, and $metadata and the catalog saying
which is which."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import requests
from helpers import principal, wait_until

USER = "4026be43-6b69-e111-8f65-78e7d1620f5e"  # seed 000's systemuser
SEED_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def _seed_call(app, prefer: str, session=requests) -> requests.Response:
    return session.get(app.url(f"data/v9.2/systemusers({USER})/Microsoft.Dynamics.CRM.sample_IsSystemAdmin"),
                       headers={**SEED_HEADERS, "Prefer": prefer}, timeout=30)


def test_seed_000s_request_is_accepted_with_the_body_the_seed_shows_and_the_outputs_when_polled(app):
    response = _seed_call(app, "respond-async")
    assert response.status_code == 202, response.text
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert (response.headers["Preference-Applied"], response.headers["OData-Version"]) == ("respond-async", "4.0")
    body = response.json()
    assert {k: body[k] for k in ("backgroundOperationStateCode", "backgroundOperationStatusCode",
                                 "backgroundOperationStateCode@OData.Community.Display.V1.FormattedValue",
                                 "backgroundOperationStatusCode@OData.Community.Display.V1.FormattedValue")} == \
        {"backgroundOperationStateCode": 0, "backgroundOperationStatusCode": 0,
         "backgroundOperationStateCode@OData.Community.Display.V1.FormattedValue": "Ready",
         "backgroundOperationStatusCode@OData.Community.Display.V1.FormattedValue": "Waiting For Resources"}
    assert body["location"].endswith(body["backgroundOperationId"])
    done = app.wait_for_status(body["backgroundOperationId"], 30)  # Succeeded
    assert app.status(body["backgroundOperationId"]).json()["IsSystemAdmin"] is False  # nobody signed in
    assert done["name"] == "sample_IsSystemAdmin"


def test_seed_000s_callback_request_calls_back_when_it_ends(app, callbacks):
    url = callbacks.new_url()
    response = _seed_call(app, f'respond-async, callback; url="{url}"')
    assert response.status_code == 202, response.text
    assert "callback" in response.headers["Preference-Applied"]
    [call] = wait_until(lambda: callbacks.calls(url), timeout=30, message="the callback")
    assert call["body"]["backgroundOperationId"] == response.json()["backgroundOperationId"]
    assert call["body"]["backgroundOperationStatusCode"] == 30


def test_the_bound_row_reaches_the_handler_as_its_target(auth_app):
    me = principal(USER)
    answered = _seed_call(auth_app, "", session=me)  # no respond-async: run inside the request
    assert (answered.status_code, answered.json()) == (200, {"IsSystemAdmin": True}), answered.text
    other = _seed_call(auth_app, "", session=principal("5026be43-6b69-e111-8f65-78e7d1620f5e"))
    assert other.json() == {"IsSystemAdmin": False}


def test_a_function_takes_its_parameters_in_the_url_with_aliases_typed_as_declared(app):
    answered = requests.get(app.url("data/v9.2/sample_Repeat(Text=@t,Times=3)"), params={"@t": "'a b''c'"},
                            timeout=30)
    assert (answered.status_code, answered.json()) == (200, {"Result": "a b'ca b'ca b'c"}), answered.text
    wrong = requests.get(app.url("data/v9.2/sample_Repeat(Times=@n)"), params={"@n": "'three'"}, timeout=30)
    assert wrong.status_code == 400 and "write a whole number" in wrong.json()["error"]["message"]
    accepted = requests.get(app.url("data/v9.2/sample_Repeat(Text='x')"), headers={"Prefer": "respond-async"},
                            timeout=30)
    assert accepted.status_code == 202
    app.wait_for_status(accepted.json()["backgroundOperationId"], 30)
    assert app.status(accepted.json()["backgroundOperationId"]).json()["Result"] == "xx"


def test_a_call_in_the_wrong_form_names_the_form_to_use_never_a_bare_404(app):
    for method, path, status, words in (
            ("GET", "data/v9.2/sample_Echo", 405, "'sample_Echo' is an action: call it as POST /api/data/v9.2/"),
            ("POST", "data/v9.2/sample_Repeat", 405, "'sample_Repeat' is a function: call it as GET"),
            ("GET", "data/v9.2/sample_IsSystemAdmin", 400, "bound to systemusers: call it on one of its rows"),
            ("POST", f"data/v9.2/systemusers({USER})/Microsoft.Dynamics.CRM.sample_IsSystemAdmin", 405,
             "is a function"),
            ("GET", f"data/v9.2/accounts({USER})/Microsoft.Dynamics.CRM.sample_IsSystemAdmin", 400,
             "bound to systemusers"),
            ("GET", f"data/v9.2/systemusers({USER})/Microsoft.Dynamics.CRM.sample_Repeat", 400,
             "'sample_Repeat' is not bound to a table"),
            ("GET", "data/v9.2/systemusers(42)/Microsoft.Dynamics.CRM.sample_IsSystemAdmin", 400, "must be a GUID"),
            ("GET", "data/v9.2/nosuch_Function", 404, "No operation named 'nosuch_Function'")):
        response = requests.request(method, app.url(path), timeout=30)
        assert response.status_code == status, (method, path, response.text)
        assert words in response.json()["error"]["message"], (method, path)
        if status == 405:
            assert response.headers["Allow"] == ("POST" if method == "GET" else "GET")


def test_metadata_declares_each_operation_as_a_function_or_an_action_with_its_binding(app):
    schema = ET.fromstring(requests.get(app.url("data/v9.2/$metadata"), timeout=30).content).find(
        f".//{EDM}Schema")
    bound = schema.find(f"{EDM}Function[@Name='sample_IsSystemAdmin']")
    assert bound.get("IsBound") == "true"
    assert [(p.get("Name"), p.get("Type")) for p in bound.findall(f"{EDM}Parameter")] == \
        [("entity", "mscrm.systemuser")]
    assert schema.find(f"{EDM}EntityType[@Name='systemuser']/{EDM}Key/{EDM}PropertyRef").get("Name") == \
        "systemuserid"
    assert schema.find(f"{EDM}Function[@Name='sample_Repeat']").get("IsBound") == "false"
    assert schema.find(f"{EDM}Action[@Name='sample_Echo']").get("IsBound") == "false"
    response = schema.find(f"{EDM}ComplexType[@Name='sample_IsSystemAdminResponse']/{EDM}Property")
    assert (response.get("Name"), response.get("Type")) == ("IsSystemAdmin", "Edm.Boolean")
    catalog = {d["name"]: d for d in requests.get(app.url("operations"), timeout=30).json()["value"]}
    assert (catalog["sample_IsSystemAdmin"]["kind"], catalog["sample_IsSystemAdmin"]["boundTo"]) == \
        ("Function", "systemusers")
    assert catalog["sample_Repeat"]["call"] == "GET /api/data/v9.2/sample_Repeat(Text=@Text,Times=@Times)" \
                                              "?@Text=value&@Times=value"
    assert (catalog["sample_Echo"]["kind"], catalog["sample_Echo"]["boundTo"]) == ("Action", None)


def test_the_catalog_lists_the_operations_of_one_form_for_the_connectors_dropdown(app):
    def names(**params: str) -> list[str]:
        return [d["name"] for d in requests.get(app.url("operations"), params=params, timeout=30).json()["value"]]

    postable = names(kind="Action", bound="false")  # what the connector's action POSTs to data/v9.2/{name}
    assert "sample_Echo" in postable and not {"sample_Repeat", "sample_IsSystemAdmin"} & set(postable)
    assert names(kind="Function") == ["sample_IsSystemAdmin", "sample_Repeat"]
    assert names(bound="true") == ["sample_IsSystemAdmin"]
    refused = requests.get(app.url("operations"), params={"bound": "maybe"}, timeout=30)
    assert refused.status_code == 400 and "bound true or false" in refused.json()["error"]["message"]
