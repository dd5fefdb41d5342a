"""OData query options (shared/api/odata.py): $filter to a parameterised Table filter, $top, $select."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.api.odata import DEFAULT_TOP, MAX_TOP, parse_filter, parse_select, parse_top
from shared.api.views import COLUMNS
from shared.domain.errors import InvalidRequest

OPERATORS = ["eq", "ne", "ge", "le", "gt", "lt"]
# column -> (literal as written in $filter, the value it must become)
LITERALS = {
    "backgroundoperationstatecode": ("3", 3),
    "backgroundoperationstatuscode": ("31", 31),
    "name": ("'sample_Echo'", "sample_Echo"),
    "createdon": ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
}


@pytest.mark.parametrize("column, operator", list(itertools.product(LITERALS, OPERATORS)))
def test_every_column_with_every_operator_becomes_a_parameterised_clause(column, operator):
    literal, value = LITERALS[column]
    result = parse_filter(f"{column} {operator} {literal}")
    assert result.text == f"{column} {operator} @p0"
    assert result.parameters == {"p0": value}
    assert type(result.parameters["p0"]) is type(value)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_filter_means_none(text):
    assert parse_filter(text) is None


def test_clauses_joined_by_and_number_their_parameters_in_order():
    result = parse_filter("backgroundoperationstatecode eq 3 and name eq 'a' and createdon ge 2024-01-01T00:00:00Z "
                          "and backgroundoperationstatuscode ne 31")
    assert result.text == ("backgroundoperationstatecode eq @p0 and name eq @p1 and createdon ge @p2 "
                           "and backgroundoperationstatuscode ne @p3")
    assert result.parameters == {"p0": 3, "p1": "a", "p2": datetime(2024, 1, 1, tzinfo=UTC), "p3": 31}


def test_column_operator_and_and_are_case_insensitive():
    result = parse_filter("Name EQ 'x' AND BackgroundOperationStateCode Ne 0")
    assert result.text == "name eq @p0 and backgroundoperationstatecode ne @p1"
    assert result.parameters == {"p0": "x", "p1": 0}


def test_parentheses_that_only_group_are_accepted():
    result = parse_filter("(name eq 'x') and (backgroundoperationstatecode eq 3)")
    assert result.text == "name eq @p0 and backgroundoperationstatecode eq @p1"


@pytest.mark.parametrize("literal, value", [
    ("'O''Brien'", "O'Brien"),
    ("''''", "'"),
    ("''", ""),
    ("'a b  c'", "a b  c"),
    ("'x'' or 1 eq 1 or name eq '''", "x' or 1 eq 1 or name eq '"),
    ("'(and)'", "(and)"),
])
def test_string_literals_unescape_doubled_quotes_and_keep_spaces(literal, value):
    result = parse_filter(f"name eq {literal}")
    assert result.text == "name eq @p0"
    assert result.parameters == {"p0": value}


@pytest.mark.parametrize("literal, value", [
    ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06T07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06T07:08:09.123Z", datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)),
    ("datetime'2024-05-06T07:08:09Z'", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("DateTime'2024-05-06T07:08:09Z'", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06T09:08:09+02:00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
])
def test_datetime_literals_bare_or_prefixed_become_aware_datetimes(literal, value):
    moment = parse_filter(f"createdon lt {literal}").parameters["p0"]
    assert moment == value and moment.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_string_value_is_passed_as_a_parameter_never_spliced(value):
    escaped = value.replace("'", "''")
    result = parse_filter(f"name eq '{escaped}'")
    assert result.text == "name eq @p0"
    assert result.parameters == {"p0": value}


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_any_iso_datetime_round_trips_through_a_filter(moment):
    text = moment.isoformat().replace("+00:00", "Z")
    assert parse_filter(f"createdon ge datetime'{text}'").parameters["p0"] == moment


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-999_999_999, max_value=999_999_999))
def test_any_nine_digit_int_is_accepted_for_code_columns(code):
    assert parse_filter(f"backgroundoperationstatuscode eq {code}").parameters == {"p0": code}


REFUSALS = {
    "or": "backgroundoperationstatecode eq 3 or backgroundoperationstatecode eq 0",
    "not": "not backgroundoperationstatecode eq 3",
    "not-grouped": "not (name eq 'x')",
    "function": "startswith(name, 'sample')",
    "function-eq": "startswith(name,'sample') eq true",
    "contains": "contains(name,'x')",
    "unknown-column": "callbackurl eq 'https://x'",
    "unknown-column-2": "PartitionKey eq '0'",
    "unknown-operator": "name like 'x'",
    "has-operator": "backgroundoperationstatecode has 3",
    "int-for-string": "name eq 3",
    "string-for-int": "backgroundoperationstatecode eq '3'",
    "decimal-for-int": "backgroundoperationstatecode eq 3.0",
    "long-int": "backgroundoperationstatecode eq 12345678901",
    "bool-for-int": "backgroundoperationstatecode eq true",
    "bad-datetime": "createdon ge 2024-13-45T00:00:00Z",
    "date-only": "createdon ge 2024-01-01",
    "string-for-datetime": "createdon ge 'yesterday'",
    "unterminated-string": "name eq 'abc",
    "lone-quote": "name eq '",
    "junk-after-string": "name eq 'a'b'",
    "dangling-and": "name eq 'x' and",
    "leading-and": "and name eq 'x'",
    "double-and": "name eq 'x' and and backgroundoperationstatecode eq 3",
    "missing-value": "name eq",
    "missing-operator": "name",
    "no-joiner": "name eq 'x' backgroundoperationstatecode eq 3",
    "parameter-injection": "name eq @p0",
    "arithmetic": "backgroundoperationstatecode add 1 eq 4",
}


@pytest.mark.parametrize("text", REFUSALS.values(), ids=REFUSALS.keys())
def test_unsupported_filters_are_refused_with_a_message_explaining_what_works(text):
    with pytest.raises(InvalidRequest) as info:
        parse_filter(text)
    message = str(info.value)
    assert message.startswith("$filter:")
    assert "eq, ne, ge, le, gt or lt" in message and "'and'" in message


def test_refusal_names_the_unknown_column():
    with pytest.raises(InvalidRequest, match="'callbackurl'"):
        parse_filter("callbackurl eq 'x'")


def test_refusal_names_the_unsupported_operator():
    with pytest.raises(InvalidRequest, match="'like'"):
        parse_filter("name like 'x'")


def test_refusal_message_is_bounded_for_a_huge_filter():
    with pytest.raises(InvalidRequest) as info:
        parse_filter("name eq 'x' or " * 2000)
    assert len(str(info.value)) < 800


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_either_parses_to_parameterised_clauses_or_is_refused(text):
    try:
        result = parse_filter(text)
    except InvalidRequest:
        return
    if result is None:
        assert not text.strip()
        return
    for name in result.parameters:
        assert f"@{name}" in result.text
    # Nothing but known columns, operators, 'and' and parameter names reaches the Table filter.
    allowed = set(LITERALS) | set(OPERATORS) | {"and"} | {f"@{n}" for n in result.parameters}
    assert set(result.text.split()) <= allowed


@pytest.mark.parametrize("text, expected", [(None, DEFAULT_TOP), ("", DEFAULT_TOP), ("1", 1), ("50", 50),
                                            ("1000", 1000), ("007", 7)])
def test_top_accepts_1_to_1000_and_defaults_to_50(text, expected):
    assert parse_top(text) == expected
    assert DEFAULT_TOP == 50 and MAX_TOP == 1000


@pytest.mark.parametrize("text", ["0", "1001", "-1", "abc", "1.5", "1e3", " 5", "5 ", "+5", "99999999999999999999"])
def test_top_outside_1_to_1000_or_not_a_whole_number_is_refused(text):
    with pytest.raises(InvalidRequest, match="from 1 to 1000"):
        parse_top(text)


def test_top_with_a_superscript_digit_is_refused_as_invalid_request():
    with pytest.raises(InvalidRequest):
        parse_top("²")


def test_select_absent_gives_all_columns():
    assert parse_select(None, COLUMNS) == COLUMNS
    assert parse_select("  ", COLUMNS) == COLUMNS


def test_select_narrows_to_the_named_columns_case_insensitively_and_in_order():
    assert parse_select("Name, backgroundoperationstatecode,createdon", COLUMNS) == \
        ("name", "backgroundoperationstatecode", "createdon")


def test_select_ignores_empty_items():
    assert parse_select("name,,", COLUMNS) == ("name",)


@pytest.mark.parametrize("text", ["callbackurl", "name,callbackurl", "etag", "PartitionKey"])
def test_select_of_an_unknown_column_is_refused_naming_it(text):
    with pytest.raises(InvalidRequest, match=r"\$select: unknown column") as info:
        parse_select(text, COLUMNS)
    assert text.split(",")[-1].lower() in str(info.value)


def test_filter_value_comparison_times_are_utc_normalisable():
    moment = parse_filter("createdon gt 2024-01-01T00:00:00-05:00").parameters["p0"]
    assert moment.utcoffset() is not None
    assert moment == datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=5)
