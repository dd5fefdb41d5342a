"""OData query options (shared/api/odata.py): $filter to a parameterised Table filter, $top, $select."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.api.odata import (
    DEFAULT_PAGE_SIZE,
    ENTITY_OPTIONS,
    LIST_OPTIONS,
    MAX_PAGE_SIZE,
    MAX_TOP,
    Paging,
    check_options,
    check_orderby,
    parse_filter,
    parse_paging,
    parse_select,
    parse_top,
)
from shared.api.views import COLUMNS, SELECTABLE
from shared.domain.errors import InvalidRequest, NotAcceptable, NotSupported
from shared.storage.ports import Comparison

ID = "0b5d3c2a-1f00-8e4d-9a7b-5c6d7e8f9a0b"
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
    [comparison] = parse_filter(f"{column} {operator} {literal}")
    assert comparison == Comparison(column, operator, value)
    assert type(comparison.value) is type(value)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_filter_means_no_comparisons(text):
    assert parse_filter(text) == ()


def test_clauses_joined_by_and_number_their_parameters_in_order():
    result = parse_filter("backgroundoperationstatecode eq 3 and name eq 'a' and createdon ge 2024-01-01T00:00:00Z "
                          "and backgroundoperationstatuscode ne 31")
    assert result == (Comparison("backgroundoperationstatecode", "eq", 3), Comparison("name", "eq", "a"),
                      Comparison("createdon", "ge", datetime(2024, 1, 1, tzinfo=UTC)),
                      Comparison("backgroundoperationstatuscode", "ne", 31))


def test_column_operator_and_and_are_case_insensitive():
    result = parse_filter("Name EQ 'x' AND BackgroundOperationStateCode Ne 0")
    assert result == (Comparison("name", "eq", "x"), Comparison("backgroundoperationstatecode", "ne", 0))


def test_parentheses_that_only_group_are_accepted():
    result = parse_filter("(name eq 'x') and (backgroundoperationstatecode eq 3)")
    assert result == (Comparison("name", "eq", "x"), Comparison("backgroundoperationstatecode", "eq", 3))


@pytest.mark.parametrize("text", ["((name eq 'x'))", "((name eq 'x') and (backgroundoperationstatecode eq 3))",
                                  "name eq 'x' and ((backgroundoperationstatecode eq 3))",
                                  "(" * 500 + "name eq 'x'" + ")" * 500])
def test_nested_parentheses_that_balance_are_accepted(text):
    assert parse_filter(text)[0] == Comparison("name", "eq", "x")


@pytest.mark.parametrize("text, words", [
    ("(name eq 'x'", "a '(' is never closed"),
    ("((name eq 'x')", "a '(' is never closed"),
    ("name eq 'x' and (backgroundoperationstatecode eq 3", "a '(' is never closed"),
    ("name eq 'x')", "a ')' closes no '('"),
    ("(name eq 'x')) and (backgroundoperationstatecode eq 3", "a ')' closes no '('"),
    ("(" * 100_000 + "name eq 'x'", "a '(' is never closed"),
])
def test_unbalanced_parentheses_are_refused_saying_so(text, words):
    with pytest.raises(InvalidRequest, match="balance the parentheses") as info:
        parse_filter(text)
    assert words in str(info.value)


@pytest.mark.parametrize("text", ["name (eq) 'x'", "(name) eq 'x'", "name eq ('x')", "() and name eq 'x'",
                                  "(name eq 'x' and) backgroundoperationstatecode eq 3", "name eq 'x' ()"])
def test_parentheses_anywhere_but_around_comparisons_are_refused(text):
    with pytest.raises(InvalidRequest, match=r"\$filter: cannot read"):
        parse_filter(text)


@pytest.mark.parametrize("literal, value", [
    ("'O''Brien'", "O'Brien"),
    ("''''", "'"),
    ("''", ""),
    ("'a b  c'", "a b  c"),
    ("'x'' or 1 eq 1 or name eq '''", "x' or 1 eq 1 or name eq '"),
    ("'(and)'", "(and)"),
])
def test_string_literals_unescape_doubled_quotes_and_keep_spaces(literal, value):
    assert parse_filter(f"name eq {literal}") == (Comparison("name", "eq", value),)


@pytest.mark.parametrize("literal, value", [
    ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06T07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06T07:08:09.123Z", datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)),
    ("datetime'2024-05-06T07:08:09Z'", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("DateTime'2024-05-06T07:08:09Z'", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
    ("2024-05-06T09:08:09+02:00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
])
def test_datetime_literals_bare_or_prefixed_become_aware_datetimes(literal, value):
    moment = parse_filter(f"createdon lt {literal}")[0].value
    assert moment == value and moment.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_string_value_is_read_back_exactly(value):
    escaped = value.replace("'", "''")
    assert parse_filter(f"name eq '{escaped}'") == (Comparison("name", "eq", value),)


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_any_iso_datetime_round_trips_through_a_filter(moment):
    text = moment.isoformat().replace("+00:00", "Z")
    assert parse_filter(f"createdon ge datetime'{text}'")[0].value == moment


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-999_999_999, max_value=999_999_999))
def test_any_nine_digit_int_is_accepted_for_code_columns(code):
    assert parse_filter(f"backgroundoperationstatuscode eq {code}")[0].value == code


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
def test_any_text_either_parses_to_known_columns_and_operators_or_is_refused(text):
    try:
        result = parse_filter(text)
    except InvalidRequest:
        return
    assert result or not text.strip() or set(text) <= set("() ")
    # Nothing but known columns and operators reaches storage; values travel as values.
    assert all(c.column in [*LITERALS, "backgroundoperationid"] and c.operator in OPERATORS for c in result)


@pytest.mark.parametrize("text, expected", [(None, None), ("", None), ("0", 0), ("1", 1), ("50", 50),
                                            ("5000", 5000), ("007", 7), (str(MAX_TOP), MAX_TOP)])
def test_top_is_a_whole_number_from_0_and_absent_means_no_cap(text, expected):
    assert parse_top(text) == expected


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", "1e3", " 5", "5 ", "+5", str(MAX_TOP + 1), "9" * 400, "²"])
def test_top_that_is_not_a_whole_number_in_range_is_refused(text):
    with pytest.raises(InvalidRequest, match=r"\$top must be a whole number from 0"):
        parse_top(text)


def test_page_size_is_50_unless_top_or_maxpagesize_says_otherwise():
    assert parse_paging(None, None, None) == Paging(page_size=DEFAULT_PAGE_SIZE, remaining=None)
    assert parse_paging("10", None, None).this_page == 10  # $top alone: all of them in one page
    assert parse_paging("5000", None, None).this_page == MAX_PAGE_SIZE
    assert parse_paging(None, None, 7).this_page == 7
    assert parse_paging("3", None, 7).this_page == 3  # the cap wins over the page size
    assert parse_paging(None, None, 10**6).page_size == MAX_PAGE_SIZE


def test_next_link_carries_what_is_left_of_top_and_the_page_size():
    paging = parse_paging("12", None, 5)
    assert paging.next_link_options(5, ID) == {"$skiptoken": f"{ID}:5", "$top": "7"}
    assert paging.next_link_options(12, ID) is None  # $top reached: no nextLink past it


def test_next_link_without_top_has_only_the_skiptoken():
    assert parse_paging(None, None, None).next_link_options(50, ID) == {"$skiptoken": f"{ID}:50"}


def test_a_followed_next_link_keeps_its_page_size_without_the_prefer_header():
    paging = parse_paging("7", f"{ID}:5", None)
    assert (paging.after, paging.page_size, paging.this_page, paging.remaining) == (ID, 5, 5, 7)


def test_prefer_on_a_followed_next_link_wins_over_the_page_size_it_carries():
    assert parse_paging(None, f"{ID}:5", 9).page_size == 9


@pytest.mark.parametrize("token", ["nope", f"{ID}:0", f"{ID}:abc", f"{ID}:1001", f"{ID}:" + "9" * 50, ":5"])
def test_a_skiptoken_this_service_did_not_hand_out_is_refused(token):
    with pytest.raises(InvalidRequest, match="follow @odata.nextLink"):
        parse_paging(None, token, None)


def test_select_keeps_the_key_first_even_when_not_named():
    assert parse_select("name", SELECTABLE) == ("backgroundoperationid", "name")
    assert parse_select("name,backgroundoperationid", SELECTABLE) == ("name", "backgroundoperationid")


def test_select_absent_gives_all_columns():
    assert parse_select(None, COLUMNS) == COLUMNS
    assert parse_select("  ", COLUMNS) == COLUMNS


def test_select_narrows_to_the_named_columns_case_insensitively_and_in_order():
    assert parse_select("Name, backgroundoperationstatecode,createdon", COLUMNS) == \
        ("backgroundoperationid", "name", "backgroundoperationstatecode", "createdon")


def test_select_ignores_empty_items():
    assert parse_select("name,,", COLUMNS) == ("backgroundoperationid", "name")


@pytest.mark.parametrize("text", ["callbackurl", "name,callbackurl", "etag", "PartitionKey"])
def test_select_of_an_unknown_column_is_refused_naming_it(text):
    with pytest.raises(InvalidRequest, match=r"\$select: unknown column") as info:
        parse_select(text, COLUMNS)
    assert text.split(",")[-1].lower() in str(info.value)


@pytest.mark.parametrize("literal", [ID, ID.upper(), f"'{ID}'"])
def test_filter_on_the_key_reads_the_id_in_any_form(literal):
    result = parse_filter(f"(backgroundoperationid eq {literal})")  # as python-odata's get(key) sends it
    assert result == (Comparison("backgroundoperationid", "eq", ID),)


def test_filter_on_the_key_with_something_that_is_not_an_id_is_refused():
    with pytest.raises(InvalidRequest, match="not a valid guid value for backgroundoperationid"):
        parse_filter("backgroundoperationid eq 42")


def test_filter_value_comparison_times_are_utc_normalisable():
    moment = parse_filter("createdon gt 2024-01-01T00:00:00-05:00")[0].value
    assert moment.utcoffset() is not None
    assert moment == datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=5)


# --- Options OData defines: implemented, 501 when not, 400 when OData has no such option ---------------------

@pytest.mark.parametrize("option, value", [("$skip", "1"), ("$count", "true"), ("$count", "TRUE"), ("$expand", "1"),
                                           ("$search", "1"), ("$apply", "1"), ("$compute", "1")])
def test_an_option_odata_defines_that_a_resource_does_not_implement_is_501_naming_what_it_supports(option, value):
    with pytest.raises(NotSupported, match=f"does not implement \\{option}; this route supports \\$filter"):
        check_options({option: value}, LIST_OPTIONS, odata=True)


@pytest.mark.parametrize("option, value", [("$count", "false"), ("$count", "False"), ("$skip", "0")])
def test_an_unimplemented_option_whose_value_asks_for_nothing_is_served(option, value):
    assert check_options({option: value}, LIST_OPTIONS, odata=True)[option] == value


@pytest.mark.parametrize("option, value, rule", [
    ("$count", "maybe", "true or false"), ("$count", "", "true or false"), ("$skip", "-1", "a whole number from 0"),
    ("$skip", "x", "a whole number"), ("$skip", "9" * 11, "a whole number")])
def test_an_unimplemented_option_with_a_value_it_cannot_take_is_400_not_501(option, value, rule):
    with pytest.raises(InvalidRequest, match=f"\\{option} must be {rule}"):
        check_options({option: value}, LIST_OPTIONS, odata=True)


def test_an_option_odata_does_not_define_is_400_first_and_a_non_odata_route_refuses_every_option_with_400():
    with pytest.raises(InvalidRequest, match=r"Unsupported query option\(s\) \$Filter"):
        check_options({"$Filter": "x", "$skip": "1"}, LIST_OPTIONS, odata=True)  # names are case-sensitive
    with pytest.raises(InvalidRequest, match=r"Unsupported query option\(s\) \$skip"):
        check_options({"$skip": "1"}, ())  # the status monitor, the catalog: not OData resources


@pytest.mark.parametrize("parameter", ["fetchXml", "sql", "savedQuery", "userQuery", "FetchXML"])
def test_dataverses_own_queries_are_501_on_an_entity_set_never_ignored_into_listing_every_row(parameter):
    with pytest.raises(NotSupported, match=f"{parameter}: FetchXML, SQL and saved or user queries"):
        check_options({parameter: "<fetch/>"}, LIST_OPTIONS, odata=True)
    assert check_options({parameter: "x"}, ()) == {parameter: "x"}  # elsewhere a parameter like any other


@pytest.mark.parametrize("value", ["json", "JSON", "application/json", "application/json;odata.metadata=minimal"])
def test_format_json_is_accepted(value):
    assert check_options({"$format": value}, LIST_OPTIONS, odata=True)["$format"] == value


@pytest.mark.parametrize("value", ["xml", "atom", "application/xml", ""])
def test_any_other_format_is_406(value):
    with pytest.raises(NotAcceptable, match="JSON only"):
        check_options({"$format": value}, ENTITY_OPTIONS, odata=True)


@pytest.mark.parametrize("text", ["createdon desc", "CreatedOn DESC", "  createdon   desc ", None, ""])
def test_orderby_the_natural_order_is_served(text):
    check_orderby(text, SELECTABLE)


@pytest.mark.parametrize("text", ["createdon asc", "createdon", "name", "name desc", "createdon desc,name asc"])
def test_orderby_any_other_order_of_known_columns_is_501_saying_which_is_implemented(text):
    with pytest.raises(NotSupported, match="only 'createdon desc' is implemented"):
        check_orderby(text, SELECTABLE)


@pytest.mark.parametrize(("text", "says"), [("nosuchcolumn desc", "unknown column"),
                                            ("createdon sideways", "asc or desc"),
                                            ("createdon desc desc", "asc or desc")])
def test_orderby_an_unknown_column_or_direction_is_400(text, says):
    with pytest.raises(InvalidRequest, match=says):
        check_orderby(text, SELECTABLE)
