"""The Python client (clients/python, ``bgops-client``) against the app for real: sync and asyncio, results and
typed failures, steering, lists, the catalog, keys on, signed callbacks, a host killed mid-wait, and a URL that
is not the app, a wrong key, a server that is down or answers garbage."""

from __future__ import annotations

import asyncio
import base64
import http.server
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from bgops_client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    NotFound,
    NotTheApp,
    OperationCanceled,
    OperationFailed,
    RequestRefused,
    Unauthorized,
    WaitTimedOut,
)
from bgops_client.webhooks import SignatureInvalid, verify
from helpers import free_port, wait_until

SECRET = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()


@pytest.fixture
def ops(app):
    with Client(app.base) as client:
        yield client


def test_submit_and_result_give_the_outputs_and_the_row_says_succeeded(ops):
    operation = ops.submit("sample_Echo", {"Text": "hi", "N": 2})
    assert operation.result(timeout=30) == {"Text": "hi", "N": 2}
    status = operation.status()
    assert (status.label, status.finished, status.name, status.inputs) == ("Succeeded", True, "sample_Echo",
                                                                            {"Text": "hi", "N": 2})


def test_the_asyncio_client_does_the_same(app):
    async def run() -> tuple[dict, list[str]]:
        async with AsyncClient(app.base) as client:
            operations = [await client.submit("sample_Echo", {"I": i}) for i in range(3)]
            outputs = await asyncio.gather(*(o.result(timeout=30) for o in operations))
            listed = [row.id async for row in client.list(name="sample_Echo", page_size=2)]
            return outputs, [o.id for o in operations if o.id in listed]

    with ThreadPoolExecutor(max_workers=1) as thread:  # a loop of its own, whatever this process runs
        outputs, found = thread.submit(asyncio.run, run()).result(timeout=120)
    assert outputs == [{"I": 0}, {"I": 1}, {"I": 2}] and len(found) == 3


def test_a_failure_is_a_typed_error_with_the_apps_code_and_message(ops):
    with pytest.raises(OperationFailed) as failed:
        ops.submit("sample_Fail", {"NonRetryable": True}).result(timeout=30)
    assert failed.value.error_code.startswith("0x") and failed.value.message
    assert failed.value.status.label == "Failed"


def test_cancel_pause_and_resume_steer_it_and_a_canceled_result_raises(ops):
    operation = ops.submit("sample_Sleep", {"Seconds": 60})
    wait_until(lambda: operation.status().label == "In Progress", timeout=30, message="it to run")
    operation.pause()
    wait_until(lambda: operation.status().state_code == 1, timeout=30, message="it to pause")
    operation.resume()
    assert operation.status().state_code != 1
    operation.cancel()
    with pytest.raises(OperationCanceled):
        operation.result(timeout=30)


def test_a_submit_sent_again_with_its_key_is_the_first_operation(ops):
    key = str(uuid.uuid4())
    first, again = (ops.submit("sample_Echo", {"A": 1}, idempotency_key=key) for _ in range(2))
    assert first.id == again.id
    with pytest.raises(RequestRefused) as reused:
        ops.submit("sample_Echo", {"A": 2}, idempotency_key=key)
    assert (reused.value.status, reused.value.code) == (422, "IdempotencyKeyReused")


def test_waiting_longer_than_the_timeout_raises_and_the_list_and_catalog_read(ops):
    operation = ops.submit("sample_Sleep", {"Seconds": 60})
    started = time.monotonic()
    with pytest.raises(WaitTimedOut):
        operation.wait(timeout=1.5)
    assert time.monotonic() - started < 10
    running = [row.id for row in ops.list(status="Waiting For Resources", name="sample_Sleep")] + \
        [row.id for row in ops.list(status="in progress", name="sample_Sleep")]
    assert operation.id in running
    operation.cancel()
    echo = next(o for o in ops.operations() if o.name == "sample_Echo")
    assert echo.kind == "Action" and echo.description
    with pytest.raises(NotFound):
        ops.operation(str(uuid.uuid4())).status()
    with pytest.raises(ValueError, match="not a status"):
        next(ops.list(status="Exploded"))


def test_with_keys_on_the_right_key_works_and_none_or_a_wrong_one_is_unauthorized(keyed_app):
    with Client(keyed_app.base, key=keyed_app.key) as right:
        assert right.submit("sample_Echo", {"K": 1}).result(timeout=30) == {"K": 1}
    for key in (None, "wrong"):
        with Client(keyed_app.base, key=key) as wrong, pytest.raises(Unauthorized, match="function key"):
            wrong.submit("sample_Echo", {})


def test_a_signed_callback_verifies_and_a_changed_one_does_not(make_app, callbacks):
    app = make_app(BGOPS_CALLBACK_SIGNING_KEY=SECRET)
    url = callbacks.new_url()
    with Client(app.base) as client:
        operation = client.submit("sample_Echo", {"A": 1}, callback_url=url)
    [(headers, body)] = wait_until(lambda: callbacks.raw_calls(url), message="the callback")
    assert verify(body, headers, SECRET)["backgroundOperationId"] == operation.id
    with pytest.raises(SignatureInvalid):
        verify(body.replace(b"30", b"31"), headers, SECRET)


def test_a_host_killed_mid_wait_is_waited_out_and_the_result_still_comes(make_app):
    lease = {"DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS": "3"}
    first = make_app(**lease)
    held: list[str] = []  # the held reads the client sent (Prefer: wait)
    hooks = {"request": [lambda request: held.append(str(request.url)) if "wait=" in request.headers.get(
        "Prefer", "") else None]}
    with Client(first.base, http=httpx.Client(timeout=30, event_hooks=hooks)) as client:
        operation = client.submit("sample_Sleep", {"Seconds": 4})
        wait_until(lambda: operation.status().label == "In Progress", timeout=30, message="it to run")
        answer: dict = {}
        waiter = threading.Thread(target=lambda: answer.update(outputs=operation.result(timeout=90)))
        waiter.start()
        wait_until(lambda: held, message="the client to send its held read")
        first.kill()
        make_app(name=first.queue_name, port=first.port, **lease)  # the host comes back where the client looks
        waiter.join(90)
    assert answer == {"outputs": {"SleptSeconds": 4}}


class _Garbage(http.server.BaseHTTPRequestHandler):
    """Something that is not the app: an HTML 404 for some paths, JSON of another shape for others."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        html = b"<html><body>Not here</body></html>"
        status, body, kind = (404, html, "text/html") if "Execute" in self.path else (200, b'{"hello": 1}',
                                                                                       "application/json")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def garbage():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_url_that_is_not_the_app_or_a_server_that_is_down_is_a_typed_error_not_a_hang(garbage):
    with Client(garbage) as client:
        with pytest.raises(NotTheApp, match="base URL"):
            client.submit("sample_Echo", {})
        with pytest.raises(NotTheApp):
            client.operation(str(uuid.uuid4())).status()
    started = time.monotonic()
    with Client(f"http://127.0.0.1:{free_port()}") as down, pytest.raises(ConnectionFailed, match="Could not reach"):
        down.submit("sample_Echo", {})
    assert time.monotonic() - started < 15
    with pytest.raises(ValueError, match="base URL"):
        Client("not a url")
