"""The Prefer header (shared/api/prefer.py): respond-async and both callback syntaxes (SPEC §3.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.api.prefer import Preferences, parse_prefer
from shared.domain.errors import InvalidRequest

URL = "https://prod-01.westus.logic.azure.com/workflows/abc/invoke?api-version=2016-10-01&sp=%2Ftriggers&sig=XYZ"


@pytest.mark.parametrize("header", [None, "", "   ", ",", "return=minimal", "handling=lenient, return=representation"])
def test_no_respond_async_means_synchronous_and_no_callback(header):
    assert parse_prefer(header) == Preferences(respond_async=False, callback_url=None, callback_token=None)


@pytest.mark.parametrize("header", ["respond-async", " respond-async ", "Respond-Async", "RESPOND-ASYNC",
                                    "wait=10, respond-async", "respond-async, return=minimal"])
def test_respond_async_alone_asks_for_background_without_callback(header):
    prefs = parse_prefer(header)
    assert prefs.respond_async is True
    assert prefs.callback_url is None and prefs.callback_token is None


@pytest.mark.parametrize("token", ["odata.callback", "callback"])
def test_both_callback_syntaxes_give_the_url_and_the_token_they_came_in(token):
    prefs = parse_prefer(f'respond-async, {token}; url="{URL}"')
    assert prefs == Preferences(respond_async=True, callback_url=URL, callback_token=token)


@pytest.mark.parametrize("header", [
    f'RESPOND-ASYNC, ODATA.CALLBACK; URL="{URL}"',
    f'Respond-Async,OData.Callback;Url="{URL}"',
    f'respond-async , odata.callback ;  url = "{URL}"',
])
def test_tokens_and_parameter_names_are_case_and_space_insensitive(header):
    prefs = parse_prefer(header)
    assert prefs.respond_async and prefs.callback_url == URL and prefs.callback_token == "odata.callback"


def test_url_case_is_kept():
    url = "https://Example.com/CB?Sig=AbC"
    assert parse_prefer(f'respond-async, callback; url="{url}"').callback_url == url


@pytest.mark.parametrize("url", [
    "https://example.com/cb?a=1,2&b=3",
    "https://example.com/cb;v=1?x=a;b",
    "https://example.com/cb?sig=a=b==&x=,;=",
    "https://example.com/a,b;c=d,e;f",
])
def test_quoted_url_may_contain_commas_semicolons_and_equals(url):
    prefs = parse_prefer(f'respond-async, odata.callback; url="{url}", return=minimal')
    assert prefs.respond_async is True
    assert prefs.callback_url == url


def test_callback_listed_before_respond_async_still_counts():
    prefs = parse_prefer(f'callback; url="{URL}", respond-async')
    assert prefs.respond_async and prefs.callback_url == URL


def test_unquoted_url_without_separators_is_accepted():
    assert parse_prefer("respond-async, callback; url=https://example.com/cb?x=1").callback_url == \
        "https://example.com/cb?x=1"


def test_callback_without_respond_async_is_parsed_but_not_async():
    prefs = parse_prefer(f'odata.callback; url="{URL}"')
    assert prefs.respond_async is False and prefs.callback_url == URL


def test_callback_token_without_url_gives_no_url():
    prefs = parse_prefer("respond-async, odata.callback")
    assert prefs.respond_async and prefs.callback_url is None


def test_callback_url_is_not_in_the_repr():
    assert "XYZ" not in repr(parse_prefer(f'respond-async, callback; url="{URL}"'))


def test_similar_looking_tokens_are_not_mistaken_for_ours():
    prefs = parse_prefer(f'respond-asynchronously, x-callback; url="{URL}"')
    assert prefs == Preferences()


url_chars = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters='"\\'),
                    min_size=1, max_size=80)


@settings(max_examples=200, deadline=None)
@given(url_chars, st.sampled_from(["odata.callback", "callback"]))
def test_any_quoted_url_comes_back_unchanged(path, token):
    url = "https://example.com/" + path
    prefs = parse_prefer(f'respond-async, {token}; url="{url}"')
    assert prefs.respond_async and prefs.callback_url == url and prefs.callback_token == token


@pytest.mark.parametrize("header, size", [("odata.maxpagesize=10", 10), ("ODATA.MAXPAGESIZE = 3", 3),
                                          ("respond-async, odata.maxpagesize=1", 1),
                                          ('odata.maxpagesize="25"', 25)])
def test_maxpagesize_is_read_as_a_whole_number(header, size):
    assert parse_prefer(header).max_page_size == size


@pytest.mark.parametrize("header", ["odata.maxpagesize", "odata.maxpagesize=0", "odata.maxpagesize=-5",
                                    "odata.maxpagesize=ten", "odata.maxpagesize=1.5", "odata.maxpagesize=" + "9" * 400])
def test_maxpagesize_that_is_not_a_positive_whole_number_is_refused(header):
    with pytest.raises(InvalidRequest, match="odata.maxpagesize must be a whole number"):
        parse_prefer(header)


@pytest.mark.parametrize("header", [";", "respond-async, ;", "; url=x", "=5", 'respond-async, ="x"'])
def test_a_preference_with_no_name_is_refused_with_an_example(header):
    with pytest.raises(InvalidRequest, match="no name"):
        parse_prefer(header)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_header_is_read_or_refused_never_crashes(header):
    try:
        parse_prefer(header)
    except InvalidRequest:
        pass


@pytest.mark.parametrize("header, words", [
    ("respond-async, " + "x" * 5000, "longer than 4096"),
    (", ".join(["respond-async"] * 17), "more than 16 preferences"),
    ("odata.callback; " + "; ".join(f"p{i}=1" for i in range(9)), "more than 8 parameters"),
])
def test_a_prefer_header_of_an_unbounded_shape_is_refused(header, words):
    with pytest.raises(InvalidRequest, match=words):
        parse_prefer(header)


def test_a_prefer_header_at_its_bounds_is_read():
    url = "https://example.com/" + "a" * 2000
    header = ", ".join(["respond-async"] * 15 + [f'odata.callback; url="{url}"'])
    assert parse_prefer(header).callback_url == url


@pytest.mark.parametrize("header, expected", [
    ("odata.continue-on-error", True), ("continue-on-error", True), ("Continue-On-Error=true", True),
    ("odata.continue-on-error=false", False), ("respond-async", False), (None, False)])
def test_continue_on_error_in_odata_40s_name_and_401s_with_false_turning_it_off(header, expected):
    assert parse_prefer(header).continue_on_error is expected


@pytest.mark.parametrize("header, seconds", [("respond-async, wait=10", 10), ("wait=0", 0), ("WAIT = 230", 230),
                                             ("respond-async", None)])
def test_wait_is_read_as_whole_seconds(header, seconds):
    assert parse_prefer(header).wait == seconds


@pytest.mark.parametrize("header, says", [("wait=-1", "from 0"), ("wait=1.5", "from 0"), ("wait", "from 0"),
                                          ("wait=soon", "from 0"), ("wait=231", "at most 230"),
                                          ("wait=99999999999", "from 0")])
def test_a_wait_that_cannot_be_honoured_is_refused_saying_what_to_send(header, says):
    with pytest.raises(InvalidRequest, match=says):
        parse_prefer(header)
