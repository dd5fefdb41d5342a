"""``make bench``'s section 11 (bench/callers.py) on a few submits, so that it keeps working between bench runs, and
what it states holds: a submit costs 2 storage requests without a key and 3 with one, and sent again 3, which
queue nothing."""

from __future__ import annotations

from bench.callers import measure_keyed_submits


def test_a_key_costs_a_submit_one_request_and_a_submit_sent_again_queues_nothing(azurite):
    keys = measure_keyed_submits(azurite, n=5)
    assert (keys["without_key"], keys["with_key"], keys["sent_again"]) == (2, 3, 3)
    assert keys["with_key_by_kind"] == {"table POST": 5, "queue POST": 5, "table PATCH": 5}  # batch, put, mark
    assert "queue POST" not in keys["sent_again_by_kind"]
