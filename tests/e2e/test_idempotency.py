"""Idempotency-Key over HTTP (shared/domain/idempotency.py): a submit sent again with its key answers the first
operation on every submit route, a different request with the key is 422, concurrent ones make one operation,
keys are per caller, and a key whose request died between the row and the message still runs its operation.
The rules case by case are tests/unit/test_idempotency.py; this proves the wiring."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import ACCOUNT_KEY, principal, wait_until

from faults.proxy import StorageProxy, ports_of
from shared.domain.idempotency import ADOPT_AFTER, key_hash


def _post(app, path: str, body: dict, key: str, session=requests, prefer: str = "respond-async"):
    return session.post(app.url(path), json=body, timeout=30, headers={"Prefer": prefer, "Idempotency-Key": key})


def _rows_with_key(app, runas: str, key: str) -> list[dict]:
    """The operation rows (not owners' copies) submitted with the key, as stored."""
    rows = app.tables().query_entities("idempotencykey eq @k", parameters={"k": key_hash(runas, key)})
    return [row for row in rows if row["RowKey"][0] not in "ox~p"]


@pytest.mark.parametrize("path, body", [
    ("data/v9.2/sample_Echo", {"Text": "hi"}),
    ("operations/sample_Echo", {"Text": "hi"}),
    ("ExecuteBackgroundOperation", {"Request": {"RequestName": "sample_Echo", "Parameters": {"Text": "hi"}}}),
    ("ExecuteAsync", {"Request": {"RequestName": "sample_Echo", "Parameters": {"Text": "hi"}}}),
])
def test_the_same_submit_sent_again_with_its_key_answers_the_first_operation(app, path, body):
    key = f"retry-{uuid.uuid4()}"
    first, again = _post(app, path, body, key), _post(app, path, body, f'"{key}"')  # bare, then as the draft has it
    assert first.status_code == again.status_code == 202, again.text
    assert again.headers["Location"] == first.headers["Location"]
    assert len(_rows_with_key(app, "", key)) == 1
    op_id = first.headers["Location"].rsplit("/", 1)[1]
    app.wait_for_status(op_id, 30)
    finished = _post(app, path, body, key)
    assert (finished.status_code, finished.headers["Location"]) == (202, first.headers["Location"])


def test_a_different_request_with_a_used_key_is_422_naming_the_key_and_writes_nothing(quiet_app):
    key = f"order-{uuid.uuid4()}"
    first = _post(quiet_app, "data/v9.2/sample_Echo", {"Text": "hi"}, key)
    quiet_app.wait_for_status(first.json()["backgroundOperationId"], 30)  # nothing of its own moves after
    rows, messages = quiet_app.count_rows(), quiet_app.count_messages()
    other = _post(quiet_app, "data/v9.2/sample_Echo", {"Text": "bye"}, key)
    assert other.status_code == 422, other.text
    error = other.json()["error"]
    assert error["code"] == "IdempotencyKeyReused" and f"'{key}'" in error["message"]
    assert first.json()["backgroundOperationId"] in error["message"]
    assert (quiet_app.count_rows(), quiet_app.count_messages()) == (rows, messages)


@pytest.mark.parametrize("header, words", [
    ("", "is empty"),
    ("x" * 256, "at most 255"),
    ("caf\u00e9", "printable ASCII"),
    ("a, b", "more than one"),
])
def test_a_key_that_cannot_be_used_is_a_400_saying_what_to_fix_and_writes_nothing(quiet_app, header, words):
    rows, messages = quiet_app.count_rows(), quiet_app.count_messages()
    response = _post(quiet_app, "data/v9.2/sample_Echo", {}, header)
    assert response.status_code == 400 and words in response.json()["error"]["message"], response.text
    assert (quiet_app.count_rows(), quiet_app.count_messages()) == (rows, messages)


def test_a_key_sent_in_two_headers_is_a_400(quiet_app):
    connection = http.client.HTTPConnection("127.0.0.1", quiet_app.port, timeout=30)
    connection.putrequest("POST", "/api/data/v9.2/sample_Echo")
    for header, value in (("Prefer", "respond-async"), ("Idempotency-Key", "one"), ("Idempotency-Key", "two"),
                          ("Content-Type", "application/json"), ("Content-Length", "2")):
        connection.putheader(header, value)
    connection.endheaders(b"{}")
    response = connection.getresponse()
    assert response.status == 400 and "more than one" in json.loads(response.read())["error"]["message"]


def test_a_key_on_a_run_inside_the_request_is_a_400_saying_to_run_it_in_the_background(app):
    response = _post(app, "data/v9.2/sample_Echo", {}, "sync-key", prefer="")
    assert response.status_code == 400 and "Prefer: respond-async" in response.json()["error"]["message"]


def test_a_hundred_concurrent_submits_with_one_key_make_exactly_one_operation(quiet_app):
    key = f"burst-{uuid.uuid4()}"
    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(lambda _: _post(quiet_app, "data/v9.2/sample_Echo", {"Text": "once"}, key),
                                range(100)))
    assert {a.status_code for a in answers} <= {202, 409}, {a.status_code for a in answers}
    busy = [a for a in answers if a.status_code == 409]
    assert all(a.json()["error"]["code"] == "IdempotencyKeyInUse" and int(a.headers["Retry-After"]) >= 1
               for a in busy)
    assert len({a.headers["Location"] for a in answers if a.status_code == 202}) == 1
    assert len(_rows_with_key(quiet_app, "", key)) == 1
    again = _post(quiet_app, "data/v9.2/sample_Echo", {"Text": "once"}, key)
    assert again.status_code == 202 and again.headers["Location"] in {a.headers.get("Location") for a in answers}


def test_keys_are_per_caller(auth_app):
    key = f"mine-{uuid.uuid4()}"
    alice, bob = principal("alice-key-owner"), principal("bob-key-owner")
    made = [_post(auth_app, "data/v9.2/sample_Echo", {}, key, session=who).headers["Location"]
            for who in (alice, bob, alice)]
    assert made[0] != made[1] and made[2] == made[0]


def test_a_key_whose_host_died_between_the_row_and_the_message_still_runs_its_operation(azurite, make_app):
    proxy = StorageProxy(ports_of(azurite))
    try:
        first = make_app(connection_string=proxy.connection_string("devstoreaccount1", ACCOUNT_KEY))
        key, body = f"dies-{uuid.uuid4()}", {"Text": "survives"}
        proxy.down("Queue")  # the row goes in; its message does not, and the host keeps trying for 10 s
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_post, first, "data/v9.2/sample_Echo", body, key)
            [row] = wait_until(lambda: _rows_with_key(first, "", key), message="the row to be inserted")
            inserted = time.monotonic()
            first.kill()
            with pytest.raises(requests.ConnectionError):
                pending.result()
        proxy.up()
        second = make_app(name=first.queue_name)
        age = time.monotonic() - inserted
        early = _post(second, "data/v9.2/sample_Echo", body, key)
        if age < ADOPT_AFTER.total_seconds() - 2:  # (a slow start of the second host leaves no time to see it)
            assert early.status_code == 409 and 1 <= int(early.headers["Retry-After"]) <= 15, early.text
        answer = wait_until(lambda: (a := _post(second, "data/v9.2/sample_Echo", body, key)).status_code == 202 and a,
                            timeout=30, interval=1, message="the key to be taken over")
        assert time.monotonic() - inserted >= ADOPT_AFTER.total_seconds() - 2
        assert answer.json()["backgroundOperationId"] == row["RowKey"]
        done = second.wait_for_status(row["RowKey"], 30)
        assert json.loads(done["outputparameters"]) == [{"Key": "Text", "Value": "survives"}]
    finally:
        proxy.stop()


def test_an_execute_multiple_sent_again_with_its_key_answers_each_request_with_the_operation_it_made(app):
    key = f"many-{uuid.uuid4()}"
    body = {"Requests": [{"RequestName": "sample_Echo", "Parameters": {"I": i}} for i in range(30)],
            "Settings": {"ContinueOnError": True, "ReturnResponses": True}}

    def ids(answer) -> list[str | None]:
        assert answer.status_code == 200, answer.text
        return [r["Response"]["BackgroundOperationId"] if r["Response"] else r["Fault"]["Message"]
                for r in answer.json()["Responses"]]

    first = ids(_post(app, "ExecuteMultiple", body, key))
    assert len(set(first)) == 30
    assert ids(_post(app, "ExecuteMultiple", body, key)) == first
    body["Requests"][7]["Parameters"] = {"I": "changed"}
    changed = ids(_post(app, "ExecuteMultiple", body, key))
    assert changed[:7] == first[:7] and changed[8:] == first[8:] and f"'{key}#7'" in changed[7]
    assert sum(len(_rows_with_key(app, "", f"{key}#{i}")) for i in range(30)) == 30
