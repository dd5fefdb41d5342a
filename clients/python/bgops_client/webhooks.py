"""Verifying signed callbacks and webhook events (Standard Webhooks, with its maintained library): install
``bgops-client[webhooks]``. The signing key is the app's BGOPS_CALLBACK_SIGNING_KEY (``whsec_...``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import BgopsError


class SignatureInvalid(BgopsError):
    """The body was not signed with the key, was changed, or its timestamp is more than five minutes off."""


def verify(body: bytes, headers: Mapping[str, str], signing_key: str) -> dict[str, Any]:
    """The callback's or event's JSON body, once its ``webhook-id``, ``webhook-timestamp`` and
    ``webhook-signature`` headers prove it came from the app unchanged; SignatureInvalid otherwise. ``body``:
    the exact bytes received, before any parsing."""
    try:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError
    except ImportError:  # pragma: no cover - the extra is not installed
        raise ImportError("Verifying needs the Standard Webhooks library: pip install 'bgops-client[webhooks]'.") \
            from None
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        Webhook(signing_key).verify(body, lowered)
    except WebhookVerificationError as e:
        raise SignatureInvalid(f"The signature does not verify: {e}.") from None
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise SignatureInvalid("The signed body is not a JSON object.")
    return payload
