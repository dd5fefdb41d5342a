"""One attempt at POSTing a callback or an event: how it ended, and whether another attempt may do better."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import urllib3

from ..domain.addresses import OutboundPolicy
from ..domain.signing import signature_headers
from .outbound import OutboundRefused, post_json

GONE = 410  # a subscriber that answers this has gone for good


@dataclass(frozen=True)
class Delivery:
    """How an attempt ended: ``detail`` is what is recorded (a status code or an error type, never the URL)."""

    delivered: bool
    detail: str
    status: int | None = None  # the HTTP status, if there was an answer
    retryable: bool = False  # a connection error, a timeout, 429 or 5xx: a later attempt may do better
    timed_out: bool = False  # nothing came back within the time limit


def post_once(url: str, payload: dict[str, Any], *, policy: OutboundPolicy, timeout_seconds: float,
              message_id: str = "", signing_key: bytes | None = None, headers: dict[str, str] | None = None
              ) -> Delivery:
    """POST ``payload`` once (``outbound``: the checked address, no redirects, ``timeout_seconds`` in all), with
    ``headers`` (its ``traceparent``).

    Never raises and never logs the URL. With a ``signing_key`` it is signed (Standard Webhooks) as
    message ``message_id``: the same id for every attempt, so that a receiver can tell a repeat.
    """
    def sign(body: bytes) -> dict[str, str]:
        signed = signature_headers(signing_key, message_id, int(time.time()), body) if signing_key else {}
        return {**(headers or {}), **signed}

    try:
        status = post_json(url, payload, policy=policy, timeout=timeout_seconds, sign=sign)
    except OutboundRefused:
        return Delivery(False, "OutboundRefused: the host resolves to a non-public address")
    except (urllib3.exceptions.TimeoutError, TimeoutError) as e:
        return Delivery(False, type(e).__name__, retryable=True, timed_out=True)
    except Exception as e:  # the exception's text would carry the URL
        return Delivery(False, type(e).__name__, retryable=True)
    return Delivery(status < 300, str(status), status, retryable=status == 429 or status >= 500)
