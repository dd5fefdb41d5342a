"""Operation ids (shared/domain/ids.py) and the Table Storage keys made from them (shared/storage/keys.py).

An id is a GUID carrying its creation time (inverted, so ids sort newest
first) and its shard; a finished operation's expiry marker RowKey sorts by
expiry after every id, and ``expired_bound(now)`` splits expired markers from
live ones.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.domain.errors import InvalidRequest
from shared.domain.ids import created_at, new_operation_id, parse_operation_id
from shared.storage.keys import (
    MARKER_PREFIX,
    SHARDS,
    expired_bound,
    expiry_marker,
    marker_copy,
    marker_operation_id,
    owner_copy,
    owner_range,
    row_operation_id,
    shard_of,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Times a deployment can see, to the millisecond (what ids and markers keep).
ms_times = st.integers(min_value=0, max_value=100 * 365 * 86400 * 1000).map(
    lambda ms: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
SAMPLE = datetime(2030, 6, 15, 12, 30, 45, 123000, tzinfo=UTC)
MANY = 400  # enough ids that a defect in the random bits shows on every run


def test_new_id_is_a_canonical_lower_case_guid():
    op_id = new_operation_id(SAMPLE)
    assert str(uuid.UUID(op_id)) == op_id
    assert len(op_id) == 36 and op_id == op_id.lower()


def test_new_ids_have_version_nibble_8_and_the_rfc_variant():
    for _ in range(MANY):
        op_id = new_operation_id(SAMPLE)
        parsed = uuid.UUID(op_id)
        assert op_id[14] == "8", op_id
        assert parsed.version == 8 and parsed.variant == uuid.RFC_4122


def test_created_at_round_trips_for_every_id():
    for _ in range(MANY):
        assert created_at(new_operation_id(SAMPLE)) == SAMPLE


# ids.py _ms: int(moment.timestamp() * 1000) truncates a float such as 2193528273692.9998, so about
# 1 in 170 whole-millisecond times comes out one millisecond early. BAD is one of them.
# A whole-millisecond time that float arithmetic (timestamp() * 1000) would round down.
BAD = datetime(2039, 7, 6, 1, 24, 33, 693000, tzinfo=UTC)


@settings(max_examples=300)
@given(ms_times)
@example(BAD)
def test_created_at_round_trips_to_the_millisecond(moment):
    carried = created_at(new_operation_id(moment))
    assert carried == moment and carried.tzinfo is not None


@settings(max_examples=300)
@given(ms_times)
@example(BAD)
def test_created_at_is_never_later_and_at_most_one_millisecond_earlier(moment):
    carried = created_at(new_operation_id(moment))
    assert timedelta(0) <= moment - carried <= timedelta(milliseconds=1) and carried.tzinfo is not None


@settings(max_examples=200)
@given(moments)
def test_created_at_drops_at_most_the_sub_millisecond_part(moment):
    carried = created_at(new_operation_id(moment))
    assert timedelta(0) <= moment - carried <= timedelta(milliseconds=1)


@settings(max_examples=300)
@given(ms_times, st.integers(min_value=2, max_value=10**12))
@example(BAD - timedelta(milliseconds=2), 2)
def test_an_id_created_later_sorts_earlier_as_a_string(moment, gap_ms):
    older = new_operation_id(moment)
    newer = new_operation_id(moment + timedelta(milliseconds=gap_ms))
    assert newer < older


def test_ids_one_millisecond_apart_sort_newest_first():
    for i in range(MANY):
        older = SAMPLE + timedelta(milliseconds=i)
        assert new_operation_id(older + timedelta(milliseconds=1)) < new_operation_id(older)


def test_ids_one_millisecond_apart_sort_newest_first_at_every_time():
    for _ in range(MANY):
        assert new_operation_id(BAD) < new_operation_id(BAD - timedelta(milliseconds=1))


def test_creation_before_the_epoch_is_clamped_not_an_error():
    op_id = new_operation_id(datetime(1960, 1, 1, tzinfo=UTC))
    assert uuid.UUID(op_id).version == 8
    assert created_at(op_id) == EPOCH


def test_ids_are_unique():
    assert len({new_operation_id(SAMPLE) for _ in range(5000)}) == 5000


def test_shard_is_the_last_hex_digit_of_the_id():
    for _ in range(50):
        op_id = new_operation_id(SAMPLE)
        assert shard_of(op_id) == op_id[-1] and shard_of(op_id) in SHARDS


def test_shards_are_the_16_lower_case_hex_digits():
    assert tuple("0123456789abcdef") == SHARDS


def test_1600_ids_hit_all_16_shards_roughly_evenly():
    counts = Counter(shard_of(new_operation_id(SAMPLE)) for _ in range(1600))
    assert set(counts) == set(SHARDS)
    # Expected 100 each; 40 is more than 6 standard deviations below, so this never flakes.
    assert min(counts.values()) > 40


def test_expiry_marker_names_its_operation():
    op_id = new_operation_id(SAMPLE)
    marker = expiry_marker(op_id, SAMPLE + timedelta(days=90))
    assert marker.startswith(MARKER_PREFIX)
    assert marker_operation_id(marker) == op_id


@settings(max_examples=200)
@given(ms_times, ms_times)
def test_every_marker_sorts_after_every_operation_id(created, expiry):
    op_id = new_operation_id(created)
    assert expiry_marker(op_id, expiry) > "ffffffff-ffff-8fff-bfff-ffffffffffff" >= op_id


@settings(max_examples=300)
@given(ms_times, ms_times, ms_times)
def test_markers_sort_by_expiry_whatever_the_operation(expiry_a, expiry_b, created):
    a = expiry_marker(new_operation_id(created), expiry_a)
    b = expiry_marker(new_operation_id(created), expiry_b)
    if expiry_a < expiry_b:
        assert a < b
    elif expiry_a > expiry_b:
        assert a > b


@settings(max_examples=400)
@given(ms_times, moments)
@example(BAD, BAD - timedelta(milliseconds=1))
def test_a_marker_sorts_below_expired_bound_exactly_when_it_has_expired(expiry, now):
    marker = expiry_marker(new_operation_id(SAMPLE), expiry)
    assert (marker < expired_bound(now)) == (expiry <= now)


@settings(max_examples=400)
@given(ms_times, moments)
@example(BAD, BAD - timedelta(milliseconds=1))
def test_a_marker_is_never_purged_late_nor_more_than_a_millisecond_early(expiry, now):
    expired = expiry_marker(new_operation_id(SAMPLE), expiry) < expired_bound(now)
    if expiry <= now:
        assert expired
    if expiry > now + timedelta(milliseconds=1):
        assert not expired


@settings(max_examples=200)
@given(ms_times)
def test_a_marker_has_expired_at_its_exact_time_and_not_two_milliseconds_before(expiry):
    marker = expiry_marker(new_operation_id(SAMPLE), expiry)
    assert marker < expired_bound(expiry)
    assert not marker < expired_bound(expiry - timedelta(milliseconds=2))


def test_expired_bound_sorts_after_every_operation_id():
    assert expired_bound(EPOCH) > "ffffffff-ffff-8fff-bfff-ffffffffffff"


GUID = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"


@pytest.mark.parametrize("text", [GUID, GUID.lower(), "{" + GUID + "}", "{" + GUID.lower() + "}", f"  {GUID}\n"])
def test_parse_operation_id_accepts_upper_lower_braces_and_padding_and_returns_lower_case(text):
    assert parse_operation_id(text) == GUID.lower()


@pytest.mark.parametrize("text", [
    "", " ", "not-a-guid", GUID[:-1], GUID + "0", GUID.replace("-", ""), GUID.replace("F", "G"),
    "{{" + GUID + "}}", GUID + "; drop table", "../" + GUID, GUID.replace("-", "_"), "~" + GUID,
])
def test_parse_operation_id_rejects_junk_with_invalid_request(text):
    with pytest.raises(InvalidRequest, match="not a background operation id"):
        parse_operation_id(text)


@pytest.mark.parametrize("text", ["{" + GUID, GUID + "}"])
def test_parse_operation_id_rejects_unbalanced_braces(text):
    with pytest.raises(InvalidRequest):
        parse_operation_id(text)


def test_parse_operation_id_error_message_is_bounded():
    with pytest.raises(InvalidRequest) as info:
        parse_operation_id("x" * 10_000)
    assert len(str(info.value)) < 300


@settings(max_examples=200)
@given(st.uuids())
def test_parse_operation_id_accepts_every_guid_in_any_case(value):
    text = str(value)
    assert parse_operation_id(text.upper()) == text
    assert parse_operation_id("{" + text + "}") == text


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_parse_operation_id_either_returns_a_guid_or_raises_invalid_request(text):
    try:
        result = parse_operation_id(text)
    except InvalidRequest:
        return
    assert str(uuid.UUID(result)) == result


def test_an_owned_operations_marker_names_its_copy_and_an_unowned_ones_none():
    op_id = new_operation_id(datetime(2030, 1, 1, tzinfo=UTC))
    expires = datetime(2030, 4, 1, tzinfo=UTC)
    owned, unowned = expiry_marker(op_id, expires, "alice"), expiry_marker(op_id, expires)
    assert marker_operation_id(owned) == marker_operation_id(unowned) == op_id
    assert marker_copy(owned) == owner_copy("alice", op_id) and marker_copy(unowned) is None
    assert row_operation_id(owner_copy("alice", op_id)) == row_operation_id(op_id) == op_id


def test_owner_copies_sort_between_the_rows_and_the_markers_and_an_owners_range_holds_only_its_copies():
    op_id = new_operation_id(datetime(2030, 1, 1, tzinfo=UTC))
    start, end = owner_range("alice")
    assert "f" * 36 < owner_copy("alice", op_id) < MARKER_PREFIX
    assert start < owner_copy("alice", op_id) < end
    assert not start < owner_copy("alice2", op_id) < end and not start < op_id < end
