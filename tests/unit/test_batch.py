"""$batch: the multipart body read and written (shared/api/multipart.py), and how its requests run
(shared/api/batch.py: order, change sets, Content-ID references, continue-on-error), on a fake sender."""

from __future__ import annotations

import pytest

from shared.api.batch import resolve, run
from shared.api.multipart import (
    MAX_REQUESTS,
    ChangeSet,
    InnerRequest,
    InnerResponse,
    boundary_of,
    read_batch,
    write_batch,
)
from shared.domain.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

TYPE = 'multipart/mixed; boundary="batch_1"'
ROOT = "https://org.example.com/api/data/v9.2/"


def _part(request: str, content_id: str | None = None) -> str:
    cid = f"Content-ID: {content_id}\r\n" if content_id else ""
    return f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n{cid}\r\n{request}"


def _body(*parts: str, boundary: str = "batch_1") -> bytes:
    return ("".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n").encode()


def _change_set(*parts: str, boundary: str = "changeset_1") -> str:
    inner = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts)
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}--{boundary}--\r\n"


# --- Reading ----------------------------------------------------------------------------------------------------

def test_the_sdks_body_reads_as_its_requests_spaces_in_the_url_and_all():
    # As the Dataverse SDK for Python 1.1.0 writes it (docs/dataverse-sdk-wire.md §8).
    body = _body(
        _part(f"GET {ROOT}backgroundoperations?$select=name&$filter=statecode eq 0&$top=3 HTTP/1.1\r\n"),
        _change_set(_part(f"PATCH {ROOT}backgroundoperations(2222) HTTP/1.1\r\nContent-Type: application/json; "
                          'type=entry\r\nIf-Match: *\r\n\r\n{"statecode": 1}', "1")))
    read, change_set = read_batch(TYPE, body)
    assert read == InnerRequest("GET", f"{ROOT}backgroundoperations?$select=name&$filter=statecode eq 0&$top=3", {},
                                b"")
    assert change_set == ChangeSet((InnerRequest("PATCH", f"{ROOT}backgroundoperations(2222)",
                                                 {"content-type": "application/json; type=entry", "if-match": "*"},
                                                 b'{"statecode": 1}', "1"),))


def test_lf_line_breaks_a_preamble_an_epilogue_and_transport_padding_read_too():
    body = b"a preamble\n--batch_1  \nContent-Type: application/http\n\nGET backgroundoperations HTTP/1.1\n\n" \
           b"--batch_1--\nan epilogue"
    assert read_batch("multipart/mixed; boundary=batch_1", body) == [InnerRequest("GET", "backgroundoperations", {},
                                                                                   b"")]


def test_the_boundary_quoted_or_not_and_a_content_type_that_is_not_multipart_is_415():
    assert boundary_of('multipart/mixed; boundary="a b"') == "a b"
    assert boundary_of("Multipart/Mixed;boundary=batch_x; charset=utf-8") == "batch_x"
    with pytest.raises(UnsupportedMediaType, match="multipart/mixed"):
        boundary_of("application/json")
    with pytest.raises(InvalidRequest, match="no boundary"):
        boundary_of("multipart/mixed")


@pytest.mark.parametrize("body, words", [
    (_body(_part("GET x HTTP/1.1\r\n"), boundary="other"), "is the boundary in the Content-Type the one"),
    (b"--batch_1\r\n" + _part("GET x HTTP/1.1\r\n").encode(), "cut short"),
    (b"--batch_1--\r\n", "no requests"),
    (_body("Content-Type: text/plain\r\n\r\nhello"), "part 1 has Content-Type 'text/plain'"),
    (_body(_part("FETCH x HTTP/1.1\r\n")), "the method must be one of"),
    (_body(_part("GET x\r\n")), "request line"),
    (_body(_part("GET x HTTP/1.1\r\nnot a header\r\n")), "cannot be read as 'Name: value'"),
    (_body(_part("POST $batch HTTP/1.1\r\n")), "batches cannot nest"),
    (_body(_part(f"POST {ROOT}$batch HTTP/1.1\r\n")), "batches cannot nest"),
    (_body(_change_set(_part("GET x HTTP/1.1\r\n", "1"))), "GET inside a change set"),
    (_body(_change_set(_change_set(_part("PATCH x HTTP/1.1\r\n", "1"), boundary="cs_2"))), "change sets cannot nest"),
    (_body(_change_set(_part("PATCH x HTTP/1.1\r\n", "1"), _part("PATCH y HTTP/1.1\r\n", "1"))),
     "Content-ID 1 is given to more than one"),
    (_body(_part("GET x HTTP/1.1\r\n", ), "Content-Type: application/http\r\nContent-Transfer-Encoding: base64\r\n"
                                          "\r\nR0VU"), "Content-Transfer-Encoding must be binary"),
    (_body(*[_part("GET x HTTP/1.1\r\n")] * (MAX_REQUESTS + 1)), f"more than {MAX_REQUESTS} requests"),
    (_body(_change_set(*[_part("PATCH x HTTP/1.1\r\n", str(n)) for n in range(MAX_REQUESTS)]),
           _part("GET x HTTP/1.1\r\n")), f"more than {MAX_REQUESTS} requests"),
])
def test_a_malformed_batch_is_refused_whole_naming_what_is_wrong(body, words):
    with pytest.raises(InvalidRequest, match=words.replace("$", r"\$").replace("(", r"\(")):
        read_batch(TYPE, body)


def test_exactly_the_most_requests_read_and_garbage_or_too_much_is_refused_quickly():
    assert len(read_batch(TYPE, _body(*[_part("GET x HTTP/1.1\r\n")] * MAX_REQUESTS))) == MAX_REQUESTS
    with pytest.raises(InvalidRequest, match="no line '--batch_1'"):
        read_batch(TYPE, bytes(range(32, 127)) * 100_000)  # about 10 MB of garbage
    with pytest.raises(PayloadTooLarge):
        read_batch(TYPE, b"x" * (17 * 1024 * 1024))
    with pytest.raises(UnsupportedMediaType, match="not UTF-8"):
        read_batch(TYPE, b"--batch_1\r\n\xff\xfe")


# --- Writing ----------------------------------------------------------------------------------------------------

def test_the_response_is_multipart_with_a_part_per_answer_and_a_change_set_nested_with_its_content_ids():
    content_type, body = write_batch([
        InnerResponse(200, [("Content-Type", "application/json")], b'{"value": []}'),
        [InnerResponse(204, [("OData-Version", "4.0")], b"", "1"), InnerResponse(424, [], b"{}", "2")]])
    boundary = boundary_of(content_type)
    text = body.decode()
    assert text.startswith(f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary"
                           "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"value\": []}\r\n")
    assert text.endswith(f"--{boundary}--\r\n")
    assert "Content-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n" in text
    assert "Content-ID: 2\r\n\r\nHTTP/1.1 424 Failed Dependency" in text


# --- Running ----------------------------------------------------------------------------------------------------

class Sender:
    """Answers each request by its URL: ``fail`` ones 400, the others 200 or, for a POST, 201 with where."""

    def __init__(self, *fail: str) -> None:
        self.fail, self.sent = set(fail), []

    def __call__(self, request: InnerRequest, created) -> InnerResponse:
        url = resolve("https://h/api/data/v9.2/$batch", request.url, created)
        self.sent.append(url)
        if request.url in self.fail:
            return InnerResponse(400, body=b'{"error": {"code": "x", "message": "no"}}', content_id=request.content_id)
        where = [("OData-EntityId", f"https://h/api/data/v9.2/things({len(self.sent)})")] if request.method == "POST" \
            else []
        return InnerResponse(201 if where else 200, where, content_id=request.content_id)


def _get(url: str) -> InnerRequest:
    return InnerRequest("GET", url, {}, b"")


def test_requests_run_in_order_and_the_batch_stops_at_the_first_failure():
    sender = Sender("b")
    answers = run([_get("a"), _get("b"), _get("c")], sender, continue_on_error=False)
    assert [a.status for a in answers] == [200, 400]  # c never ran
    assert [url.rpartition("/")[2] for url in sender.sent] == ["a", "b"]


def test_with_continue_on_error_every_request_runs():
    answers = run([_get("a"), _get("b"), _get("c")], Sender("b"), continue_on_error=True)
    assert [a.status for a in answers] == [200, 400, 200]


def test_a_change_set_refers_to_what_an_earlier_request_created_and_stops_at_a_failure_saying_what_did_not_run():
    change_set = ChangeSet((InnerRequest("POST", "things", {}, b"{}", "1"),
                            InnerRequest("PATCH", "$1", {}, b"{}", "2"),
                            InnerRequest("PATCH", "bad", {}, b"{}", "3"),
                            InnerRequest("PATCH", "later", {}, b"{}", "4")))
    sender = Sender("bad")
    [answers] = run([change_set, _get("after")], sender, continue_on_error=False)
    assert [(a.status, a.content_id) for a in answers] == [(201, "1"), (200, "2"), (400, "3"), (424, "4")]
    assert sender.sent[1] == "https://h/api/data/v9.2/things(1)"  # $1: what request 1 created
    assert b"request 3 of its change set failed" in answers[3].body and b"not one transaction" in answers[3].body
    assert len(sender.sent) == 3  # neither 'later' nor 'after' ran


@pytest.mark.parametrize("url, expected", [
    ("https://elsewhere.example/api/data/v9.2/x?$filter=a eq 'b c'", "https://h:7071/api/data/v9.2/x?$filter=a%20eq%20'b%20c'"),
    ("/api/data/v9.2/x", "https://h:7071/api/data/v9.2/x"),
    ("x(1)", "https://h:7071/api/data/v9.2/x(1)"),
    ("$1/y", "https://h:7071/api/data/v9.2/things(1)/y"),
])
def test_urls_resolve_on_the_batchs_own_host_relative_to_the_service_root(url, expected):
    assert resolve("https://h:7071/api/data/v9.2/$batch", url, {"1": "https://h:7071/api/data/v9.2/things(1)"}) == \
        expected


def test_a_reference_to_nothing_created_is_refused():
    with pytest.raises(InvalidRequest, match=r"\$2 refers to no earlier request"):
        resolve("https://h/api/data/v9.2/$batch", "$2", {"1": "https://h/api/data/v9.2/things(1)"})


def test_a_request_goes_to_the_route_the_host_would_pick_a_literal_segment_before_a_parameter():
    from shared.api import endpoints, resources
    from shared.api.batch import _route
    from shared.api.handling import handler_of
    from shared.domain.errors import NotFound

    assert _route("api", "GET", "/api/data/v9.2/backgroundoperations(abc)") == (handler_of(resources.entity),
                                                                                {"id": "abc"})
    assert _route("api", "GET", "/api/data/v9.2/sample_Repeat()") == (handler_of(endpoints.call_function),
                                                                      {"name": "sample_Repeat()"})
    assert _route("api", "POST", "/api/data/v9.2/systemusers(1)/mscrm.x")[0] is handler_of(endpoints.call_bound)
    with pytest.raises(NotFound, match="Nothing in a batch is served at GET '/api/backgroundoperation/1'"):
        _route("api", "GET", "/api/backgroundoperation/1")  # not the Web API
