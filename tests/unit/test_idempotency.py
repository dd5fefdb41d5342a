"""Idempotency keys (shared/domain/idempotency.py, shared/services/idempotency.py), on the in-memory stores and a
fake clock: a submit sent again with its key is the operation the key first made, never a second one; a
different request with the key is refused; a key whose first request died before queuing its operation is
taken over and the operation runs, once."""

from __future__ import annotations

import dataclasses
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from helpers import delivery
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidRequest
from shared.domain.idempotency import (
    ADOPT_AFTER,
    SYNTAX,
    fingerprint,
    key_hash,
    parse_key,
    shard_of_key,
    still_in_use,
)
from shared.domain.ids import new_operation_id
from shared.domain.states import Status
from shared.operations.registry import OperationDefinition
from shared.services.submission import Submission, prepare, submit
from shared.services.worker import process_message
from shared.storage.ports import ListQuery
from shared.storage.work_messages import decode

BASE_URL = "http://127.0.0.1:7071"
START_OF_TESTS = datetime(2030, 1, 2, tzinfo=UTC)


# --- the header -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header, key", [
    (None, None),
    ("order-1", "order-1"),
    ("  8e03978e-40d5-43e8-bc93-6894a57f9324 ", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
    ('"8e03978e"', "8e03978e"),  # the draft's form: a Structured Field string
    ('"a,b; c"', "a,b; c"),
    ('","', ","),
    ('"say \\"hi\\" \\\\ bye"', 'say "hi" \\ bye'),
    ("x" * 255, "x" * 255),
    ("with space ~!", "with space ~!"),
])
def test_a_key_is_read_bare_or_quoted(header, key):
    assert parse_key(header) == key


@pytest.mark.parametrize("header, says", [
    ("", "is empty"),
    ("   ", "is empty"),
    ('""', "is empty"),
    ("x" * 256, "256 characters long: send at most 255"),
    ("café", "printable ASCII"),
    ("tab\there", "printable ASCII"),
    ("a, b", "more than one"),  # sent twice: the host joins the two values with a comma
    ('"a", "b"', "more than one"),
    ('"a" trailing', "cannot be read"),
    ('"never closed', "cannot be read"),
    ('"a\\zb"', "cannot be read"),  # RFC 8941 escapes only a quote and a backslash
])
def test_a_key_that_cannot_be_used_is_refused_naming_what_to_fix(header, says):
    with pytest.raises(InvalidRequest, match=says):
        parse_key(header)


@settings(max_examples=1000)  # it found '","' once in a few hundred: a comma inside quotes read as two keys
@given(st.text(alphabet=st.sampled_from(list(' \t",\\abz~!#-é\x7f')), max_size=12)
       | st.from_regex(SYNTAX, fullmatch=True))
def test_the_header_is_taken_exactly_when_the_published_syntax_allows_it(header):
    allowed = re.fullmatch(SYNTAX, header) is not None
    try:
        parse_key(header)
        taken = True
    except InvalidRequest:
        taken = False
    assert taken == allowed


def test_a_key_is_its_callers_and_its_operation_lives_in_its_partition():
    assert key_hash("", "k") == key_hash("", "k") != key_hash("alice", "k") != key_hash("bob", "k")
    hashed = key_hash("alice", "k")
    for _ in range(50):
        assert new_operation_id(START_OF_TESTS, shard_of_key(hashed))[-1] == hashed[-1]


def test_the_fingerprint_is_canonical_and_tells_requests_apart():
    one = fingerprint({"name": "a", "inputs": {"X": 1, "Y": [1, 2]}, "when": START_OF_TESTS})
    assert one == fingerprint({"when": START_OF_TESTS, "inputs": {"Y": [1, 2], "X": 1}, "name": "a"})
    assert one != fingerprint({"name": "a", "inputs": {"X": 2, "Y": [1, 2]}, "when": START_OF_TESTS})
    assert one != fingerprint({"name": "a", "inputs": {"X": 1, "Y": [1, 2]}, "when": None})


def test_a_key_is_in_use_until_its_first_request_has_had_time_to_queue_its_operation():
    busy = still_in_use("k", START_OF_TESTS, START_OF_TESTS + timedelta(seconds=4.2))
    assert busy is not None and busy.retry_after == 11 and "'k' is still being processed" in str(busy)
    assert still_in_use("k", START_OF_TESTS, START_OF_TESTS + ADOPT_AFTER) is None


# --- submitting with a key --------------------------------------------------------------------------


@pytest.fixture
def svc(make_svc):
    services = make_svc()
    calls: list[dict] = []
    services.registry.register(OperationDefinition(name="test_Count", handler=lambda i, c: calls.append(i) or {}))
    services.calls = calls  # type: ignore[attr-defined]
    return services


def keyed(svc, key: str | None = "order-1", *, name: str = "sample_Echo", inputs: dict | None = None, **options):
    return submit(svc, Submission(name=name, inputs={"Text": "hi"} if inputs is None else inputs, base_url=BASE_URL,
                                  idempotency_key=key, **options))


def _run_all(svc, host) -> int:
    """Run every visible message as the worker function would, as the host deletes each after; how many."""
    ran = 0
    while (message := host.try_receive()) is not None:
        process_message(svc, delivery(message))
        host.delete(message)
        ran += 1
    return ran


def test_the_same_request_sent_again_with_its_key_is_the_first_operation_and_queues_nothing(svc, host):
    first = keyed(svc)
    assert svc.store.find_key(first.idempotencykey).accepted
    again = keyed(svc)
    assert again.id == first.id and again.idempotencykey == key_hash("", "order-1")
    assert host.count() == 1  # one message: the first request's
    _run_all(svc, host)
    svc.clock.pass_(3600)
    after_it_ended = keyed(svc)
    assert (after_it_ended.id, after_it_ended.status) == (first.id, Status.SUCCEEDED)
    assert len(svc.store.list(_everything()).operations) == 1


def test_a_different_request_with_the_key_is_refused_naming_the_key_and_writes_nothing(svc, host):
    first = keyed(svc)
    for change in ({"inputs": {"Text": "other"}}, {"name": "test_Count", "inputs": {}},
                   {"callback_url": "https://example.com/cb"}, {"ttl_seconds": 60},
                   {"postpone_until": svc.clock() + timedelta(hours=1)}):
        with pytest.raises(IdempotencyKeyReused, match=f"'order-1' was first sent with a different request "
                                                       f"\\(operation {first.id}\\)"):
            keyed(svc, **change)
    assert host.count() == 1 and len(svc.store.list(_everything()).operations) == 1


def test_two_callers_sending_the_same_key_make_two_operations(svc, host):
    mine, theirs = keyed(svc, runas="alice"), keyed(svc, runas="bob")
    assert mine.id != theirs.id and keyed(svc, runas="alice").id == mine.id
    assert host.count() == 2


def test_a_submit_without_a_key_writes_no_key(svc):
    op = keyed(svc, None)
    assert op.idempotencykey == op.requestfingerprint == ""


def _left_behind(svc, key: str = "order-1"):
    """The row a request inserted with its key before it died, its message never queued."""
    row = prepare(svc, Submission(name="test_Count", inputs={}, base_url=BASE_URL, idempotency_key=key)).row
    return svc.store.create(row)


def test_a_key_whose_first_request_is_still_queuing_it_is_in_use_with_a_retry_after(svc, host):
    row = _left_behind(svc)
    svc.clock.pass_(5)
    with pytest.raises(IdempotencyKeyInUse) as busy:
        keyed(svc, name="test_Count", inputs={})
    assert busy.value.retry_after == 10 and host.count() == 0
    assert not svc.store.find_key(row.idempotencykey).accepted


def test_a_key_left_behind_by_a_request_that_died_is_taken_over_and_its_operation_runs_once(svc, host):
    row = _left_behind(svc)
    svc.clock.pass_(ADOPT_AFTER.total_seconds())
    taken_over = keyed(svc, name="test_Count", inputs={})
    assert taken_over.id == row.id and svc.store.find_key(row.idempotencykey).accepted
    assert keyed(svc, name="test_Count", inputs={}).id == row.id  # accepted now: answered at once
    assert _run_all(svc, host) == 1
    assert svc.store.get(row.id).status is Status.SUCCEEDED and len(svc.calls) == 1


def test_an_operation_whose_key_was_not_marked_runs_once_though_a_retry_takes_it_over(svc, host):
    first = keyed(svc, name="test_Count", inputs={})
    svc.store._keys[first.idempotencykey] = dataclasses.replace(  # as if the mark's write had failed
        svc.store.find_key(first.idempotencykey), accepted=False)
    svc.clock.pass_(ADOPT_AFTER.total_seconds())
    assert keyed(svc, name="test_Count", inputs={}).id == first.id
    assert host.count() == 2  # the first request's message, and the bare one of the take-over
    assert _run_all(svc, host) == 2
    assert svc.store.get(first.id).status is Status.SUCCEEDED and len(svc.calls) == 1


def test_a_take_over_of_a_postponed_operation_is_visible_when_it_was_to_start(svc, host):
    until = svc.clock() + timedelta(hours=2)
    row = prepare(svc, Submission(name="test_Count", inputs={}, base_url=BASE_URL, idempotency_key="later",
                                  postpone_until=until)).row
    svc.store.create(row)
    svc.clock.pass_(60)
    assert keyed(svc, "later", name="test_Count", inputs={}, postpone_until=until).id == row.id
    assert host.try_receive() is None
    svc.clock.pass_(2 * 3600 - 60)
    [message] = [host.try_receive()]
    assert message is not None and decode(message.content).operation_id == row.id


def test_a_withdrawn_row_takes_its_key_with_it_but_a_taken_over_one_stays(svc):
    withdrawn = _left_behind(svc, "gone")
    svc.store.delete(withdrawn)
    assert svc.store.find_key(withdrawn.idempotencykey) is None
    assert keyed(svc, "gone", name="test_Count", inputs={}).id != withdrawn.id  # the key is free again
    kept = _left_behind(svc, "kept")
    svc.clock.pass_(ADOPT_AFTER.total_seconds())
    keyed(svc, "kept", name="test_Count", inputs={})
    svc.store.delete(kept)  # the first request, alive after all, gives up: the row is its operation now
    assert svc.store.get(kept.id).id == kept.id


def test_concurrent_submits_with_one_key_make_one_operation(svc, host):
    answers: list[object] = []
    start = threading.Barrier(20)

    def send() -> None:
        start.wait()
        try:
            answers.append(keyed(svc, "burst").id)
        except IdempotencyKeyInUse as busy:
            answers.append(busy)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    made = {answer for answer in answers if isinstance(answer, str)}
    assert len(answers) == 20 and len(made) == 1
    assert all(isinstance(a, str) or a.retry_after >= 1 for a in answers)
    assert len(svc.store.list(_everything()).operations) == 1 and host.count() == 1


def _everything() -> ListQuery:
    return ListQuery(top=1000)


# --- ExecuteMultiple's entries -------------------------------------------------------------------------


def _many(svc, texts: list[str], key: str = "batch-1", *, continue_on_error: bool = True):
    from shared.services.multiple import submit_many

    requests = [Submission(name="sample_Echo", inputs={"Text": text}, base_url=BASE_URL,
                           idempotency_key=f"{key}#{i}") for i, text in enumerate(texts)]
    return submit_many(svc, requests, continue_on_error=continue_on_error)


def test_an_execute_multiple_sent_again_with_its_key_answers_the_operations_it_made(svc, host):
    first = _many(svc, ["a", "b", "c"])
    assert all(r.row is not None for r in first) and host.count() == 3
    assert all(svc.store.find_key(r.row.idempotencykey).accepted for r in first)
    again = _many(svc, ["a", "b", "c"])
    assert [r.row.id for r in again] == [r.row.id for r in first] and host.count() == 3
    changed = _many(svc, ["a", "other", "c", "d"])
    assert [r.row.id for r in changed[:3:2]] == [first[0].row.id, first[2].row.id]
    assert isinstance(changed[1].fault, IdempotencyKeyReused) and "'batch-1#1'" in str(changed[1].fault)
    assert changed[3].row is not None and changed[3].row.id not in {r.row.id for r in first}
    assert host.count() == 4 and len(svc.store.list(_everything()).operations) == 4
