"""Error codes as signed 32-bit ints (shared/domain/error_codes.py) and on handler errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import error_codes
from shared.domain.errors import NonRetryableError, OperationError


@pytest.mark.parametrize("code, expected", [
    (0x80040265, -2147220891), (0x80040216, -2147220970), (0x80040217, -2147220969),
    (0, 0), (1, 1), (-1, -1), (0x7FFFFFFF, 2147483647), (0x80000000, -2147483648), (0xFFFFFFFF, -1),
])
def test_as_int32_maps_dataverse_hex_codes_to_signed_ints(code, expected):
    assert error_codes.as_int32(code) == expected


def test_the_apps_own_codes_are_the_signed_forms_of_dataverses_hex_codes():
    assert error_codes.as_int32(0x80040265) == error_codes.HANDLER_FAILED
    assert error_codes.as_int32(0x80040216) == error_codes.UNEXPECTED
    assert error_codes.as_int32(0x80040217) == error_codes.NOT_REGISTERED


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_as_int32_lands_in_int32_range_congruent_mod_2_to_the_32(code):
    result = error_codes.as_int32(code)
    assert -(2**31) <= result < 2**31
    assert (result - code) % 2**32 == 0
    assert error_codes.as_int32(result) == result


@pytest.mark.parametrize("cls", [OperationError, NonRetryableError])
def test_handler_errors_store_codes_as_int32_and_keep_none(cls):
    assert cls("x", code=0x80040265).code == -2147220891
    assert cls("x").code is None
    assert cls("x", code=-5).code == -5
