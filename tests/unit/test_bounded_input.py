"""Bounded input: request JSON nesting and numbers, callback host names, stored lengths,
and rows that cannot be read."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from shared.api.handling import INT64_MAX, INT64_MIN, MAX_JSON_DEPTH, json_body
from shared.api.views import entity
from shared.domain.addresses import OutboundPolicy
from shared.domain.callbacks import check_callback_url
from shared.domain.errors import InvalidRequest
from shared.services.delivery import post_once
from shared.storage.payloads import INLINE_CHARS, stored_length
from shared.storage.table_store import from_entity, to_entity


def _request(body: str) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://127.0.0.1/api/x", headers={}, params={}, body=body.encode())


def _nested(depth: int) -> str:
    """A body whose deepest value sits ``depth`` objects and arrays deep (the body itself is 1)."""
    return '{"A": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_json_nested_as_deep_as_allowed_is_accepted():
    assert json_body(_request(_nested(MAX_JSON_DEPTH)))["A"] is not None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 980])
def test_json_nested_deeper_is_refused_naming_the_limit(depth):
    with pytest.raises(InvalidRequest, match=f"nested more than {MAX_JSON_DEPTH} levels"):
        json_body(_request(_nested(depth)))


@pytest.mark.parametrize("number", [INT64_MIN, INT64_MAX, 0, -1])
def test_whole_numbers_storage_holds_are_accepted(number):
    assert json_body(_request(json.dumps({"A": {"B": [number]}}))) == {"A": {"B": [number]}}


@pytest.mark.parametrize("number", [INT64_MAX + 1, INT64_MIN - 1, int("9" * 400)])
def test_whole_numbers_beyond_int64_are_refused_naming_where(number):
    with pytest.raises(InvalidRequest, match=r"The number at \$\['A'\]\['B'\]\[0\] is too large"):
        json_body(_request(json.dumps({"A": {"B": [number]}})))


@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "a..example.com", ".".join(["a" * 60] * 5)])
def test_callback_hosts_dns_cannot_look_up_are_refused(host):
    with pytest.raises(InvalidRequest, match="host name DNS cannot look up"):
        check_callback_url(f"https://{host}/cb?sig=SECRET", policy=OutboundPolicy(open=False))


@pytest.mark.parametrize("host", ["a" * 63 + ".example.com", "bücher.example", "[2606:4700:4700::1111]:8443",
                                  "1.1.1.1"])
def test_callback_hosts_at_the_limits_are_accepted(host):
    assert check_callback_url(f"https://{host}/cb", policy=OutboundPolicy(open=False))


def test_a_delivery_that_raises_anything_is_recorded_as_failed_not_raised():
    # Not reachable through a submit any more (refused above); a delivery must still never raise.
    delivery = post_once(f"http://{'a' * 70}.example.com/cb", {}, policy=OutboundPolicy(open=True),
                         timeout_seconds=5)
    assert not delivery.delivered and delivery.detail and "aaaa" not in delivery.detail


def test_stored_length_counts_utf16_units_as_table_storage_does():
    assert stored_length("abc") == 3
    assert stored_length("😀") == 2  # outside the BMP: a surrogate pair
    assert stored_length("😀" * (INLINE_CHARS // 2 + 1)) > INLINE_CHARS


def test_a_row_whose_parameters_cannot_be_read_is_damaged_not_an_error(make_op):
    stored = to_entity(make_op()) | {"RowKey": make_op().id, "inputparameters": "[" * 5000 + "]" * 5000}
    row = from_entity(stored)
    assert row.inputs == {} and "cannot be read" in row.damaged
    shown = entity(row)
    assert shown["@bgops.damaged"] == row.damaged and shown["inputparameters"] == "[]"


def test_a_number_of_thousands_of_digits_is_refused_as_too_large_not_as_bad_json():
    with pytest.raises(InvalidRequest, match="too large"):
        json_body(_request('{"A": ' + "9" * 5000 + "}"))
