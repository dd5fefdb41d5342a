"""What a work-queue message says: the operation id, and for a new operation the row itself.

A retry that could not delay its own message (see ``services.worker``) is a new message that says
how many attempts came before it: ``{"id", "attempts"}``. The message that tells an operation its
turn came in its line (``services.lines``) is ``{"id", "wake": true}``.

The message a submission sends carries the row as it was inserted, with its ETag, so that a
worker that gets it while the row is young runs the attempt without reading it first
(``domain.attempts.may_run_unrecorded``), and one that gets it later writes its start on that ETag
instead of reading the row (``may_start_from_message``): a conflict means the row changed, and it is
read. A row with a callback URL is carried too, URL and all: the message lives in the same storage
account as the row, readable by the same principals, and is deleted once its work is done (a poison
copy, by the ``poison`` function, once it has failed the operation).
Not carried: a row too large for a message; its message is the bare id, as before. Either way the
table holds the truth: every write a worker makes is conditional on the ETag it started from. A
message body is never logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.errors import InvalidRequest
from ..domain.ids import parse_operation_id
from ..domain.operation import Operation
from .table_store import TIME_COLUMNS, from_entity, to_entity

# A queue message holds 64 KiB once base64-encoded (48 KiB of text); stay well inside it.
MAX_BODY_CHARS = 40_000
# What decode reads at most: anyone who can write to the queue can put anything on it, and a message the
# worker cannot read must be dropped with a warning, never raise (again in the poison function).
MAX_DECODED_CHARS = 64 * 1024
MAX_DECODED_DEPTH = 4  # a message nests 2 deep ({"row": {...}}); a row's parameters travel as a string
# A string (to its end when it is never closed, so that the scan stays linear) or a bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')


@dataclass(frozen=True)
class WorkMessage:
    """A decoded work message: whose it is, and the row it carries (None: read the row)."""

    operation_id: str
    row: Operation | None = field(default=None, repr=False)
    attempts: int = 0  # attempts made before this message: its attempt is attempts + its dequeue count
    wake: bool = False  # its turn came in its line: start it if it may, else drop the message


MAX_ATTEMPTS_CARRIED = 1000


def encode(operation_id: str, row: Operation | None = None, attempts: int = 0, wake: bool = False) -> str:
    """The body for ``operation_id``'s message; carries ``row`` when it may (see the module doc), or the
    number of attempts made before it, or that it is a wake."""
    if wake:
        return json.dumps({"id": operation_id, "wake": True}, separators=(",", ":"))
    if attempts:
        return json.dumps({"id": operation_id, "attempts": attempts}, separators=(",", ":"))
    if row is None or row.etag is None:
        return operation_id
    entity = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in to_entity(row).items()}
    body = json.dumps({"id": operation_id, "etag": row.etag, "row": entity}, separators=(",", ":"))
    return body if len(body) <= MAX_BODY_CHARS else operation_id


def decode(body: str) -> WorkMessage:
    """The message ``body`` holds; InvalidRequest, whatever is wrong with it, if it is neither an id nor a
    carried row (too long, nested too deep, or not JSON included)."""
    if len(body) > MAX_DECODED_CHARS:
        raise InvalidRequest(f"The message is not a work message: longer than {MAX_DECODED_CHARS} characters")
    text = body.strip()
    if not text.startswith("{"):
        return WorkMessage(parse_operation_id(text))
    if json_depth(text) > MAX_DECODED_DEPTH:
        raise InvalidRequest(f"The message is not a work message: nested more than {MAX_DECODED_DEPTH} deep")
    try:
        message = json.loads(text)
        operation_id = parse_operation_id(str(message["id"]))
        if message.get("wake") is True:
            return WorkMessage(operation_id, wake=True)
        if "attempts" in message:
            attempts = message["attempts"]
            if type(attempts) is not int or not 0 <= attempts <= MAX_ATTEMPTS_CARRIED:
                raise ValueError("attempts")
            return WorkMessage(operation_id, attempts=attempts)
        return WorkMessage(operation_id, _row(message["row"], str(message["etag"])))
    except Exception as e:  # anything at all (RecursionError, OverflowError...): the message is not ours to read
        raise InvalidRequest(f"The message is not a work message: {type(e).__name__}") from None


def json_depth(text: str) -> int:
    """How deep JSON ``text`` nests objects and arrays, counted without parsing it (brackets in strings aside)."""
    deepest = depth = 0
    for token in _STRING_OR_BRACKET.findall(text):
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _row(entity: dict[str, Any], etag: str) -> Operation:
    times = {c: datetime.fromisoformat(entity[c]) for c in TIME_COLUMNS if entity.get(c)}
    return from_entity({**entity, **times}).with_changes(etag=etag)
