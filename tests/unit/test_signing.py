"""Standard Webhooks signatures (shared/domain/signing.py), checked by the spec's own library."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.domain.signing import parse_signing_key, signature_headers
from shared.settings import SettingsError, load_settings

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def test_a_signature_verifies_with_the_standard_webhooks_library():
    body = b'{"backgroundOperationId": "x", "backgroundOperationStatusCode": 30}'
    headers = signature_headers(parse_signing_key(SECRET), "msg_x", int(time.time()), body)
    assert Webhook(SECRET).verify(body, headers) == {"backgroundOperationId": "x",
                                                     "backgroundOperationStatusCode": 30}


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "key"])
def test_anything_changed_fails_verification(tamper):
    body, key, now = b'{"a": 1}', parse_signing_key(SECRET), int(time.time())
    headers = signature_headers(key, "msg_x", now, body)
    if tamper == "body":
        body = b'{"a": 2}'
    elif tamper == "id":
        headers["webhook-id"] = "msg_y"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(now - 1)
    else:
        headers = signature_headers(bytes(32), "msg_x", now, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_the_key_setting_is_optional_checked_and_never_echoed():
    base = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    assert load_settings(base).callback_signing_key is None
    assert load_settings({**base, "BGOPS_CALLBACK_SIGNING_KEY": SECRET}).callback_signing_key == bytes(range(32))
    for bad in ("whsec_!!not-base64!!", "whsec_" + base64.b64encode(b"short").decode()):
        with pytest.raises(SettingsError) as refused:
            load_settings({**base, "BGOPS_CALLBACK_SIGNING_KEY": bad})
        assert bad not in str(refused.value)
    assert "callback_signing_key" not in repr(load_settings({**base, "BGOPS_CALLBACK_SIGNING_KEY": SECRET}))
