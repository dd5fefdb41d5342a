"""Signed callbacks and webhooks: Standard Webhooks (standardwebhooks.com), version 1.

With a signing key set (BGOPS_CALLBACK_SIGNING_KEY, ``whsec_`` + base64, as the spec's libraries
take it), every POST carries ``webhook-id`` (the same for each retry of one message, so a receiver
can drop repeats), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``:
``v1,`` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), over the exact bytes sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 24  # the spec asks for 24 to 64 random bytes


def parse_signing_key(text: str) -> bytes | None:
    """The key's bytes (None when unset); ValueError naming the expected form otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        key = base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be 'whsec_' followed by base64 (for example: whsec_ and 32 random bytes, "
                         "base64-encoded)") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"must hold at least {MIN_KEY_BYTES} random bytes")
    return key


def signature_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent as message ``message_id`` at ``timestamp``."""
    signed = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(signed).decode("ascii")}
