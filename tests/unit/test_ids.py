"""Operation ids: GUIDs that carry their row's expiry and shard (shared/domain/ids.py)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.errors import InvalidRequest
from shared.domain.ids import SHARDS, expired_bound, expires_at, new_operation_id, parse_operation_id, shard_of

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Expiries a deployment can produce: now-ish plus up to a few decades of TTL, to the millisecond.
expiries = st.integers(min_value=0, max_value=80 * 365 * 86400 * 1000).map(
    lambda ms: datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2080, 1, 1),
                       timezones=st.just(timezone.utc))
SAMPLE = datetime(2030, 6, 15, 12, 30, 45, 123000, tzinfo=timezone.utc)
MANY = 400  # enough ids that a random-bit defect shows on every run


def test_new_id_is_a_canonical_lower_case_guid():
    op_id = new_operation_id(SAMPLE)
    assert str(uuid.UUID(op_id)) == op_id
    assert len(op_id) == 36 and op_id == op_id.lower()


def test_new_ids_have_the_rfc_variant():
    for _ in range(MANY):
        assert uuid.UUID(new_operation_id(SAMPLE)).variant == uuid.RFC_4122


@pytest.mark.xfail(strict=True, reason="BUG: ids.py:44 ORs 18 random bits at bit 64, overwriting the version "
                                       "nibble (and the 2 low bits of the expiry)")
def test_new_ids_have_version_nibble_8():
    for _ in range(MANY):
        op_id = new_operation_id(SAMPLE)
        assert op_id[14] == "8", op_id
        assert uuid.UUID(op_id).version == 8


@pytest.mark.xfail(strict=True, reason="BUG: ids.py:44 random bits overwrite the 2 low bits of the expiry "
                                       "(expires_at is up to 3 ms early)")
def test_expires_at_round_trips_to_the_millisecond_for_every_id():
    for _ in range(MANY):
        assert expires_at(new_operation_id(SAMPLE)) == SAMPLE


def test_expires_at_is_within_4_ms_of_the_requested_expiry():
    # What holds today despite the bug above; tighten to == once it is fixed.
    for _ in range(MANY):
        assert timedelta(0) <= SAMPLE - expires_at(new_operation_id(SAMPLE)) < timedelta(milliseconds=4)


@settings(max_examples=200, deadline=None)
@given(expiries)
def test_expires_at_is_never_later_than_the_requested_expiry(expiry):
    carried = expires_at(new_operation_id(expiry))
    assert carried.tzinfo is not None
    assert timedelta(0) <= expiry - carried < timedelta(milliseconds=4)


@settings(max_examples=200, deadline=None)
@given(expiries, st.integers(min_value=4, max_value=10**12))
def test_an_id_expiring_later_sorts_earlier_as_a_string(expiry, gap_ms):
    sooner = new_operation_id(expiry)
    later = new_operation_id(expiry + timedelta(milliseconds=gap_ms))
    assert later < sooner


@pytest.mark.xfail(strict=True, reason="BUG: ids.py:44 random bits in the expiry's low 2 bits scramble the "
                                       "newest-first order of ids 1 ms apart")
def test_an_id_expiring_one_millisecond_later_always_sorts_earlier():
    for i in range(MANY):
        sooner = SAMPLE + timedelta(milliseconds=i)
        assert new_operation_id(sooner + timedelta(milliseconds=1)) < new_operation_id(sooner)


@settings(max_examples=300, deadline=None)
@given(expiries, moments)
def test_expired_bound_is_at_or_before_an_id_exactly_when_its_carried_expiry_has_passed(expiry, now):
    op_id = new_operation_id(expiry)
    assert (expired_bound(now) <= op_id) == (expires_at(op_id) <= now)


@settings(max_examples=200, deadline=None)
@given(expiries)
def test_expired_bound_at_the_exact_expiry_includes_the_id_and_one_ms_before_excludes_it(expiry):
    op_id = new_operation_id(expiry)
    carried = expires_at(op_id)
    assert expired_bound(carried) <= op_id
    assert not expired_bound(carried - timedelta(milliseconds=1)) <= op_id


def test_expired_bound_is_a_prefix_shaped_key():
    bound = expired_bound(SAMPLE)
    assert len(bound) == 13 and bound[8] == "-"
    int(bound.replace("-", ""), 16)


def test_expired_bound_sorts_later_for_earlier_moments():
    assert expired_bound(SAMPLE) < expired_bound(SAMPLE - timedelta(seconds=1))


def test_expiry_before_the_epoch_is_clamped_not_an_error():
    op_id = new_operation_id(datetime(1960, 1, 1, tzinfo=timezone.utc))
    uuid.UUID(op_id)
    assert expires_at(op_id) <= EPOCH + timedelta(milliseconds=3)


def test_shard_is_the_last_hex_digit_of_the_id():
    for _ in range(50):
        op_id = new_operation_id(SAMPLE)
        assert shard_of(op_id) == op_id[-1]
        assert shard_of(op_id) in SHARDS


def test_shards_are_the_16_lower_case_hex_digits():
    assert SHARDS == tuple("0123456789abcdef")


def test_1600_ids_hit_all_16_shards_roughly_evenly():
    counts = Counter(shard_of(new_operation_id(SAMPLE)) for _ in range(1600))
    assert set(counts) == set(SHARDS)
    # Expected 100 each; 40 is > 6 standard deviations below, so this never flakes.
    assert min(counts.values()) > 40


def test_ids_are_unique():
    ids = {new_operation_id(SAMPLE) for _ in range(5000)}
    assert len(ids) == 5000


GUID = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"


@pytest.mark.parametrize("text", [GUID, GUID.lower(), "{" + GUID + "}", "{" + GUID.lower() + "}", f"  {GUID}\n"])
def test_parse_operation_id_accepts_upper_lower_braces_and_padding_and_returns_lower_case(text):
    assert parse_operation_id(text) == GUID.lower()


@pytest.mark.parametrize("text", [
    "", " ", "not-a-guid", GUID[:-1], GUID + "0", GUID.replace("-", ""), GUID.replace("F", "G"),
    "{{" + GUID + "}}", GUID + "; drop table", "../" + GUID, GUID.replace("-", "_"),
])
def test_parse_operation_id_rejects_junk_with_invalid_request(text):
    with pytest.raises(InvalidRequest, match="not a background operation id"):
        parse_operation_id(text)


@pytest.mark.xfail(strict=True, reason="BUG: ids.py:27 the braces are optional independently, so '{guid' "
                                       "and 'guid}' are accepted")
@pytest.mark.parametrize("text", ["{" + GUID, GUID + "}"])
def test_parse_operation_id_rejects_unbalanced_braces(text):
    with pytest.raises(InvalidRequest):
        parse_operation_id(text)


def test_parse_operation_id_error_message_is_bounded():
    with pytest.raises(InvalidRequest) as info:
        parse_operation_id("x" * 10_000)
    assert len(str(info.value)) < 300


@settings(max_examples=200, deadline=None)
@given(st.uuids())
def test_parse_operation_id_accepts_every_guid_in_any_case(value):
    text = str(value)
    assert parse_operation_id(text.upper()) == text
    assert parse_operation_id("{" + text + "}") == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parse_operation_id_either_returns_a_guid_or_raises_invalid_request(text):
    try:
        result = parse_operation_id(text)
    except InvalidRequest:
        return
    assert str(uuid.UUID(result)) == result
