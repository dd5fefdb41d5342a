"""Per-caller access with App Service Authentication, over real HTTP through devhost.

The client here plays what Azure's front end does once Easy Auth has checked a token: it puts the principal
in ``X-MS-CLIENT-PRINCIPAL-ID`` and the claims, base64 JSON, in ``X-MS-CLIENT-PRINCIPAL``
(learn.microsoft.com/azure/app-service/configure-authentication-user-identities). The app trusts those only
when the platform says authentication is on (``WEBSITE_AUTH_ENABLED``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests
from helpers import ADMIN_ROLE, principal


def _submit(app, who: requests.Session, name: str = "sample_Echo", inputs: dict | None = None) -> str:
    response = who.post(app.url(f"data/v9.2/{name}"), json=inputs or {"Text": "hi"},
                        headers={"Prefer": "respond-async"}, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["backgroundOperationId"]


def _listed(app, who: requests.Session, **params: str) -> list[dict]:
    """Every row the caller's list shows, following nextLink."""
    rows, url, query = [], app.url("data/v9.2/backgroundoperations"), {"$top": "1000", **params}
    while url:
        response = who.get(url, params=query, headers={"Prefer": "odata.maxpagesize=3"}, timeout=30)
        assert response.status_code == 200, response.text
        rows += response.json()["value"]
        url, query = response.json().get("@odata.nextLink"), None
    return rows


def test_runas_is_the_platforms_principal_only_when_app_service_authentication_is_on(app, auth_app):
    spoof = principal("someone-else", ADMIN_ROLE)
    op_id = _submit(app, spoof)
    assert app.row(op_id)["runas"] == ""  # off: nobody vouches for the header, a client cannot be someone else
    assert spoof.get(app.url(f"backgroundoperations/{op_id}"), timeout=30).json()["runas"] == ""
    mine = _submit(auth_app, principal("user-42"))
    assert principal("user-42").get(auth_app.url(f"backgroundoperations/{mine}"), timeout=30).json()["runas"] == \
        "user-42"


def test_a_caller_sees_and_steers_only_its_own_operations(auth_app):
    alice, bob = principal("alice-0001"), principal("bob-0002")
    theirs = _submit(auth_app, alice, "sample_Sleep", {"Seconds": 60})
    for method, path, body in (("GET", f"backgroundoperation/{theirs}", None),
                               ("GET", f"backgroundoperations/{theirs}", None),
                               ("GET", f"data/v9.2/backgroundoperations({theirs})", None),
                               ("PATCH", f"backgroundoperations/{theirs}", {"backgroundoperationstatecode": 1}),
                               ("DELETE", f"backgroundoperation/{theirs}", None)):
        response = bob.request(method, auth_app.url(path), json=body, timeout=30)
        # Exactly what an id nobody has gets: Bob cannot even learn that Alice's operation exists.
        assert (response.status_code, response.json()["error"]["code"]) == (404, "OperationNotFound"), (method, path)
    assert theirs not in {row["backgroundoperationid"] for row in _listed(auth_app, bob)}

    assert alice.delete(auth_app.url(f"backgroundoperation/{theirs}"), timeout=30).status_code == 200
    assert auth_app.wait_for_status(theirs, 32, timeout=15)["runas"] == "alice-0001"


def test_a_callers_list_holds_its_own_rows_and_an_admin_sees_everyones(auth_app):
    callers = {name: principal(name) for name in ("carol-0003", "dave-0004")}
    submitted = {name: [_submit(auth_app, who) for _ in range(4)] for name, who in callers.items()}
    for name, who in callers.items():
        rows = _listed(auth_app, who)  # paged three at a time: the nextLink keeps to the caller's rows
        assert [row["backgroundoperationid"] for row in rows] == sorted(submitted[name])  # newest first
        assert {row["runas"] for row in rows} == {name}
    everyone = {row["backgroundoperationid"]: row["runas"] for row in _listed(auth_app, principal("ops", ADMIN_ROLE))}
    assert all(everyone[op_id] == name for name, ids in submitted.items() for op_id in ids)
    # A role the app does not know grants nothing more.
    assert {row["runas"] for row in _listed(auth_app, principal("eve-0005", "Reader"))} <= {"eve-0005"}


def test_an_admin_steers_anyones_operation(auth_app):
    op_id = _submit(auth_app, principal("frank-0006"), "sample_Sleep", {"Seconds": 60})
    admin = principal("ops-admin", ADMIN_ROLE)
    assert admin.get(auth_app.url(f"backgroundoperation/{op_id}"), timeout=30).status_code in (200, 202)
    assert admin.delete(auth_app.url(f"backgroundoperation/{op_id}"), timeout=30).status_code == 200
    assert auth_app.wait_for_status(op_id, 32, timeout=15)["runas"] == "frank-0006"


def test_the_etag_in_a_callers_list_is_the_one_if_match_expects(auth_app):
    grace = principal("grace-0007")
    op_id = _submit(auth_app, grace, "sample_Sleep", {"Seconds": 60})
    auth_app.wait_for_status(op_id, 20)
    [listed] = [r for r in _listed(auth_app, grace) if r["backgroundoperationid"] == op_id]
    read = grace.get(auth_app.url(f"backgroundoperations/{op_id}"), timeout=30)
    assert listed["@odata.etag"] == read.headers["ETag"] == read.json()["@odata.etag"]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    changed = grace.patch(auth_app.url(f"backgroundoperations/{op_id}"), json={"postponeuntil": later},
                          headers={"If-Match": 'W/"0"'}, timeout=30)
    assert changed.status_code == 412
    canceled = grace.patch(auth_app.url(f"backgroundoperations/{op_id}"),
                           json={"backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22},
                           headers={"If-Match": listed["@odata.etag"]}, timeout=30)
    assert canceled.status_code in (204, 412), canceled.text  # 412 only if the handler wrote progress meanwhile
    if canceled.status_code == 412:
        fresh = grace.get(auth_app.url(f"backgroundoperations/{op_id}"), timeout=30).headers["ETag"]
        assert fresh != listed["@odata.etag"]


def test_without_a_principal_the_app_answers_401_and_writes_nothing(auth_app):
    rows, messages = auth_app.count_rows(), auth_app.count_messages()
    for method, path in (("POST", "data/v9.2/sample_Echo"), ("GET", "data/v9.2/backgroundoperations"),
                         ("POST", "ExecuteBackgroundOperation")):
        response = requests.request(method, auth_app.url(path), json={"Request": {"RequestName": "sample_Echo"}},
                                    headers={"Prefer": "respond-async"}, timeout=30)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer", response.text
        assert "signed-in principal" in response.json()["error"]["message"]
    assert (auth_app.count_rows(), auth_app.count_messages()) == (rows, messages)
    assert requests.get(auth_app.url("health"), timeout=30).status_code == 200  # probes need no principal


def test_webhook_subscriptions_need_the_admin_role(auth_app):
    body = {"NotificationUrl": "https://hooks.example.com/flow"}
    refused = principal("heidi-0008").post(auth_app.url("webhooks/OnBackgroundOperationComplete"), json=body,
                                           timeout=30)
    assert refused.status_code == 403 and ADMIN_ROLE in refused.json()["error"]["message"]
    assert principal("heidi-0008").get(auth_app.url("webhooks"), timeout=30).status_code == 403
    admin = principal("ops-admin", ADMIN_ROLE)
    created = admin.post(auth_app.url("webhooks/OnBackgroundOperationComplete"), json=body, timeout=30)
    assert created.status_code == 201
    assert admin.delete(created.headers["Location"], timeout=30).status_code == 204
