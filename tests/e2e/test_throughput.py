"""GET throughput over HTTP: the route is wired, answers the page's shape, and refuses what it cannot chart."""

from __future__ import annotations

import pytest


def test_throughput_answers_each_interval_oldest_first_and_the_totals(quiet_app):
    body = quiet_app.http.get(quiet_app.url("throughput"), params={"window": "day"}, timeout=30).json()
    assert (body["window"], body["intervalSeconds"], len(body["intervals"])) == ("day", 1800, 48)
    starts = [i["start"] for i in body["intervals"]]
    assert starts == sorted(starts) and body["from"] == starts[0]
    assert set(body["totals"]) == {"succeeded", "failed", "canceled"}


@pytest.mark.parametrize(("params", "says"), [({"window": "year"}, "at most a day"), ({"name": "no such"}, "name"),
                                              ({"since": "2020-01-01"}, "Unknown option")])
def test_what_cannot_be_charted_is_a_clear_400(quiet_app, params, says):
    answer = quiet_app.http.get(quiet_app.url("throughput"), params=params, timeout=30)
    assert answer.status_code == 400 and says in answer.json()["error"]["message"], answer.text
