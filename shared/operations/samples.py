"""The four sample operations of SPEC §5, seed 000's sample_IsSystemAdmin (a function bound to systemuser) and
sample_Repeat (an unbound function), registered when BGOPS_ENABLE_SAMPLES is true."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from ..api import metadata, systemjobs, views
from ..domain.error_codes import HANDLER_FAILED
from ..domain.errors import InvalidRequest, NonRetryableError, OperationError
from ..domain.operation import Operation
from ..domain.times import parse_time
from ..storage.ports import Comparison
from .context import OperationContext
from .registry import TARGET, Kind, OperationRegistry, Parameter, ParamType

SLEEP_STEP_SECONDS = 0.2
DEFAULT_ERROR_CODE = HANDLER_FAILED

# What the sync sample may send: the API's entity sets, each row shown by the function the API shows it with
# (its default columns: never the callback URL, nor anything the list leaves out).
ENTITY_SETS: dict[str, Callable[[Operation], dict[str, Any]]] = {
    metadata.ENTITY_SET: views.entity, systemjobs.ENTITY_SET: systemjobs.entity}

# Registered with the same decorator your operations use; the app adds them when BGOPS_ENABLE_SAMPLES is true.
SAMPLES = OperationRegistry()


def register_samples(registry: OperationRegistry) -> None:
    """Add the samples to ``registry``."""
    for definition in SAMPLES:
        registry.register(definition)


@SAMPLES.operation("sample_Echo", display_name="Echo", open_inputs=True,
                   description="Returns its inputs as its outputs.")
def echo(inputs: dict[str, Any], context: OperationContext) -> dict[str, Any]:
    """Outputs are the inputs."""
    return dict(inputs)


@SAMPLES.operation("sample_Sleep", display_name="Sleep",
                   description="Sleeps, reporting progress; stops early when cancelled or paused.",
                   inputs=[Parameter("Seconds", ParamType.NUMBER, required=True,
                                     description="How long to sleep, in seconds.")],
                   outputs=[Parameter("SleptSeconds", ParamType.NUMBER,
                                      description="The seconds it was asked to sleep.")])
def sleep(inputs: dict[str, Any], context: OperationContext) -> dict[str, Any]:
    """Sleep ``Seconds`` in small steps, reporting progress; stop early on cancel or pause."""
    total = float(inputs["Seconds"])
    deadline = time.monotonic() + total
    while (left := deadline - time.monotonic()) > 0:
        context.raise_if_interrupted()
        context.report_progress(100 * (total - left) / total if total else 100, f"{left:.1f} s left")
        time.sleep(min(SLEEP_STEP_SECONDS, left))
    return {"SleptSeconds": inputs["Seconds"]}


@SAMPLES.operation("sample_Fail", display_name="Fail",
                   description="Fails its first attempts on purpose, then succeeds (or fails for good).",
                   inputs=[Parameter("FailTimes", ParamType.INT, description="How many attempts fail."),
                           Parameter("NonRetryable", ParamType.BOOL,
                                     description="Fail once, for good, with no retry."),
                           Parameter("ErrorCode", ParamType.INT, description="The error code to fail with.")],
                   outputs=[Parameter("Attempts", ParamType.INT,
                                      description="The attempt that succeeded.")])
def fail(inputs: dict[str, Any], context: OperationContext) -> dict[str, Any]:
    """Fail while attempt <= FailTimes (or once for good with NonRetryable), then succeed."""
    code = inputs.get("ErrorCode") or DEFAULT_ERROR_CODE
    if inputs.get("NonRetryable"):
        raise NonRetryableError("sample_Fail was asked to fail for good.", code=code)
    if context.attempt <= (inputs.get("FailTimes") or 0):
        raise OperationError(f"sample_Fail fails attempt {context.attempt} on purpose.", code=code)
    return {"Attempts": context.attempt}


@SAMPLES.operation("sample_Repeat", display_name="Repeat", kind=Kind.FUNCTION,
                   description="Repeats a text: a function, called with GET and its parameters in the URL, as "
                               "sample_Repeat(Text=@t,Times=3)?@t='ab'.",
                   inputs=[Parameter("Text", ParamType.STRING, description="The text (empty unless given)."),
                           Parameter("Times", ParamType.INT, description="How many times (0 to 100, 2 unless given).")],
                   outputs=[Parameter("Result", ParamType.STRING, description="The text, Times times.")])
def repeat(inputs: dict[str, Any], context: OperationContext) -> dict[str, Any]:
    """Text, Times times."""
    times = 2 if inputs.get("Times") is None else inputs["Times"]
    if not 0 <= times <= 100:
        raise NonRetryableError(f"Times must be from 0 to 100, not {times}.")
    return {"Result": (inputs.get("Text") or "") * times}


@SAMPLES.operation("sample_IsSystemAdmin", display_name="Is system administrator", kind=Kind.FUNCTION,
                   bound_to="systemuser",
                   description="Whether a user is a system administrator: the function bound to systemuser that "
                               "seed 000 calls. This app has no users or security roles: it answers true for the "
                               "caller's own principal (as App Service Authentication names it), false otherwise.",
                   outputs=[Parameter("IsSystemAdmin", ParamType.BOOL,
                                      description="Whether the user is a system administrator.")])
def is_system_admin(inputs: dict[str, Any], context: OperationContext) -> dict[str, Any]:
    """True when the Target user is the caller itself, signed in; false otherwise."""
    user = str(inputs[TARGET]["Id"]).lower()
    return {"IsSystemAdmin": bool(context.runas) and user == context.runas.lower()}


@SAMPLES.operation("sample_SyncRecordsToExternalSystem", display_name="Sync records to an external system",
                   description="POSTs the operations its caller could list through the API, as an entity set "
                               "shows them, changed since a date or all, to a URL in batches.",
                   inputs=[Parameter("EntityName", ParamType.STRING, required=True,
                                     description="The API's entity set whose rows are sent: "
                                                 f"{' or '.join(ENTITY_SETS)}."),
                           Parameter("SyncMode", ParamType.STRING, description="Full (default) or Incremental."),
                           Parameter("ExternalSystemUrl", ParamType.STRING, required=True,
                                     description="Where each batch is POSTed as JSON."),
                           Parameter("LastSyncDate", ParamType.DATETIME,
                                     description="Incremental: send rows changed at or after this time."),
                           Parameter("BatchSize", ParamType.INT, description="Rows per batch (1-1000, 100).")],
                   outputs=[Parameter("RecordsSynced", ParamType.INT, description="Rows sent."),
                            Parameter("Batches", ParamType.INT, description="Batches sent.")])
def sync_records(inputs: dict[str, Any], context: OperationContext) -> dict[str, Any]:
    """POST the operations the caller could list through the API, shown as entity set EntityName and changed
    since LastSyncDate (all for Full), to ExternalSystemUrl in batches."""
    entity_set, show = _entity_set(inputs["EntityName"])
    since = _since(inputs)
    batch_size = 100 if inputs.get("BatchSize") is None else inputs["BatchSize"]
    if not 1 <= batch_size <= 1000:
        raise NonRetryableError(f"BatchSize must be between 1 and 1000, not {batch_size}.")
    rows = (show(op) for op in _visible_operations(context, since, batch_size))
    synced = batches = 0
    for batch in _chunks(rows, batch_size):
        context.raise_if_interrupted()
        _post_batch(context, inputs["ExternalSystemUrl"], entity_set, batch)
        synced, batches = synced + len(batch), batches + 1
        context.report_progress(0, f"{synced} records in {batches} batches")
    return {"RecordsSynced": synced, "Batches": batches}


def _entity_set(name: str) -> tuple[str, Callable[[Operation], dict[str, Any]]]:
    """The entity set ``name`` names (in any case) and how the API shows a row in it; NonRetryableError for
    any other name, a table's above all: the sample sends what its caller could read, never a table."""
    for entity_set, show in ENTITY_SETS.items():
        if name.lower() == entity_set:
            return entity_set, show
    raise NonRetryableError(f"EntityName must be one of the API's entity sets, {' or '.join(ENTITY_SETS)}, "
                            f"not '{name[:64]}': the sample sends the operations its caller could list, "
                            "never the rows of a table.")


def _since(inputs: dict[str, Any]) -> datetime | None:
    """When the rows to send must have changed at or after: None for a Full sync."""
    mode = inputs.get("SyncMode") or "Full"
    if mode not in ("Full", "Incremental"):
        raise NonRetryableError(f"SyncMode must be Full or Incremental, not '{mode}'.")
    if mode == "Full":
        return None
    if not inputs.get("LastSyncDate"):
        raise NonRetryableError("SyncMode Incremental needs LastSyncDate.")
    try:
        return parse_time(inputs["LastSyncDate"], "LastSyncDate")
    except InvalidRequest as e:
        raise NonRetryableError(str(e)) from None


def _visible_operations(context: OperationContext, since: datetime | None, page_size: int) -> Iterator[Operation]:
    """Every operation the caller could list (changed at or after ``since``), newest first, page by page.
    ``ge``, not ``gt``: a row changed at the very moment of the last sync is sent again rather than missed."""
    where = () if since is None else (Comparison("modifiedon", "ge", since),)
    after: str | None = None
    while True:
        page = context.list_operations(where=where, top=page_size, after=after)
        yield from page.operations
        if not page.next_after:
            return
        after = page.next_after


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _post_batch(context: OperationContext, url: str, entity_name: str, batch: list[dict[str, Any]]) -> None:
    try:  # by the rules callbacks follow: a public address (or an allowed host), no redirects
        status = context.post_json(url, {"entityName": entity_name, "records": batch})
    except NonRetryableError:
        raise
    except Exception as e:
        raise OperationError(f"The external system could not be reached ({type(e).__name__}).") from None
    if status == 429 or status >= 500:
        raise OperationError(f"The external system answered {status}.")  # retried or not: the app says which
    if status >= 300:
        raise NonRetryableError(f"The external system refused a batch with {status}.")
