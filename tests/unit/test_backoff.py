"""Retry delays (shared/domain/backoff.py): base × 2^(n-1), ±jitter, capped at the 7-day visibility limit."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.backoff import MAX_VISIBILITY_SECONDS, compute_backoff

SEVEN_DAYS = 7 * 24 * 3600


class FixedRandom(random.Random):
    """A Random whose random() always returns ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize("attempt, expected", [(1, 30), (2, 60), (3, 120), (4, 240), (10, 30 * 512)])
def test_without_jitter_the_delay_is_base_times_two_to_the_attempt_minus_one(attempt, expected):
    assert compute_backoff(attempt, base_seconds=30, jitter=0) == expected


def test_jitter_reaches_its_bounds_exactly():
    assert compute_backoff(1, base_seconds=100, jitter=0.2, rng=FixedRandom(0.0)) == pytest.approx(80)
    assert compute_backoff(1, base_seconds=100, jitter=0.2, rng=FixedRandom(0.5)) == pytest.approx(100)
    assert compute_backoff(1, base_seconds=100, jitter=0.2, rng=FixedRandom(0.999999)) == pytest.approx(120, rel=1e-5)


def test_jitter_actually_varies_the_delay():
    rng = random.Random(1234)
    delays = {compute_backoff(3, base_seconds=30, rng=rng) for _ in range(50)}
    assert len(delays) > 40


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0, max_value=3600),
       st.floats(min_value=0, max_value=1), st.integers(min_value=0, max_value=2**32))
def test_delay_is_within_jitter_of_base_times_two_to_the_n_minus_one_and_capped(attempt, base, jitter, seed):
    delay = compute_backoff(attempt, base_seconds=base, jitter=jitter, rng=random.Random(seed))
    nominal = base * 2 ** (attempt - 1)
    assert 0 <= delay <= MAX_VISIBILITY_SECONDS
    low, high = nominal * (1 - jitter), nominal * (1 + jitter)
    assert min(low, MAX_VISIBILITY_SECONDS) - 1e-6 <= delay <= min(high, MAX_VISIBILITY_SECONDS) + 1e-6


def test_cap_is_below_the_queues_seven_day_visibility_limit():
    assert 0 < MAX_VISIBILITY_SECONDS <= SEVEN_DAYS
    assert compute_backoff(30, base_seconds=30) == MAX_VISIBILITY_SECONDS


def test_explicit_max_seconds_caps_the_delay():
    assert compute_backoff(5, base_seconds=30, max_seconds=100, jitter=0) == 100


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-5, max_value=60), st.floats(min_value=-1000, max_value=10**6),
       st.floats(min_value=0, max_value=5), st.integers(min_value=0, max_value=2**32))
def test_delay_is_never_negative_even_for_odd_inputs(attempt, base, jitter, seed):
    assert compute_backoff(attempt, base_seconds=base, jitter=jitter, rng=random.Random(seed)) >= 0


def test_attempt_zero_or_below_is_treated_as_the_first_attempt():
    assert compute_backoff(0, base_seconds=30, jitter=0) == 30
    assert compute_backoff(-3, base_seconds=30, jitter=0) == 30


def test_a_huge_attempt_number_is_capped_not_an_overflow():
    assert compute_backoff(2000, base_seconds=30) == MAX_VISIBILITY_SECONDS
