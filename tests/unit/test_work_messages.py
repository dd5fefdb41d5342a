"""What a work-queue message carries (shared/storage/work_messages.py)."""

from __future__ import annotations

import json

import pytest

from shared.domain.errors import InvalidRequest
from shared.storage.work_messages import MAX_BODY_CHARS, decode, encode

ETAG = 'W/"datetime\'2030-01-02T03%3A04%3A05.0000000Z\'"'


def test_a_new_row_travels_whole_with_its_etag(make_op):
    row = make_op(inputs={"Text": "héllo", "N": [1, 2.5, None]}, runas="someone", etag=ETAG)
    message = decode(encode(row.id, row))
    assert message.operation_id == row.id
    assert message.row == row and message.row.etag == ETAG and message.row.createdon == row.createdon


@pytest.mark.parametrize("why", ["callback", "no etag", "too large", "no row"])
def test_otherwise_the_message_is_the_bare_id(make_op, why):
    row = make_op(etag=ETAG)
    if why == "callback":
        row = row.with_changes(callbackurl="https://example.com/cb?sig=SECRET")
    elif why == "no etag":
        row = row.with_changes(etag=None)
    elif why == "too large":
        row = row.with_changes(inputs={"Text": "x" * MAX_BODY_CHARS})
    body = encode(row.id, None if why == "no row" else row)
    assert body == row.id and "SECRET" not in body
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
