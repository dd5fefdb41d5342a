"""Function keys through the async pattern, the failure opt-in, and URLs behind Azure's front ends.

The app runs with DEVHOST_FUNCTION_KEY, so every function-level route answers 401 without the key,
as in Azure."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers import wait_until

KEY = "flow-key-Zx9/+=="


@pytest.fixture
def keyed(keyed_app):
    assert keyed_app.key == KEY
    return keyed_app


def _submit(app, name="sample_Echo", inputs=None, *, prefer="respond-async", **params):
    return requests.post(app.url(f"data/v9.2/{name}"), json=inputs or {}, params=params,
                         headers={"Prefer": prefer}, timeout=30)


def _final(url: str) -> requests.Response:
    """Poll ``url`` as a flow does until it stops answering 202 (a Response with a 5xx is falsy, hence the list)."""
    return wait_until(lambda: (r := requests.get(url, timeout=10)).status_code != 202 and [r])[0]


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_without_the_key_a_submit_is_401_and_nothing_is_written(keyed):
    rows, messages = keyed.count_rows(), keyed.count_messages()
    assert _submit(keyed).status_code == 401
    assert _submit(keyed, code="wrong").status_code == 401
    assert (keyed.count_rows(), keyed.count_messages()) == (rows, messages)
    assert requests.get(keyed.url("health"), timeout=10).status_code == 200  # anonymous


def test_a_key_sent_as_code_comes_back_on_location_and_polling_location_as_is_works(keyed):
    accepted = _submit(keyed, "sample_Sleep", {"Seconds": 1}, code=KEY)
    assert accepted.status_code == 202
    location = accepted.headers["Location"]
    assert _query(location) == {"code": [KEY]} and accepted.json()["location"] == location
    running = requests.get(location, timeout=10)  # no headers, no query of its own: what a flow does
    assert running.status_code in (200, 202)
    if running.status_code == 202:
        assert running.headers["Location"] == location and running.json()["location"] == location
    done = _final(location)
    assert done.json()["backgroundOperationStatusCode"] == 30 and done.json()["location"] == location


def test_a_key_sent_in_the_header_is_not_copied_into_urls(keyed):
    accepted = requests.post(keyed.url("ExecuteBackgroundOperation"), headers={"x-functions-key": KEY},
                             json={"Request": {"RequestName": "sample_Echo"}}, timeout=30)
    assert accepted.status_code == 202
    assert "code" not in _query(accepted.headers["Location"]) and KEY not in accepted.text
    assert requests.get(accepted.headers["Location"], timeout=10).status_code == 401
    assert requests.get(accepted.headers["Location"], headers={"x-functions-key": KEY}, timeout=10).ok


def test_the_key_is_never_in_a_callback_payload_or_the_log(keyed, callbacks):
    url = callbacks.new_url()
    accepted = _submit(keyed, prefer=f'respond-async, odata.callback; url="{url}"', code=KEY)
    op_id = accepted.json()["backgroundOperationId"]
    payload = wait_until(lambda: callbacks.calls(url))[0]["body"]
    assert payload["location"] == keyed.url(f"backgroundoperation/{op_id}")
    assert KEY not in str(payload) and KEY not in keyed.log()
    assert "flow-key" not in keyed.log()


def test_next_links_carry_the_key(keyed):
    for _ in range(3):
        _submit(keyed, code=KEY)
    first = requests.get(keyed.url("data/v9.2/backgroundoperations"), params={"code": KEY},
                         headers={"Prefer": "odata.maxpagesize=1"}, timeout=10)
    link = first.json()["@odata.nextLink"]
    assert _query(link)["code"] == [KEY]
    second = requests.get(link, timeout=10)
    assert second.status_code == 200 and len(second.json()["value"]) == 1
    assert _query(second.json()["@odata.nextLink"])["code"] == [KEY]


def test_the_failure_opt_in_rides_on_location_and_answers_500_for_failed(keyed):
    accepted = _submit(keyed, "sample_Fail", {"NonRetryable": True, "ErrorCode": 42}, code=KEY,
                       returnInternalServerErrorOnFailure="true")
    location = accepted.headers["Location"]
    assert _query(location) == {"code": [KEY], "returnInternalServerErrorOnFailure": ["true"]}
    failed = _final(location)
    assert failed.status_code == 500
    body = failed.json()
    assert body["error"]["code"] == "0x0000002A" and "fail" in body["error"]["message"]
    assert body["backgroundOperationStatusCode"] == 31 and body["backgroundOperationErrorCode"] == 42
    without = requests.get(location.split("&returnInternal")[0], timeout=10)
    assert without.status_code == 200 and without.json()["backgroundOperationStatusCode"] == 31


def test_the_failure_opt_in_answers_500_for_canceled_and_200_for_succeeded(keyed):
    canceled = _submit(keyed, "sample_Sleep", {"Seconds": 30}, code=KEY, returnInternalServerErrorOnFailure="TRUE")
    location = canceled.headers["Location"]
    assert requests.delete(location, timeout=10).status_code == 200
    answer = _final(location)
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "OperationCanceled"
    ok = _submit(keyed, code=KEY, returnInternalServerErrorOnFailure="true").headers["Location"]
    assert _final(ok).status_code == 200


@pytest.mark.parametrize("prefer", ["respond-async", "return=representation"])
def test_a_failure_opt_in_that_is_not_a_boolean_is_400_and_writes_nothing(keyed, prefer):
    """In the background or run at once (schemathesis found a number taken when no Prefer asked for async)."""
    rows, messages = keyed.count_rows(), keyed.count_messages()
    refused = _submit(keyed, code=KEY, prefer=prefer, returnInternalServerErrorOnFailure="0.74")
    assert refused.status_code == 400 and "returnInternalServerErrorOnFailure" in refused.json()["error"]["message"]
    assert (keyed.count_rows(), keyed.count_messages()) == (rows, messages)


def test_behind_a_tls_front_end_location_is_https(app):
    accepted = requests.post(app.url("data/v9.2/sample_Echo"), json={}, timeout=30,
                             headers={"Prefer": "respond-async", "X-Forwarded-Proto": "https"})
    assert accepted.headers["Location"].startswith(f"https://127.0.0.1:{app.port}/api/backgroundoperation/")


def test_in_azure_urls_use_the_platform_host_name_not_the_host_header(make_app):
    azure = make_app(WEBSITE_HOSTNAME="func-ops.azurewebsites.net")
    accepted = requests.post(azure.url("data/v9.2/sample_Echo"), json={}, timeout=30,
                             headers={"Prefer": "respond-async", "Host": "evil.example",
                                      "X-Forwarded-Proto": "https"})
    op_id = accepted.json()["backgroundOperationId"]
    assert accepted.headers["Location"] == f"https://func-ops.azurewebsites.net/api/backgroundoperation/{op_id}"
    listed = requests.get(azure.url("backgroundoperations"), headers={"Host": "evil.example",
                                                                      "Prefer": "odata.maxpagesize=1"}, timeout=10)
    assert listed.json()["@odata.context"].startswith("https://func-ops.azurewebsites.net/api/data/v9.2/")


def test_with_sign_in_replacing_keys_a_signed_in_caller_needs_no_key_and_nobody_else_gets_in(make_app, tmp_path):
    from helpers import AppProcess, principal

    app = make_app(DEVHOST_FUNCTION_KEY=KEY, WEBSITE_AUTH_ENABLED="true", BGOPS_SIGN_IN_REPLACES_KEYS="true")
    app.http.headers.pop("x-functions-key")
    me = principal("user-7")
    answered = me.get(app.url("data/v9.2/sample_Repeat(Text='ab')"), timeout=30)  # as the Dataverse SDK: no key
    assert answered.status_code == 200, (answered.status_code, answered.text, app.log()[-2000:])
    assert answered.json() == {"Result": "abab"}
    assert me.get(app.url("data/v9.2/backgroundoperations"), timeout=30).status_code == 200
    nobody = requests.get(app.url("data/v9.2/backgroundoperations"), timeout=30)
    assert nobody.status_code == 401  # the platform would have refused it; the app does too
    with pytest.raises(RuntimeError, match="BGOPS_SIGN_IN_REPLACES_KEYS=true needs App Service Authentication on"):
        AppProcess(app.connection_string, tmp_path / "open.log", settings={"BGOPS_SIGN_IN_REPLACES_KEYS": "true"})
