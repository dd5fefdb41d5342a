"""Callback URLs (validated on creation) and the payload POSTed to them (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from .addresses import OutboundPolicy, lookup_name, refused_host
from .backoff import compute_backoff
from .control_characters import CONTROL_CHARACTERS, has_control_character
from .errors import InvalidRequest
from .operation import Operation
from .states import Status

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH, MAX_LABEL_LENGTH = 253, 63  # DNS (RFC 1035): what a resolver will look up
MIN_CLAIM_SECONDS = 60.0


@dataclass(frozen=True)
class DeliveryPolicy:
    """How a callback or an event is POSTed: how many attempts, each one's time limit, the pauses between."""

    base_seconds: float = 2.0  # BGOPS_CALLBACK_RETRY_BASE_SECONDS: the pause after the first attempt
    attempts: int = 4
    timeout_seconds: float = 10.0  # one attempt, connecting and reading the answer

    def pause_after(self, attempt: int) -> float:
        """Seconds to wait after attempt ``attempt`` failed: ``base × 2^(attempt-1)``."""
        return compute_backoff(attempt, base_seconds=self.base_seconds, jitter=0.0)

    @property
    def longest_seconds(self) -> float:
        """The longest one delivery can take: every attempt timing out, with the pauses between them."""
        return self.attempts * self.timeout_seconds + sum(self.pause_after(a) for a in range(1, self.attempts))

    @property
    def claim_timeout(self) -> timedelta:
        """How long a worker's claim to deliver stands before another may take it over: twice the longest
        delivery (resolving the host and recording the outcome take time too), and at least a minute."""
        return timedelta(seconds=max(MIN_CLAIM_SECONDS, 2 * self.longest_seconds))


def _valid_host(host: str) -> bool:
    """Whether DNS could resolve a name like this (or it is an IP literal)."""
    if ":" in host or host.replace(".", "").isdigit():  # an IPv6 or IPv4 literal
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= MAX_HOST_LENGTH and all(0 < len(label) <= MAX_LABEL_LENGTH for label in labels)


def check_callback_url(value: Any, *, policy: OutboundPolicy, what: str = "The callback URL") -> str:
    """The URL if it can be called back; InvalidRequest says why not (never echoing the URL: it is a secret)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{what} must be a non-empty string.")
    url: str = value.strip()
    allowed = ("https", "http") if policy.open else ("https",)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"{what} is longer than {MAX_URL_LENGTH} characters.")
    if has_control_character(unquote(url)):  # raw, or percent-encoded: the receiver decodes it
        raise InvalidRequest(f"{what} must not hold {CONTROL_CHARACTERS}; remove them.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        raise InvalidRequest(f"{what} is malformed (its host or port cannot be read).") from None
    if parts.scheme.lower() not in allowed or not parts.hostname or any(c.isspace() for c in url):
        hint = "" if policy.open else " (plain http is allowed only when BGOPS_ALLOW_HTTP_CALLBACKS is true)"
        raise InvalidRequest(f"{what} must be an absolute {' or '.join(allowed)} URL{hint}.")
    if lookup_name(parts.hostname).endswith("."):  # the same host, under a name comparisons would miss
        raise InvalidRequest(f"{what} has a host name that ends with a dot; drop the trailing dot.")
    if not _valid_host(parts.hostname):
        raise InvalidRequest(f"{what} has a host name DNS cannot look up: each dot-separated label must be 1 to "
                             f"{MAX_LABEL_LENGTH} characters, and the name at most {MAX_HOST_LENGTH}.")
    if policy.guards(parts.hostname) and (parts.username is not None or parts.password is not None):
        raise InvalidRequest(f"{what} must not carry a user name or password; put a token in its query instead.")
    if policy.guards(parts.hostname) and refused_host(parts.hostname):
        raise InvalidRequest(f"{what} points at a loopback, private, link-local or otherwise non-public address, "
                             "which callbacks may not reach; name the host in BGOPS_CALLBACK_ALLOWED_HOSTS to "
                             "allow it anyway.")
    return url


def status_body(op: Operation, location: str) -> dict[str, Any]:
    """The fields every status report starts with: id, location, state and status codes."""
    body: dict[str, Any] = {
        "backgroundOperationId": op.id,
        "location": location,
        "backgroundOperationStateCode": op.status.state.value,
        "backgroundOperationStatusCode": op.status.value,
    }
    if op.status is Status.FAILED:
        body["backgroundOperationErrorCode"] = op.errorcode
        body["backgroundOperationErrorMessage"] = op.errormessage
    return body
