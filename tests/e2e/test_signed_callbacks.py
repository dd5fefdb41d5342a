"""Signed callbacks and webhooks: with BGOPS_CALLBACK_SIGNING_KEY set, what the app POSTs
verifies with the Standard Webhooks library, as a receiver (an Azure Function, a Logic App) would."""

from __future__ import annotations

import base64

from helpers import wait_until
from standardwebhooks.webhooks import Webhook

SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()


def test_the_callback_and_the_completion_event_are_signed_and_verify(make_app, callbacks):
    app = make_app(BGOPS_CALLBACK_SIGNING_KEY=SECRET)
    hook = callbacks.new_url()
    subscribed = app.http.post(app.url("webhooks/OnBackgroundOperationComplete"),
                               json={"NotificationUrl": hook}, timeout=30)
    assert subscribed.status_code == 201, subscribed.text
    callback = callbacks.new_url()
    op_id = app.submit("sample_Echo", {"A": 1}, callback=callback).json()["backgroundOperationId"]

    [(headers, body)] = wait_until(lambda: callbacks.raw_calls(callback), message="the callback")
    assert Webhook(SECRET).verify(body, headers)["backgroundOperationId"] == op_id
    assert headers["webhook-id"] == f"msg_{op_id}"
    [(headers, body)] = wait_until(lambda: callbacks.raw_calls(hook), message="the completion event")
    assert Webhook(SECRET).verify(body, headers)["InputParameters"]["BackgroundOperationId"] == op_id
    assert SECRET.removeprefix("whsec_") not in app.log()
