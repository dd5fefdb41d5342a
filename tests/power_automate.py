"""A stand-in for Power Automate's (and Logic Apps') HTTP action, with its documented defaults.

What it does, as Microsoft Learn describes the action:
* sends the request; on ``202 Accepted`` with a ``Location`` header it follows the asynchronous
  pattern: waits ``Retry-After`` seconds (20 when the header is absent), then GETs ``Location``
  as it is, with none of the first request's headers or query, and does so until an answer is not 202;
* the default retry policy re-sends a request that got 408, 429 or a 5xx (or could not connect)
  up to 4 times, with a growing interval (scaled down here with ``retry_interval_seconds``);
* the action succeeds when the last answer is 2xx and fails otherwise; its outputs are that answer;
* with Pagination on (a GET), it follows ``@odata.nextLink`` (as it is, no headers) and merges the
  pages' ``value`` arrays until it holds at least the threshold's number of items or no link is left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

RETRIED = frozenset({408, 429})
DEFAULT_RETRY_AFTER_SECONDS = 20
DEFAULT_RETRIES = 4


@dataclass
class Sent:
    """One HTTP request the action sent, and the status it got (None: no connection)."""

    method: str
    url: str
    headers: dict[str, str]
    status: int | None


@dataclass
class ActionResult:
    """The action's outputs: the last answer, whether the action succeeded, and every request sent."""

    status: int
    body: Any
    headers: dict[str, str]
    sent: list[Sent] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300

    def count(self, method: str) -> int:
        return sum(1 for s in self.sent if s.method == method)


class HttpAction:
    """One run of an HTTP action with the asynchronous pattern on and the default retry policy."""

    def __init__(self, *, retries: int = DEFAULT_RETRIES, retry_interval_seconds: float = 0.05,
                 max_wait_seconds: float = 120) -> None:
        self.retries, self.retry_interval_seconds = retries, retry_interval_seconds
        self.max_wait_seconds = max_wait_seconds
        self._http = requests.Session()
        self.sent: list[Sent] = []  # of the current run, as it goes

    def run(self, method: str, url: str, *, headers: dict[str, str] | None = None,
            json: Any = None) -> ActionResult:
        sent = self.sent = []
        deadline = time.monotonic() + self.max_wait_seconds
        response = self._send(sent, method, url, headers or {}, json)
        while response.status_code == 202 and "Location" in response.headers:
            if time.monotonic() > deadline:
                raise AssertionError(f"the operation was still running after {self.max_wait_seconds} s")
            time.sleep(_retry_after(response))
            response = self._send(sent, "GET", response.headers["Location"], {}, None)
        body = response.json() if response.content else None
        return ActionResult(response.status_code, body, dict(response.headers), sent)

    def paginate(self, url: str, *, threshold: int, headers: dict[str, str] | None = None) -> ActionResult:
        """A GET with Pagination on and this threshold (paginationPolicy.minimumItemCount)."""
        sent = self.sent = []
        response = self._send(sent, "GET", url, headers or {}, None)
        items = list(response.json()["value"])
        while response.ok and len(items) < threshold and response.json().get("@odata.nextLink"):
            response = self._send(sent, "GET", response.json()["@odata.nextLink"], {}, None)
            items += response.json()["value"]
        return ActionResult(response.status_code, {"value": items}, dict(response.headers), sent)

    def _send(self, sent: list[Sent], method: str, url: str, headers: dict[str, str], json: Any
              ) -> requests.Response:
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, url, headers=headers, json=json, timeout=30)
            except requests.ConnectionError:
                sent.append(Sent(method, url, headers, None))
                if attempt == self.retries:
                    raise
            else:
                sent.append(Sent(method, url, headers, response.status_code))
                if response.status_code not in RETRIED and response.status_code < 500:
                    return response
                if attempt == self.retries:
                    return response
            time.sleep(self.retry_interval_seconds * 2 ** attempt)
        raise AssertionError("unreachable")


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else DEFAULT_RETRY_AFTER_SECONDS


def dynamic_schema(api: str, document: dict[str, Any], schema: dict[str, Any], inputs: dict[str, Any]) -> Any:
    """What the flow designer shows for a schema with ``x-ms-dynamic-schema`` once the card's ``inputs`` are
    filled in: it calls the named operation (``api``: the document's base URL, ending in /) with each parameter
    taken from the inputs (``{"parameter": "Filter.name"}``: a dotted path into them) or given as a value, and
    takes ``value-path`` (slash-separated) of the answer."""
    dynamic = schema["x-ms-dynamic-schema"]
    [(path, method)] = [(p, m) for p, item in document["paths"].items() for m, op in item.items()
                        if isinstance(op, dict) and op.get("operationId") == dynamic["operationId"]]
    values = {name: _from_inputs(inputs, given["parameter"]) if isinstance(given, dict) else given
              for name, given in dynamic["parameters"].items()}
    url = api + path.lstrip("/").format(**values)
    response = requests.request(method.upper(), url, timeout=10)
    response.raise_for_status()
    shown = response.json()
    for step in dynamic.get("value-path", "").split("/"):
        shown = shown[step] if step else shown
    return shown


def _from_inputs(inputs: dict[str, Any], dotted: str) -> Any:
    for step in dotted.split("."):
        inputs = inputs[step]
    return inputs
