"""The row's history of attempts (domain.history): bounded, and never holding a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.domain.history import MAX_KEPT, MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS, masked, starts, with_end, with_start
from shared.services.handlers import last_frames

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
SAS = "https://erp.example.com/hook?sv=2024-01-01&sig=SECRET-SIGNATURE%3D&se=2030"


def test_query_strings_and_keys_are_masked_and_plain_text_is_not():
    assert masked(f"POST {SAS} failed") == "POST https://erp.example.com/hook?*** failed"
    assert masked("Max retries exceeded with url: /hook?code=abc123 (Caused by ...)") == \
        "Max retries exceeded with url: /hook?*** (Caused by ...)"
    assert masked("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0==;EndpointSuffix=x") == \
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=***;EndpointSuffix=x"
    assert masked("Is it ready? No: 3 = 4.") == "Is it ready? No: 3 = 4."


def test_a_huge_traceback_or_message_with_a_sas_url_is_kept_masked_and_cut_to_its_last_part():
    traceback = "".join(f'  File "handler.py", line {n}, in step\n    call("{SAS}")\n' for n in range(20_000))
    assert len(traceback) > 1_000_000
    history = with_end(with_start("", 1, NOW), 1, NOW + timedelta(seconds=1), "Failed", errorcode=-1,
                       errormessage=f"ConnectionError: {SAS} " + "x" * 10_000, traceback=traceback)
    [entry] = json.loads(history)
    assert "SECRET" not in history and "sig=" not in history
    assert len(entry["errormessage"]) == MAX_MESSAGE_CHARS and len(entry["traceback"]) == MAX_TRACEBACK_CHARS
    assert entry["traceback"].endswith("line 19999, in step\n    call(\"https://erp.example.com/hook?***\")\n")
    assert len(history) < 4 * 1024  # a few KB per attempt


def test_only_the_last_attempts_are_kept_and_an_end_without_a_recorded_start_is_kept_too():
    history = ""
    for attempt in range(1, MAX_KEPT + 4):
        history = with_end(with_start(history, attempt, NOW), attempt, NOW, "Failed")
    assert [e["attempt"] for e in json.loads(history)] == list(range(4, MAX_KEPT + 4))
    unrecorded = json.loads(with_end("", 1, NOW, "Succeeded"))
    assert unrecorded == [{"attempt": 1, "startedon": None, "completedon": "2030-01-02T03:04:05Z",
                           "outcome": "Succeeded", "errorcode": None, "errormessage": None}]
    assert starts(with_start(with_start("", 1, NOW), 2, NOW)) == ["2030-01-02T03:04:05Z"] * 2
    assert starts("not json") == [] and starts('{"a": 1}') == []


def test_the_traceback_kept_is_the_last_frames_where_the_handler_broke():
    def inner():
        raise KeyError("Recalculated")

    def outer():
        inner()

    try:
        outer()
    except KeyError as e:
        frames = last_frames(e, frames=2)
    assert frames.count('File "') == 2 and "in inner" in frames and frames.endswith("KeyError: 'Recalculated'\n")
