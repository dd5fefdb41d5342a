"""Each attempt of a run, kept on the row as JSON (``Operation.attempts``): when it started and ended, how
it ended, its error, and for an unexpected exception the last frames of its traceback.

Bounded: the last MAX_KEPT attempts, each at most a few KB. Never a secret: a URL's query string (a SAS
signature, a function key, a code) is masked in every text kept, so a callback URL or a handler's
connection string in an exception's message never reaches the row. Pure.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from .times import stamp

MAX_KEPT = 10
MAX_MESSAGE_CHARS = 1000
MAX_TRACEBACK_CHARS = 2000
# A URL's query string, and what connection strings carry: each value is replaced, its name kept.
_QUERY = re.compile(r"\?[^\s\"'<>]*=[^\s\"'<>]*")
_KEYED = re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|sig|code|key|password|pwd)="
                    r"[^\s;&\"'<>]+")


def masked(text: str) -> str:
    """``text`` with every query string and ``AccountKey=...``-like value masked."""
    return _KEYED.sub(lambda m: f"{m[1]}=***", _QUERY.sub("?***", text))


def with_start(history: str, attempt: int, now: datetime) -> str:
    """The history with attempt ``attempt`` started ``now``."""
    entries = [e for e in _entries(history) if e.get("attempt") != attempt]
    return _dump([*entries, {"attempt": attempt, "startedon": stamp(now)}])


def with_end(history: str, attempt: int, now: datetime, outcome: str, *, errorcode: int | None = None,
             errormessage: str | None = None, traceback: str | None = None) -> str:
    """The history with attempt ``attempt`` ended ``now`` with ``outcome`` (Succeeded, Failed, Stopped or
    Lost); an attempt never recorded as started is added with no start."""
    entries = _entries(history)
    entry = next((e for e in entries if e.get("attempt") == attempt), None)
    if entry is None:
        entry = {"attempt": attempt, "startedon": None}
        entries.append(entry)
    entry |= {"completedon": stamp(now), "outcome": outcome, "errorcode": errorcode,
              "errormessage": None if errormessage is None else masked(errormessage)[:MAX_MESSAGE_CHARS]}
    if traceback:
        entry["traceback"] = masked(traceback)[-MAX_TRACEBACK_CHARS:]  # the last frames are the telling ones
    return _dump(entries)


def starts(history: str) -> list[str]:
    """When each attempt kept started, in order."""
    return [e["startedon"] for e in _entries(history) if e.get("startedon")]


def _entries(history: str) -> list[dict[str, Any]]:
    try:
        entries = json.loads(history) if history else []
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _dump(entries: list[dict[str, Any]]) -> str:
    return json.dumps(entries[-MAX_KEPT:], separators=(",", ":"))
