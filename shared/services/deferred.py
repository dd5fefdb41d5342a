"""The writes kept for later when storage fails between two that belong together (``services.later``).

* **withdraw**: the row of a submission that was not accepted. No message was ever sent for it (a
  submission whose message may have been queued is accepted: ``submission.send``), so it can never run;
  it is deleted so that it does not stay behind as a Ready row nobody was told about. Left undone (the
  instance is gone for good), it stays Ready and never runs.
* **send**: the first message of an accepted operation, when every try to queue it failed and one of
  them may have queued it all the same. Bare (the row is read, and recorded before it runs), and visible
  only once a worker running the first one would have recorded it, so that it never runs twice.
* **callback**: the outcome of a callback that was POSTed, so that a message that comes back does not
  POST it again. Left undone, the callback may be sent a second time, with the same ``webhook-id``.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime
from pathlib import Path

from ..domain.errors import OperationNotFound
from ..domain.operation import CallbackState, Operation
from ..domain.states import Status
from ..settings import Settings
from .container import Services
from .later import Deferred
from .rows import update_row

WITHDRAW, SEND, CALLBACK = "withdraw", "send", "callback"


def folder_of(settings: Settings) -> Path:
    """This app's folder of deferred writes: one per storage account and table, under the temp folder."""
    storage = settings.storage
    identity = "|".join(str(part) for part in (storage.connection_string, storage.account_name,
                                               storage.table_service_uri, settings.table_name))
    return Path(tempfile.gettempdir()) / "bgops-later" / hashlib.sha256(identity.encode()).hexdigest()[:20]


def withdraw(svc: Services, op: Operation) -> None:
    """Delete, once storage answers, the row of a submission that was not accepted."""
    svc.later.add(WITHDRAW, op.id)


def send(svc: Services, op: Operation, visible_at: datetime) -> None:
    """Queue, once storage answers, a bare first message for an accepted operation, visible at ``visible_at``."""
    svc.later.add(SEND, op.id, visible_at=visible_at.isoformat())


def record_callback(svc: Services, op: Operation, state: CallbackState, result: str) -> None:
    """Record, once storage answers, how a callback that was POSTed ended."""
    svc.later.add(CALLBACK, op.id, state=state.value, result=result)


def carry_out(svc: Services, item: Deferred) -> None:
    """Make the write ``item`` stands for; StorageUnavailable while storage fails."""
    try:
        row = svc.store.get(item.operation_id)
    except OperationNotFound:
        return  # gone already (withdrawn, or purged): nothing left to do
    if item.kind == WITHDRAW:
        if row.status is Status.WAITING_FOR_RESOURCES and row.starttime is None and not row.messageid:
            svc.store.delete(row)
    elif item.kind == SEND:
        if row.is_terminal or row.messageid or row.starttime:
            return  # the first message did land, and ran it
        delay = (datetime.fromisoformat(item.details["visible_at"]) - svc.clock()).total_seconds()
        svc.queue.enqueue(row.id, delay_seconds=max(0.0, delay))
    elif item.kind == CALLBACK:
        state, result = CallbackState(item.details["state"]), str(item.details["result"])
        update_row(svc, row, lambda stored: stored.with_changes(callbackstate=state, callbackresult=result))
    else:
        raise ValueError(f"unknown kind {item.kind!r}")
