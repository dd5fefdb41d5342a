"""Retry delays, as pure functions (dramatiq's ``compute_backoff``)."""

from __future__ import annotations

import math
import random

# A queue message cannot stay invisible longer than seven days.
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600 - 60


def compute_backoff(attempt: int, *, base_seconds: float, max_seconds: float = MAX_VISIBILITY_SECONDS,
                    jitter: float = 0.2, rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempt + 1``: ``base × 2^(attempt-1)``, ±``jitter`` of it, capped.

    Attempt 1 failed → about ``base``; attempt 2 → ``2 × base``; attempt 3 → ``4 × base``.
    """
    delay = base_seconds * 2.0 ** min(max(attempt - 1, 0), 60)
    spread = delay * jitter * (2 * (rng or random).random() - 1)
    return max(0.0, min(delay + spread, max_seconds))


def visibility_seconds(seconds: float) -> int:
    """A delay as a queue message takes it: whole seconds, from 0 to ``MAX_VISIBILITY_SECONDS``."""
    return min(max(math.ceil(seconds), 0), MAX_VISIBILITY_SECONDS)
