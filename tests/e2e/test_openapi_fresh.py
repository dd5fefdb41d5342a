"""The schemathesis run of test_openapi.py with a fresh random seed (fuzzing only), in a file of its own so that
xdist runs it beside the fixed-seed run rather than after it."""

from __future__ import annotations

import random

from openapi_fuzz import FRESH_EXAMPLES, FRESH_PHASES, check_fuzzing


def test_schemathesis_with_a_fresh_seed_finds_no_disagreement_either(make_app, tmp_path):
    check_fuzzing(make_app, tmp_path, random.SystemRandom().getrandbits(32), FRESH_EXAMPLES, FRESH_PHASES)
