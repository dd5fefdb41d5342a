"""What a work-queue message carries (shared/storage/work_messages.py)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from shared.domain.errors import InvalidRequest
from shared.services.worker import QueueDelivery, fail_poisoned, process_message
from shared.storage.table_store import to_entity
from shared.storage.work_messages import MAX_BODY_CHARS, MAX_DECODED_CHARS, MAX_DECODED_DEPTH, decode, encode

ETAG = 'W/"datetime\'2030-01-02T03%3A04%3A05.0000000Z\'"'


def test_a_new_row_travels_whole_with_its_etag(make_op):
    row = make_op(inputs={"Text": "héllo", "N": [1, 2.5, None]}, runas="someone", etag=ETAG)
    message = decode(encode(row.id, row))
    assert message.operation_id == row.id
    assert message.row == row and message.row.etag == ETAG and message.row.createdon == row.createdon


def test_a_row_with_a_callback_travels_with_its_url(make_op):
    row = make_op(etag=ETAG, callbackurl="https://example.com/cb?sig=SECRET")
    message = decode(encode(row.id, row))
    assert message.row == row and message.row.callbackurl == row.callbackurl


@pytest.mark.parametrize("why", ["no etag", "too large", "no row"])
def test_otherwise_the_message_is_the_bare_id(make_op, why):
    row = make_op(etag=ETAG)
    if why == "no etag":
        row = row.with_changes(etag=None)
    elif why == "too large":
        row = row.with_changes(inputs={"Text": "x" * MAX_BODY_CHARS})
    body = encode(row.id, None if why == "no row" else row)
    assert body == row.id
    assert decode(body).operation_id == row.id and decode(body).row is None


@pytest.mark.parametrize("body", ["", "not-an-id", "{", "{}", '{"id": "x", "etag": "e", "row": {}}',
                                  json.dumps({"id": "fe5df0f0-f033-8d78-ab83-97916a301059", "row": {}}), "[1]"])
def test_anything_else_is_refused(body):
    with pytest.raises(InvalidRequest):
        decode(body)


def test_a_retry_sent_as_a_new_message_says_how_many_attempts_came_before(make_op):
    op = make_op()
    body = encode(op.id, op.with_changes(etag='W/"1"'), attempts=3)  # a retry never carries the row
    assert json.loads(body) == {"id": op.id, "attempts": 3}
    decoded = decode(body)
    assert (decoded.operation_id, decoded.attempts, decoded.row) == (op.id, 3, None)
    assert decode(op.id).attempts == 0


@pytest.mark.parametrize("attempts", [-1, True, 1.5, "2", 10**6])
def test_a_message_with_an_impossible_attempt_count_is_refused(make_op, attempts):
    with pytest.raises(InvalidRequest):
        decode(json.dumps({"id": make_op().id, "attempts": attempts}))


def _carried(op, **changes) -> str:
    """The body ``encode`` would send for ``op``, however large (encode itself stops at MAX_BODY_CHARS)."""
    row = op.with_changes(etag=ETAG, **changes)
    entity = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in to_entity(row).items()}
    return json.dumps({"id": row.id, "etag": ETAG, "row": entity})


def test_a_carried_row_at_the_encoders_limit_is_read(make_op):
    body = _carried(make_op(), inputs={"Text": "x" * (MAX_BODY_CHARS - 1000)})
    assert len(body) <= MAX_BODY_CHARS and decode(body).row is not None


def test_a_message_longer_than_the_limit_is_refused_even_when_well_formed(make_op):
    body = _carried(make_op(), inputs={"Text": "x" * MAX_DECODED_CHARS})
    with pytest.raises(InvalidRequest, match=f"longer than {MAX_DECODED_CHARS}"):
        decode(body)


@pytest.mark.parametrize("depth", [MAX_DECODED_DEPTH + 1, 1_000, 30_000])
def test_a_message_nested_deeper_than_the_limit_is_refused_without_parsing(make_op, depth):
    body = '{"id": "' + make_op().id + '", "row": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    with pytest.raises(InvalidRequest, match=f"nested more than {MAX_DECODED_DEPTH}"):
        decode(body)


def test_brackets_inside_strings_do_not_count_as_nesting(make_op):
    body = _carried(make_op(), inputs={"Text": "[[[[[[{{{{{{\"]]"})
    assert decode(body).row.inputs == {"Text": "[[[[[[{{{{{{\"]]"}


@pytest.mark.parametrize("body", ["[" * 100_000, "{" * 100_000, '{"id": ' + "[" * 60_000, '{"id": "' + '\\"' * 30_000,
                                  "x" * 10_000_000, '{"id": "' + "é" * 70_000 + '"}'])
def test_whatever_is_wrong_with_a_message_is_invalid_request_never_another_error(body):
    with pytest.raises(InvalidRequest):
        decode(body)


@pytest.mark.parametrize("shape", ["deep", "deep row", "huge"])
def test_the_worker_and_the_poison_function_drop_a_deep_or_huge_message_with_a_warning(caplog, make_op, memory_svc,
                                                                                      shape):
    svc = memory_svc
    op = svc.store.create(make_op())
    body = {"deep": "[" * 100_000 + "]" * 100_000,
            "deep row": '{"id": "' + op.id + '", "row": ' + "[" * 30_000 + "]" * 30_000 + "}",
            "huge": _carried(op, inputs={"Text": "x" * 10_000_000})}[shape]

    process_message(svc, QueueDelivery(id="m1", pop_receipt="p1", dequeue_count=1, body=body))
    fail_poisoned(svc, body)

    assert svc.store.get(op.id) == op  # neither ran it nor failed it
    assert svc.queue.receive() is None and svc.queue.receive(events=True) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["Dropped a queue message that is not an operation id.",
                        "Dropped a poison message that is not an operation id."]
