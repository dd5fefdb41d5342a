"""Schemathesis hooks for test_openapi.py's runs (loaded by ``st`` through SCHEMATHESIS_HOOKS, not by pytest).

``filter_failure`` sets a failure aside only where the server keeps a rule that OpenAPI 2.0 cannot state, so
the OpenAPI document says it in words (each rule below, with why no schema can say it). Everything else
schemathesis finds stays a failure. Each failure set aside is written, one JSON object a line, to the file
named by BGOPS_UNSTATED_LOG, so the test can show what was set aside and why.

``before_call`` points every callback and notification URL the fuzzer makes up at a host under ``.invalid``
(RFC 6761: it never resolves), still a URL the document allows: the app under test calls nobody.

(Loaded from its path, outside sys.modules: no ``from __future__ import annotations``, which dataclasses
would look up there.)
"""

import json
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import schemathesis

from shared.api.grammar import HTTPS_URL  # the repository is on PYTHONPATH

SERVER_ERROR = "ST101"  # not_a_server_error
MISSING_CONTENT_TYPE = "ST104"  # content_type_conformance: a response without a Content-Type
ACCEPTED_NEGATIVE_DATA = "ST201"  # negative_data_rejection: a request the document forbids was taken
REJECTED_POSITIVE_DATA = "ST202"  # positive_data_acceptance: a request the document allows was refused
URL_FIELDS = ("NotificationUrl", "CallbackUri")
NOWHERE = "fuzz.invalid"
BATCH_ERRORS = ("InvalidRequest", "UnsupportedMediaType")


@dataclass(frozen=True)
class Unstated:
    """A rule for which the server refuses (400) a request the document's schemas allow."""

    name: str
    why: str  # why OpenAPI 2.0 cannot state it
    code: str  # the error code the app answers with (a regular expression)
    message: str = ""  # a regular expression the error message matches


UNSTATED = (
    Unstated("one change per PATCH", "a PATCH body is a state change or a postponement alone: a choice between "
             "shapes, and OpenAPI 2.0 has no oneOf", "InvalidRequest",
             r"^(Ask for one change per PATCH|Unsupported state change)"),
    Unstated("the row's state now", "whether the state table allows a change depends on the row's state at the "
             "time", "TransitionNotAllowed|OperationFinished"),
    Unstated("system jobs", "callers may not cancel, pause or resume the app's own jobs: a property of the row, "
             "not of the request", "InvalidRequest", r"is a system job: callers may not"),
    Unstated("a time to come", "postponeuntil must be in the future, RecurrenceStartTime not in the past, a "
             "RecurrencePattern must occur again: relative to the time of the request", "InvalidRequest",
             r"must be in the future|is in the past|never occurs"),
    Unstated("recurrence fields together", "RecurrenceStartTime needs a RecurrencePattern, PostponeUntil goes "
             "without one: a field needing or excluding another, and OpenAPI 2.0 has no dependencies",
             "InvalidRequest", r"RecurrenceStartTime needs a RecurrencePattern|leave PostponeUntil out"),
    Unstated("the chosen operation's inputs", "the body is the inputSchema of the operation the path names "
             "(x-ms-dynamic-schema, read from GET operations/{name}); the document itself can only say 'an "
             "object'", "InvalidRequest",
             r"needs the parameter|has no parameter|^Parameter '|^The inputs of '.*' must be a JSON object"),
    Unstated("registered names", "Filter.name must name a registered operation (x-ms-dynamic-values, read "
             "from GET operations)", "InvalidRequest", r"^Filter\.name: no operation named"),
    Unstated("a synchronous run's outcome", "without respond-async the operation runs inside the request, and "
             "its handler's failure is the answer: 400 with the handler's error code", "0x[0-9A-F]{8}"),
    Unstated("the form an operation is called in", "whether an operation is bound to a table's rows is the "
             "operation's, as the catalog says (boundTo): the routes take any name", "InvalidRequest",
             r"is bound to \w+: call it on one of its rows|is not bound to a table"),
    Unstated("a key needs the background", "an Idempotency-Key is taken only with Prefer: respond-async (a run "
             "inside the request records nothing to answer again): a header needing another's value, which "
             "OpenAPI 2.0 cannot say", "InvalidRequest", r"^An Idempotency-Key makes a submit safe to send again"),
    Unstated("bounded JSON", "whole numbers beyond 64 bits and nesting deeper than 32 levels are refused in "
             "every body, also inside the free-form objects (inputs, parameters) no schema can bound",
             "InvalidRequest", r"is too large: whole numbers must be|is nested more than"),
)


def _error(content: bytes) -> tuple[str, str]:
    try:
        error = json.loads(content)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "", ""


def unstated_rule(failure: Any, response: Any) -> str | None:
    """The rule a failure comes from, if the document states it only in words; None for a real disagreement."""
    status, content = response.status_code, response.content or b""
    if failure.code == MISSING_CONTENT_TYPE and status == 204 and not content:
        # OpenAPI 2.0's `produces` is the operation's, not each response's: it cannot say that a 204 has no
        # content, and so no Content-Type (RFC 9110 §15.3.5).
        return "a 204 has no content"
    if failure.code == SERVER_ERROR and status == 500 and _opted_in(response):
        # The documented 500 of GET backgroundoperation/{id}: Failed or Canceled, the caller having asked for it
        # with returnInternalServerErrorOnFailure=true. Any other 5xx stays a failure.
        return "an opted-in 500"
    if failure.code == ACCEPTED_NEGATIVE_DATA and re.fullmatch(
            r"(?s)(?:(?!violates).)*violates `pattern` at /properties/(?:NotificationUrl|CallbackUri) "
            r"(?:(?!violates).)*", failure.message):
        # HTTPS_URL is the form of URL the app always calls back; it takes others too (an IP literal, a name in
        # another script, any character but spaces and controls in the path), which no pattern lists whole. A
        # URL it cannot call is still refused (domain.callbacks): only a URL the pattern leaves out is taken.
        return "URLs beyond the documented form"
    if failure.code == REJECTED_POSITIVE_DATA and status == 405 and _error(content)[0] == "MethodNotAllowed":
        # EntityDefinitions' writes: documented with 405 as their one answer (the tables are fixed); an operation
        # called with the other method (a GET of an action): documented 405, by the operation's kind. A check
        # that expects any well-formed request to succeed cannot know either.
        return "a read-only resource"
    if failure.code in (SERVER_ERROR, REJECTED_POSITIVE_DATA) and status == 501 and re.search(
            r"/\$count$", urlsplit(response.request.url).path) and _error(content)[0] == "NotImplemented":
        # /$count: documented with 501 as its one answer (Table Storage keeps no count). 501 is OData's answer
        # for what a service does not implement, not a failure of the service.
        return "a documented 501"
    if failure.code == REJECTED_POSITIVE_DATA and status in (400, 415) and urlsplit(
            response.request.url).path.endswith("/$batch") and _error(content)[0] in BATCH_ERRORS:
        # Swagger 2.0 has no schema for a multipart/mixed body: the document says in words what a batch is (and
        # test_batch.py and the Dataverse SDK send real ones); the form data schemathesis makes is not one.
        return "a batch body, described in words"
    if failure.code != REJECTED_POSITIVE_DATA or status != 400:
        return None
    error_code, message = _error(content)
    rule = next((r for r in UNSTATED if re.fullmatch(r.code, error_code) and re.search(r.message, message)), None)
    return rule.name if rule else None


def _opted_in(response: Any) -> bool:
    query = parse_qs(urlsplit(response.request.url).query)
    try:
        failed = json.loads(response.content)["backgroundOperationStatusCode"] in (31, 32)  # Failed, Canceled
    except (ValueError, KeyError, TypeError):
        return False
    return failed and [v.lower() for v in query.get("returnInternalServerErrorOnFailure", [])] == ["true"]


@schemathesis.hook
def filter_failure(context: object, failure: Any, case: object, response: Any) -> bool:
    """Keep every failure but those of a rule the document can only state in words."""
    rule = unstated_rule(failure, response)
    if rule is None:
        return True
    log = os.environ.get("BGOPS_UNSTATED_LOG")
    if log:
        with open(log, "a") as out:
            out.write(json.dumps({"rule": rule, "operation": failure.operation, "status": response.status_code,
                                  "error": _error(response.content or b"")[1][:200]}) + "\n")
    return False


@schemathesis.hook
def before_call(context: object, case: Any, kwargs: dict[str, Any]) -> None:
    """Send callbacks and events nowhere: the host of each URL the document allows becomes NOWHERE (a URL it
    does not allow is left as it is, so a request meant to be refused still is)."""
    if isinstance(case.body, dict):
        for field in URL_FIELDS:
            url = case.body.get(field)
            if isinstance(url, str) and re.fullmatch(HTTPS_URL, url):
                case.body[field] = re.sub(r"^https://[^:/?]+", f"https://{NOWHERE}", url)
