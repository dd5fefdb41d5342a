"""One table from errors to responses (shared/api/errors.py): a caller's mistake is never a 5xx."""

from __future__ import annotations

import json

import pytest

from shared.api.errors import JSON, response_for
from shared.domain import errors as e
from shared.domain.states import Event, OperationFinished, Status, TransitionRefused

CALLER_MISTAKES = [
    e.InvalidRequest("bad"), e.PayloadTooLarge("big"), e.UnsupportedMediaType("utf-16"), e.UnknownOperation("x"),
    e.OperationNotFound("id"),
    OperationFinished(Status.SUCCEEDED, Event.CANCEL), TransitionRefused(Status.IN_PROGRESS, Event.RESUME),
    e.ConcurrencyConflict("busy"), e.PreconditionFailed("id"),
    e.HandlerFailed(-2147220891, "the handler said no"),
]


@pytest.mark.parametrize("error", CALLER_MISTAKES, ids=lambda error: type(error).__name__)
def test_every_error_a_caller_or_a_handler_causes_is_a_4xx_with_a_dataverse_error_body(error):
    response = response_for(error)
    assert 400 <= response.status_code < 500
    body = json.loads(response.get_body())
    assert set(body) == {"error"} and body["error"]["message"] == str(error)
    assert response.mimetype == JSON and response.headers["OData-Version"] == "4.0"


def test_a_handler_error_in_a_synchronous_run_is_400_with_its_code_in_hex_as_dataverse_writes_it():
    response = response_for(e.HandlerFailed(-2147220891, "no"))
    assert response.status_code == 400
    assert json.loads(response.get_body())["error"]["code"] == "0x80040265"


def test_a_body_not_in_utf8_is_415_unsupported_media_type():
    response = response_for(e.UnsupportedMediaType("send JSON in UTF-8"))
    assert response.status_code == 415
    assert json.loads(response.get_body())["error"] == {"code": "UnsupportedMediaType",
                                                        "message": "send JSON in UTF-8"}


def test_a_stale_if_match_is_412():
    assert response_for(e.PreconditionFailed("id")).status_code == 412


def test_storage_down_is_503_with_retry_after():
    response = response_for(e.StorageUnavailable("Table storage failed to read a row: ServiceRequestError"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_an_unexpected_exception_is_500_without_its_text():
    response = response_for(RuntimeError("secret detail"))
    assert response.status_code == 500 and b"secret detail" not in response.get_body()
