"""POST /api/data/v9.2/$batch over real HTTP through devhost, with hand-built multipart bodies as the Dataverse
Web API documents them (the Dataverse SDK's own batches are in test_dataverse_sdk.py)."""

from __future__ import annotations

import json
import re

import requests
from helpers import principal

TYPE = "multipart/mixed; boundary=batch_AAA123"


def _request(line: str, body: dict | None = None, content_id: str | None = None, **headers: str) -> str:
    head = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    payload = f"Content-Type: application/json\r\n{head}\r\n{json.dumps(body)}" if body is not None else head
    cid = f"Content-ID: {content_id}\r\n" if content_id else ""
    return f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n{cid}\r\n{line}\r\n{payload}"


def _batch(*parts: str) -> bytes:
    return ("".join(f"--batch_AAA123\r\n{p}\r\n" for p in parts) + "--batch_AAA123--\r\n").encode()


def _change_set(*parts: str) -> str:
    inner = "".join(f"--changeset_BBB456\r\n{p}\r\n" for p in parts)
    return f"Content-Type: multipart/mixed; boundary=changeset_BBB456\r\n\r\n{inner}--changeset_BBB456--\r\n"


def _answers(response: requests.Response) -> list[tuple[str | None, int, dict[str, str], str]]:
    """(Content-ID, status, headers, body) of each answer, change sets' included, as a client reads them."""
    assert response.status_code == 200, response.text
    boundary = re.search(r"boundary=([^;\s]+)", response.headers["Content-Type"]).group(1)
    answers = []
    for part in response.text.split(f"--{boundary}")[1:-1]:
        if "multipart/mixed" in part.split("\r\n\r\n")[0]:
            inner = re.search(r"boundary=([^;\s]+)", part).group(1)
            answers += [_read(p) for p in part.split(f"--{inner}")[1:-1]]
        else:
            answers.append(_read(part))
    return answers


def _read(part: str) -> tuple[str | None, int, dict[str, str], str]:
    mime, _, http = part.strip("\r\n").partition("\r\n\r\n")
    content_id = re.search(r"Content-ID: (\S+)", mime)
    head, _, body = http.partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return content_id and content_id.group(1), int(status_line.split(" ")[1]), headers, body


def test_one_batch_lists_submits_in_a_change_set_postpones_what_it_submitted_and_reads_it_back(quiet_app):
    body = _batch(
        _request("GET /api/data/v9.2/backgroundoperations?$select=name&$filter=name eq 'sample_Sleep' HTTP/1.1"),
        _change_set(
            _request("POST sample_Sleep HTTP/1.1", {"Seconds": 60}, "1", Prefer="respond-async"),
            _request("PATCH $1 HTTP/1.1", {"postponeuntil": "2031-06-01T00:00:00Z"}, "2", If_Match="*")),
        _request(f"GET {quiet_app.url('data/v9.2/backgroundoperations')}?$filter=name eq 'sample_Sleep' HTTP/1.1"))
    response = requests.post(quiet_app.url("data/v9.2/$batch"), data=body, headers={"Content-Type": TYPE},
                             timeout=30)
    listed, submitted, postponed, found = _answers(response)
    assert (listed[1], json.loads(listed[3])["value"]) == (200, [])
    assert (submitted[0], submitted[1]) == ("1", 202)
    op_id = json.loads(submitted[3])["backgroundOperationId"]
    assert submitted[2]["OData-EntityId"].endswith(f"/api/data/v9.2/backgroundoperations({op_id})")
    assert submitted[2]["Location"].endswith(f"/api/backgroundoperation/{op_id}")
    assert (postponed[0], postponed[1]) == ("2", 204)
    [row] = json.loads(found[3])["value"]
    assert (row["backgroundoperationid"], row["postponeuntil"]) == (op_id, "2031-06-01T00:00:00Z")
    assert quiet_app.row(op_id)["backgroundoperationstatecode"] == 1  # postponed: Suspended, as alone


def test_without_continue_on_error_a_batch_stops_at_a_failure_and_with_it_goes_on(quiet_app):
    parts = (_request("GET backgroundoperations(not-an-id) HTTP/1.1"),
             _request("GET nosuchset HTTP/1.1"),
             _request("DELETE EntityDefinitions(LogicalName='asyncoperation') HTTP/1.1"),
             _request("GET backgroundoperations?$top=0 HTTP/1.1"))
    stopped = requests.post(quiet_app.url("data/v9.2/$batch"), data=_batch(*parts), headers={"Content-Type": TYPE},
                            timeout=30)
    assert [status for _, status, _, _ in _answers(stopped)] == [400]
    went_on = requests.post(quiet_app.url("data/v9.2/$batch"), data=_batch(*parts), timeout=30,
                            headers={"Content-Type": TYPE, "Prefer": "odata.continue-on-error"})
    assert went_on.headers["Preference-Applied"] == "odata.continue-on-error"
    answers = _answers(went_on)
    assert [status for _, status, _, _ in answers] == [400, 404, 405, 200]
    assert answers[2][2]["Allow"] == "GET"
    assert json.loads(answers[1][3])["error"]["code"] == "UnknownOperation"  # GET <name>: a function


def test_a_malformed_batch_is_a_clear_4xx_and_changes_nothing(quiet_app):
    submit = _request("POST sample_Echo HTTP/1.1", {}, Prefer="respond-async")
    rows, messages = quiet_app.count_rows(), quiet_app.count_messages()
    for body, content_type, status, words in (
            (_batch(submit).replace(b"batch_AAA123", b"batch_ZZZ"), TYPE, 400, "is the boundary"),
            (_batch(submit, "Content-Type: text/plain\r\n\r\nhello"), TYPE, 400, "part 2 has Content-Type"),
            (_batch(*[submit] * 1001), TYPE, 400, "more than 1000 requests"),
            (_batch(submit, _request("POST $batch HTTP/1.1")), TYPE, 400, "batches cannot nest"),
            (b"\x00garbage" * 1_250_000, TYPE, 400, "no line '--batch_AAA123'"),
            (_batch(submit), "application/json", 415, "multipart/mixed")):
        response = requests.post(quiet_app.url("data/v9.2/$batch"), data=body, headers={"Content-Type": content_type},
                                 timeout=30)
        assert response.status_code == status, (words, response.text[:300])
        assert words in response.json()["error"]["message"]
    assert (quiet_app.count_rows(), quiet_app.count_messages()) == (rows, messages)


def test_a_batch_reaches_only_its_callers_rows_whatever_principal_is_written_inside_it(auth_app):
    alice, bob = principal("alice-0001"), principal("bob-0002")
    theirs = alice.post(auth_app.url("data/v9.2/sample_Echo"), json={}, headers={"Prefer": "respond-async"},
                        timeout=30).json()["backgroundOperationId"]
    forged = {"X-MS-CLIENT-PRINCIPAL-ID": "alice-0001", "X-MS-CLIENT-PRINCIPAL": alice.headers["X-MS-CLIENT-PRINCIPAL"]}
    body = _batch(_request(f"GET backgroundoperations({theirs}) HTTP/1.1"),
                  _request(f"GET backgroundoperations({theirs}) HTTP/1.1", **forged),
                  _change_set(_request(f"PATCH backgroundoperations({theirs}) HTTP/1.1",
                                       {"backgroundoperationstatecode": 2, "backgroundoperationstatuscode": 22}, "1",
                                       **forged)))
    response = bob.post(auth_app.url("data/v9.2/$batch"), data=body, timeout=30,
                        headers={"Content-Type": TYPE, "Prefer": "odata.continue-on-error"})
    assert [(status, json.loads(text)["error"]["code"]) for _, status, _, text in _answers(response)] == \
        [(404, "OperationNotFound")] * 3
    mine = alice.post(auth_app.url("data/v9.2/$batch"), headers={"Content-Type": TYPE}, timeout=30,
                      data=_batch(_request(f"GET backgroundoperations({theirs}) HTTP/1.1")))
    assert _answers(mine)[0][1] == 200  # the same request, from its caller
