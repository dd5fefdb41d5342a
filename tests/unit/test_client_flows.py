"""The client's flows (clients/python/bgops_client/_flows.py) carried out against answers the tests give, without
a network or a clock: what is sent, what is sent again and after which pause, and which typed error each kind
of answer is. The client against the app itself is tests/e2e/test_client.py."""

from __future__ import annotations

import json
from collections.abc import Iterable

import httpx
import pytest
from bgops_client import _flows as flows
from bgops_client.errors import (
    ConnectionFailed,
    NotFound,
    NotTheApp,
    RequestRefused,
    ServiceError,
    Unauthorized,
    WaitTimedOut,
)

API = flows.Api("http://app.test/api/", retries=2)
OP = "fe5dad02-876a-8ab7-a326-0d14a9718882"
LOCATION = f"http://app.test/api/backgroundoperation/{OP}"


def answer(status: int, body: object = None, **headers: str) -> httpx.Response:
    content = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    kind = {"Content-Type": "application/json"} if body is not None and not isinstance(body, bytes) else {}
    return httpx.Response(status, content=content, headers={**kind, **headers},
                          request=httpx.Request("GET", "http://app.test/api/x"))


def carry_out(flow, answers: Iterable[httpx.Response | Exception]):
    """Run ``flow`` on these answers; (its result, the calls it made, the pauses it asked for)."""
    answers, calls, pauses = iter(answers), [], []
    try:
        step = next(flow)
        while True:
            if isinstance(step, flows.Pause):
                pauses.append(step.seconds)
                step = flow.send(None)
                continue
            calls.append(step)
            given = next(answers)
            step = flow.throw(given) if isinstance(given, Exception) else flow.send(given)
    except StopIteration as done:
        return done.value, calls, pauses


def row(status_code: int = 30, **columns) -> dict:
    return {"backgroundoperationid": OP, "name": "sample_Echo", "backgroundoperationstatecode": 3,
            "backgroundoperationstatuscode": status_code, "inputparameters": '[{"Key":"A","Value":1}]',
            "outputparameters": '[{"Key":"A","Value":1}]', **columns}


ACCEPTED = answer(202, {"backgroundOperationId": OP}, Location=LOCATION, **{"Retry-After": "10"})


def _submit():
    return flows.submit(API, "sample_Echo", {"A": 1}, callback_url=None, idempotency_key=None, postpone_until=None,
                        ttl_seconds=None)


def test_a_submit_is_the_sdk_message_with_a_key_made_for_it_and_gives_the_id_and_location():
    result, [call], pauses = carry_out(_submit(), [ACCEPTED])
    assert result == (OP, LOCATION) and pauses == []
    assert call.url == "http://app.test/api/ExecuteBackgroundOperation"
    assert call.json == {"Request": {"RequestName": "sample_Echo", "Parameters": {"A": 1}}}
    assert len(call.headers["Idempotency-Key"]) == 36


def test_a_submit_is_sent_again_with_the_same_key_after_a_drop_a_503_and_a_key_in_use():
    busy = answer(409, {"error": {"code": "IdempotencyKeyInUse", "message": "wait"}}, **{"Retry-After": "7"})
    result, calls, pauses = carry_out(_submit(), [ConnectionFailed("reset"), busy, ACCEPTED])
    assert result[0] == OP and pauses == [0.5, 7.0]
    assert len({call.headers["Idempotency-Key"] for call in calls}) == 1


def test_a_submit_gives_up_after_its_retries_with_the_last_error():
    unavailable = answer(503, {"error": {"code": "StorageUnavailable", "message": "down"}}, **{"Retry-After": "5"})
    with pytest.raises(ServiceError, match="down"):
        carry_out(_submit(), [unavailable] * 3)
    with pytest.raises(ConnectionFailed):
        carry_out(_submit(), [ConnectionFailed("refused")] * 3)


def test_a_conflict_that_is_not_a_key_in_use_is_not_sent_again():
    finished = answer(409, {"error": {"code": "OperationFinished", "message": "already ended"}})
    with pytest.raises(RequestRefused) as refused:
        carry_out(flows.cancel(API, OP), [finished])
    assert (refused.value.status, refused.value.code) == (409, "OperationFinished")


@pytest.mark.parametrize("response, error, words", [
    (answer(401, b""), Unauthorized, "function key"),
    (answer(302, b"", Location="https://app.test/.auth/login/aad?post_login_redirect_uri=/api/x"), Unauthorized,
     "sign-in page"),
    (answer(403, {"error": {"code": "Forbidden", "message": "no"}}), Unauthorized, "sign-in"),
    (answer(404, {"error": {"code": "OperationNotFound", "message": "gone"}}), NotFound, "gone"),
    (answer(404, b"<html>Not Found</html>", **{"Content-Type": "text/html"}), NotTheApp, "base URL"),
    (answer(500, b"<html>Function host is not running.</html>", **{"Content-Type": "text/html"}), ServiceError,
     "try again later"),
    (answer(200, b"<html>a login page</html>", **{"Content-Type": "text/html"}), NotTheApp, "base URL"),
    (answer(200, b"{not json", **{"Content-Type": "application/json"}), NotTheApp, "base URL"),
    (answer(200, {"unexpected": True}), NotTheApp, "base URL"),
    (answer(400, {"error": {"code": "InvalidRequest", "message": "Seconds is required"}}), RequestRefused,
     "Seconds is required"),
])
def test_each_kind_of_answer_is_its_typed_error(response, error, words):
    with pytest.raises(error, match=words):
        carry_out(_submit(), [response])


def test_waiting_holds_reads_then_reads_the_row_once_it_has_finished():
    held = answer(202, {}, **{"Preference-Applied": "wait=60", "Retry-After": "10"})
    done = answer(200, {"backgroundOperationStatusCode": 30})
    status, calls, pauses = carry_out(flows.wait(API, OP, LOCATION, None), [held, held, done, answer(200, row())])
    assert status.label == "Succeeded" and status.outputs == {"A": 1}
    assert [c.headers.get("Prefer") for c in calls[:3]] == ["wait=60"] * 3 and pauses == []
    assert calls[0].timeout == 90  # the held time and the client's own


def test_an_app_that_does_not_hold_is_polled_at_retry_after_and_a_restart_is_waited_out():
    plain = answer(202, {}, **{"Retry-After": "3"})
    restarting = answer(503, {"error": {"code": "StorageUnavailable", "message": "x"}}, **{"Retry-After": "2"})
    flow = flows.wait(API, OP, LOCATION, None)
    status, calls, pauses = carry_out(flow, [plain, ConnectionFailed("reset"), restarting,
                                             answer(200, {}), answer(200, row(31, errorcode=-2147188736))])
    assert status.label == "Failed" and status.error_code_hex == "0x80048000"
    assert pauses == [3.0, 0.5, 2.0]


def test_waiting_past_the_timeout_raises_without_holding_longer_than_it():
    with pytest.raises(WaitTimedOut):
        carry_out(flows.wait(API, OP, LOCATION, 0.0), [])


def test_a_list_follows_next_links_and_builds_its_filter():
    query = flows.list_query("createdon ge 2030-01-01", "failed", "it's")
    assert query == {"$filter": "(createdon ge 2030-01-01) and backgroundoperationstatuscode eq 31 and "
                                "name eq 'it''s'"}
    (rows, next_url), [call], _ = carry_out(flows.page(API, None, query, 10),
                                            [answer(200, {"value": [row()], "@odata.nextLink": "http://n"})])
    assert [r.id for r in rows] == [OP] and next_url == "http://n"
    assert call.headers["Prefer"] == "odata.maxpagesize=10" and call.params["$filter"] == query["$filter"]


def test_a_url_that_is_not_http_is_refused_and_api_is_added_once():
    with pytest.raises(ValueError, match="base URL"):
        flows.Api("app.test")
    assert flows.Api("https://app.test").url("operations") == flows.Api("https://app.test/api").url("operations") \
        == "https://app.test/api/operations"


class _Credential:
    """What azure-identity's credentials offer: a token for the scopes asked (``get_token``)."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str):
        self.scopes.append(scopes)
        return type("AccessToken", (), {"token": "tok-123", "expires_on": 0})()


class _AsyncCredential(_Credential):
    async def get_token(self, *scopes: str):  # type: ignore[override]  # azure.identity.aio's is a coroutine
        return super().get_token(*scopes)


def _catalog_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": []})

    return httpx.MockTransport(handle)


def test_a_credential_signs_each_request_with_a_token_for_the_apps_scope_and_no_key():
    from bgops_client import Client

    seen: list[httpx.Request] = []
    credential = _Credential()
    with Client("https://app.test", credential=credential, scope="api://abc/.default",
                http=httpx.Client(transport=_catalog_transport(seen))) as client:
        assert client.operations() == []
    assert seen[0].headers["Authorization"] == "Bearer tok-123" and "x-functions-key" not in seen[0].headers
    assert credential.scopes == [("api://abc/.default",)]
    with pytest.raises(ValueError, match="scope"):
        Client("https://app.test", credential=credential)


def test_the_asyncio_client_takes_an_async_credential_and_a_key_goes_in_its_header_never_the_url():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from bgops_client import AsyncClient

    seen: list[httpx.Request] = []

    async def run() -> None:
        async with AsyncClient("https://app.test", credential=_AsyncCredential(), scope="api://abc/.default",
                               http=httpx.AsyncClient(transport=_catalog_transport(seen))) as client:
            await client.operations()
        async with AsyncClient("https://app.test", key="k3y",
                               http=httpx.AsyncClient(transport=_catalog_transport(seen))) as client:
            await client.operations()

    with ThreadPoolExecutor(max_workers=1) as thread:  # a loop of its own, whatever this process runs
        thread.submit(asyncio.run, run()).result(timeout=30)
    assert seen[0].headers["Authorization"] == "Bearer tok-123"
    assert seen[1].headers["x-functions-key"] == "k3y" and "k3y" not in str(seen[1].url)
