"""``OperationStore`` on Azure Table Storage (or Azurite).

Layout (see ``storage.keys``): PartitionKey = the id's shard digit, RowKey =
the id; an operation a principal submitted also has its owner's copy, and a
finished operation an expiry marker row, in its partition.
Columns carry the logical names of SPEC §3.3, so a ``$filter`` over them is a
Table Storage filter as it stands. Every update is a REPLACE with
``IfNotModified`` on the row's ETag and counts ``versionnumber`` up; the
owner's copy and the expiry marker are written in the same entity group
transaction (one request, all or nothing).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from ..domain.errors import (
    BackgroundOperationError,
    ConcurrencyConflict,
    InvalidRequest,
    OperationNotFound,
    PayloadTooLarge,
    PerhapsWritten,
    StorageUnavailable,
)
from ..domain.operation import CallbackState, Operation, from_key_values, to_key_values
from ..domain.states import Status
from ..domain.throughput import Finish
from .entity_batch import submit_transaction
from .keys import (
    FINISH_END,
    MARKER_PREFIX,
    OWNER_PREFIX,
    SHARDS,
    expired_bound,
    expiry_marker,
    finish_bound,
    finish_marker,
    key_row,
    marker_copy,
    marker_operation_id,
    owner_copy,
    owner_range,
    row_operation_id,
    shard_of,
)
from .payloads import INLINE_CHARS, PARAMETER_COLUMNS, REFERENCE, BlobPayloads, blob_name, stored_length
from .ports import ExpiredRow, KeyClaim, ListQuery, Page

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH_SIZE = 100  # Table Storage's limit for one entity group transaction
# The id is the row's RowKey; every other column is stored under its logical name (so Table
# Storage filters over them as they stand).
STORED_AS = {"backgroundoperationid": "RowKey"}

# The columns are the Operation's fields: times stored as datetimes, the rest as they are, but for
# the few stored in another form (the id is the RowKey; status, parameters, callback state below).
_OTHER_FORM = {"id", "status", "inputs", "outputs", "callbackstate", "etag", "damaged"}
TIME_COLUMNS = tuple(f.name for f in dataclasses.fields(Operation) if "datetime" in str(f.type))
_PLAIN_COLUMNS = tuple(f.name for f in dataclasses.fields(Operation)
                       if f.name not in _OTHER_FORM and f.name not in TIME_COLUMNS)
_UNLESS_SET = {"idempotencykey", "requestfingerprint"}  # only a submit with a key has them: no empty column on others


def to_entity(op: Operation) -> dict[str, Any]:
    """The Table Storage entity for a row; ``None`` columns are left out."""
    entity: dict[str, Any] = {
        "PartitionKey": shard_of(op.id),
        "RowKey": op.id,
        "backgroundoperationstatecode": op.status.state.value,
        "backgroundoperationstatuscode": op.status.value,
        "inputparameters": to_key_values(op.inputs),
        "outputparameters": None if op.outputs is None else to_key_values(op.outputs),
        "callbackstate": op.callbackstate.value,
    }
    for column in TIME_COLUMNS + _PLAIN_COLUMNS:
        entity[column] = getattr(op, column)
    return {k: v for k, v in entity.items() if v is not None and not (k in _UNLESS_SET and not v)}


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _parameters(entity: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """Inputs and outputs; a row whose parameters cannot be read (written before they were bounded,
    or by hand) reads as damaged with empty ones, so that one bad row fails itself, not every list."""
    try:
        outputs = entity.get("outputparameters")
        return (from_key_values(entity.get("inputparameters")),
                None if outputs is None else from_key_values(outputs), "")
    except (ValueError, TypeError, KeyError, RecursionError) as e:
        return {}, None, f"Its stored parameters cannot be read ({type(e).__name__})."


def from_entity(entity: dict[str, Any]) -> Operation:
    """The row an entity holds, with its ETag."""
    inputs, outputs, damaged = _parameters(entity)
    columns: dict[str, Any] = {c: _utc(entity.get(c)) for c in TIME_COLUMNS}
    columns |= {c: entity[c] for c in _PLAIN_COLUMNS if entity.get(c) is not None}
    return Operation(
        id=row_operation_id(entity["RowKey"]),
        status=Status(entity["backgroundoperationstatuscode"]),
        inputs=inputs,
        outputs=outputs,
        damaged=damaged,
        callbackstate=CallbackState(entity.get("callbackstate", "")),
        etag=entity.metadata.get("etag") if hasattr(entity, "metadata") else None,
        **columns,
    )


def _error_code(error: HttpResponseError) -> str:
    """Table Storage's error code (``PropertyValueTooLarge``...), from the error or its OData body."""
    code = getattr(error, "error_code", None)
    if code:
        return str(getattr(code, "value", code))
    if error.response is None:
        return ""
    try:
        return str(json.loads(error.response.text())["odata.error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


@contextmanager
def translated(what: str, operation_id: str | None = None, *, missing: Exception | None = None
               ) -> Iterator[None]:
    """Azure errors as the domain's, in one place: a missing row is OperationNotFound (or
    ``missing``), a changed one (412) or a clash on insert (409) ConcurrencyConflict,
    anything else StorageUnavailable (naming the error type, never a URL or a key)."""
    if missing is None and operation_id is not None:
        missing = OperationNotFound(operation_id)
    try:
        yield
    except ResourceNotFoundError as e:
        if missing is None:
            raise StorageUnavailable(f"Table storage failed to {what}: the table does not exist") from e
        raise missing from None
    except HttpResponseError as e:
        if e.status_code in (409, 412) and operation_id is not None:
            raise ConcurrencyConflict(f"Operation {operation_id} changed while it was being written.") from None
        if e.status_code == 404 and missing is not None:
            raise missing from None
        if e.status_code in (400, 413):  # the data, not the service: the caller's to fix, never "retry later"
            code = _error_code(e)
            refused = PayloadTooLarge if e.status_code == 413 or "Too" in code else InvalidRequest
            raise refused(f"Table storage refused to {what} ({code or e.status_code}): a value is too large "
                          "or of a kind it cannot store.") from None
        raise StorageUnavailable(f"Table storage failed to {what}: {type(e).__name__}") from e
    except AzureError as e:  # no answer: PerhapsWritten when the request was sent (its answer lost on the way)
        kind = PerhapsWritten if isinstance(e, ServiceResponseError) else StorageUnavailable
        raise kind(f"Table storage failed to {what}: {type(e).__name__}") from e


def _keys_of(rows: Iterable[ExpiredRow]) -> Iterator[tuple[str, ...]]:
    """Each expired operation's RowKeys: the row, its markers, its owner's copy and its key row if it has them."""
    for row in rows:
        copy = marker_copy(row.marker)
        yield (row.operation_id, row.marker, *((copy,) if copy else ()), *((row.finish,) if row.finish else ()),
               *((row.key,) if row.key else ()))


def _created_with(op: Operation, entity: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What is inserted with a new row, in its entity group transaction: its owner's copy, and its key row."""
    actions: list[tuple[Any, ...]] = []
    if op.runas:
        actions.append(("create", entity | {"RowKey": owner_copy(op.runas, op.id)}))
    if op.idempotencykey:
        partition, row_key = key_row(op.idempotencykey)
        assert partition == shard_of(op.id), "a keyed operation's id ends in its key's partition"
        actions.append(("create", {"PartitionKey": partition, "RowKey": row_key, "operation": op.id,
                                   "accepted": False}))
    return actions


def finish_entity(op: Operation) -> dict[str, Any]:
    """The finish marker of a finished operation: when it ended, how, what it was, and who submitted it."""
    ended = op.endtime or op.modifiedon  # a finished row has its end; a row written finished by hand, its change
    return {"PartitionKey": shard_of(op.id), "RowKey": finish_marker(op.id, ended), "endtime": ended,
            "name": op.name, "status": op.status.value, "runas": op.runas}


def _has_payloads(entity: dict[str, Any]) -> bool:
    """True when a parameter of the entity (as written) names a blob."""
    return any(isinstance(entity.get(c), str) and entity[c].startswith(REFERENCE) for c in PARAMETER_COLUMNS)


def _too_large_for_a_row(entity: dict[str, Any]) -> bool:
    """True when a parameter of the entity (as the row holds it) is kept in a blob when written."""
    return any(isinstance(entity.get(c), str) and stored_length(entity[c]) > INLINE_CHARS for c in PARAMETER_COLUMNS)


def _batches(groups: Iterable[tuple[T, ...]]) -> Iterator[list[tuple[T, ...]]]:
    """Groups of keys packed into batches of at most BATCH_SIZE keys, never splitting a group."""
    batch: list[tuple[T, ...]] = []
    for keys in groups:
        if sum(map(len, batch)) + len(keys) > BATCH_SIZE:
            yield batch
            batch = []
        batch.append(keys)
    if batch:
        yield batch


def shard_pool() -> ThreadPoolExecutor:
    """A pool to work on a table's partitions at once, a thread each (none starts until it is used)."""
    return ThreadPoolExecutor(max_workers=len(SHARDS), thread_name_prefix="bgops-shards")


class TableOperationStore:
    """Background operation rows in one table."""

    def __init__(self, service: TableServiceClient, table_name: str, payloads: BlobPayloads | None = None, *,
                 pool: Executor | None = None) -> None:
        self._service = service
        self._table: TableClient = service.get_table_client(table_name)
        self._payloads = payloads  # where parameters too large for a property go; None: nowhere (refused)
        # Several partitions at once: a list reads the first page of each (16 queries; one after another they
        # would cost 16 round trips), and batches go out together.
        self._pool = pool or shard_pool()

    def ensure_table(self) -> None:
        """Create the table (and the payloads' container) unless it exists (once per process)."""
        with translated("create the table"):
            try:
                self._service.create_table(self._table.table_name)
            except ResourceExistsError:
                pass
            if self._payloads is not None:
                self._payloads.ensure_container()

    def create(self, op: Operation) -> Operation:
        """Insert a new row; returns it with its ETag. Parameters too large for the row go first, to blobs."""
        op = op.with_changes(versionnumber=1)
        with translated("insert a row", op.id):
            entity = self._entity(op)
            try:
                return self._write(op, ("create", entity), "create")
            except HttpResponseError as e:
                if e.status_code in (400, 413) or self._key_elsewhere(e, op, entity):  # surely not written
                    self._forget_payloads(op, entity)
                raise

    def _key_elsewhere(self, error: HttpResponseError, op: Operation, entity: dict[str, Any]) -> bool:
        """True when the insert of a keyed row whose parameters went to blobs clashed on a key that names another
        operation (a request sent again): those blobs belong to no row. Its own insert, made again after a lost
        answer, clashes on a key naming it, and keeps them."""
        if error.status_code != 409 or not op.idempotencykey or not _has_payloads(entity):
            return False
        claim = self.find_key(op.idempotencykey)
        return claim is not None and claim.operation_id != op.id

    def create_many(self, ops: Sequence[Operation]) -> list[Operation | BackgroundOperationError]:
        """Insert new rows: those of one partition in entity group transactions of up to BATCH_SIZE
        entities (a row with its owner's copy and its key row, if it has them), the partitions at once. A batch that
        fails is the error of each of its rows."""
        ops = [op.with_changes(versionnumber=1) for op in ops]
        answers: list[Operation | BackgroundOperationError | None] = [None] * len(ops)
        by_shard: dict[str, list[int]] = {}
        for index, op in enumerate(ops):
            by_shard.setdefault(shard_of(op.id), []).append(index)

        def insert_shard(indices: list[int]) -> None:
            entities = ((i,) * (1 + bool(ops[i].runas) + bool(ops[i].idempotencykey)) for i in indices)
            for batch in _batches(entities):
                rows = [keys[0] for keys in batch]
                try:
                    with translated("insert rows"):
                        etags = self._clashing_as_conflict([ops[i] for i in rows])
                    for i, etag in zip(rows, etags, strict=True):
                        answers[i] = ops[i].with_changes(etag=etag)
                except BackgroundOperationError as e:
                    for i in rows:
                        answers[i] = e

        list(self._pool.map(insert_shard, by_shard.values()))
        return [answer for answer in answers if answer is not None]

    def _clashing_as_conflict(self, ops: list[Operation]) -> list[str]:
        """``_insert_batch``; a row or key of the batch that exists already is ConcurrencyConflict."""
        try:
            return self._insert_batch(ops)
        except HttpResponseError as e:
            if e.status_code == 409:
                raise ConcurrencyConflict("A row or an idempotency key of the batch exists already.") from None
            raise

    def _insert_batch(self, ops: list[Operation]) -> list[str]:
        """One entity group transaction inserting these rows (of one partition) and their owners' copies;
        the rows' ETags."""
        actions: list[tuple[Any, ...]] = []
        rows: list[int] = []  # where each row's own action is
        for op in ops:
            entity = self._entity(op)
            rows.append(len(actions))
            actions += [("create", entity), *_created_with(op, entity)]
        answers = submit_transaction(self._table, actions)
        return [answers[index]["etag"] for index in rows]

    def get(self, operation_id: str) -> Operation:
        """One point read (and a blob read per parameter kept in one); raises OperationNotFound."""
        with translated("read a row", operation_id):
            return from_entity(self._loaded(self._table.get_entity(shard_of(operation_id), operation_id)))

    def replace(self, op: Operation) -> Operation:
        """Write the whole row if it still has ``op.etag`` (with its owner's copy, and its expiry marker
        once finished)."""
        condition: dict[str, Any] = {"mode": UpdateMode.REPLACE, "etag": op.etag,
                                     "match_condition": MatchConditions.IfNotModified}
        op = op.with_changes(versionnumber=op.versionnumber + 1)
        with translated("update a row", op.id):
            return self._write(op, ("update", self._entity(op), condition), "upsert")

    def _entity(self, op: Operation) -> dict[str, Any]:
        """The row's entity, a parameter too large for a property stored as a blob and named instead."""
        entity = to_entity(op)
        for column in PARAMETER_COLUMNS:
            text = entity.get(column)
            if self._payloads is not None and text is not None and stored_length(text) > INLINE_CHARS:
                name = blob_name(op.id, column, text)
                self._payloads.put(name, text)
                entity[column] = REFERENCE + name
        return entity

    def _loaded(self, entity: Any) -> Any:
        """The entity with the parameters it names read back from their blobs (a missing blob stays
        named: the row then reads as damaged)."""
        for column in PARAMETER_COLUMNS:
            value = entity.get(column)
            if self._payloads is not None and isinstance(value, str) and value.startswith(REFERENCE):
                text = self._payloads.get(value[len(REFERENCE):])
                entity[column] = value if text is None else text
        return entity

    def _forget_payloads(self, op: Operation, entity: dict[str, Any]) -> None:
        """Best effort: the blobs of a row that storage refused."""
        if self._payloads is not None and _has_payloads(entity):
            try:
                self._payloads.delete_operation([op.id])
            except AzureError:
                log.warning("Could not delete the parameters of operation %s, which was not created.", op.id)

    def _write(self, op: Operation, row: tuple[Any, ...], copy_as: str) -> Operation:
        """The row's own write, and with it (one entity group transaction) what goes with the row."""
        with_it: list[tuple[Any, ...]] = []
        if row[0] == "create":
            with_it += _created_with(op, row[1])
        elif op.runas:
            with_it.append((copy_as, row[1] | {"RowKey": owner_copy(op.runas, op.id)}))
        if op.is_terminal:
            finish = finish_entity(op)
            marker = {"PartitionKey": shard_of(op.id), "RowKey": expiry_marker(op.id, op.expires_at, op.runas),
                      "finish": finish["RowKey"]}
            if op.idempotencykey:
                marker["key"] = key_row(op.idempotencykey)[1]
            with_it += [("upsert", marker | ({"payloads": True} if _has_payloads(row[1]) else {})),
                        ("upsert", finish)]
        if not with_it:
            write = self._table.create_entity if row[0] == "create" else self._table.update_entity
            return op.with_changes(etag=write(row[1], **(row[2] if len(row) > 2 else {}))["etag"])
        return op.with_changes(etag=submit_transaction(self._table, [row, *with_it])[0]["etag"])

    def delete(self, op: Operation) -> None:
        """Delete the row, its owner's copy, its key row and its blobs; succeeds when they are already gone. A
        row whose key another request took over (``domain.idempotency``) is its operation now: it stays."""
        with translated("delete a row"):
            if op.idempotencykey and not self._key_released(op):
                log.info("Operation %s was taken over by a request with its Idempotency-Key; it stays.", op.id)
                return
            for key in (op.id, owner_copy(op.runas, op.id)) if op.runas else (op.id,):
                self._table.delete_entity(shard_of(op.id), key)
            if self._payloads is not None and _too_large_for_a_row(to_entity(op)):
                self._payloads.delete_operation([op.id])

    def _key_released(self, op: Operation) -> bool:
        """Delete the row of ``op``'s key unless it says the operation was accepted (on the ETag it had when
        read): False when it was, and the operation must stay."""
        claim = self.find_key(op.idempotencykey)
        if claim is None or claim.operation_id != op.id:
            return True
        if claim.accepted:
            return False
        partition, row_key = key_row(op.idempotencykey)
        try:
            self._table.delete_entity(partition, row_key, etag=claim.etag,
                                      match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            return True
        except HttpResponseError as e:
            if e.status_code == 412:
                return False
            raise
        return True

    def find_key(self, hashed: str) -> KeyClaim | None:
        """The row of an idempotency key (``domain.idempotency.key_hash``), if there is one."""
        partition, row_key = key_row(hashed)
        with translated("read an idempotency key"):
            try:
                entity = self._table.get_entity(partition, row_key)
            except ResourceNotFoundError:
                return None
        return KeyClaim(entity["operation"], bool(entity.get("accepted")), str(entity.metadata["etag"]))

    def accept_key(self, hashed: str, etag: str | None = None) -> None:
        """Record that the key's operation was accepted (if the key's row still has ``etag``, when given)."""
        partition, row_key = key_row(hashed)
        with translated("accept an idempotency key", row_key,
                        missing=ConcurrencyConflict(f"The row of key {row_key} is gone.")):
            self._table.update_entity({"PartitionKey": partition, "RowKey": row_key, "accepted": True},
                                      mode=UpdateMode.MERGE, etag=etag,
                                      match_condition=MatchConditions.IfNotModified if etag else None)

    def list(self, query: ListQuery) -> Page:
        """Rows newest first: one query per shard (their first pages fetched at once), merged by id.
        With an owner, the queries read that owner's copies (a key range) and nothing else."""
        parameters: dict[str, Any] = {f"p{i}": c.value for i, c in enumerate(query.where)}
        clauses = ["PartitionKey eq @shard", "RowKey lt @end"]
        if query.owner is None:
            parameters |= {"end": OWNER_PREFIX, "start": query.after}
            clauses += ["RowKey gt @start"] if query.after else []
        else:
            start, end = owner_range(query.owner)
            parameters |= {"start": start + (query.after or ""), "end": end, "owner": query.owner}
            clauses += ["RowKey gt @start", "runas eq @owner"]
        clauses += [f"{STORED_AS.get(c.column, c.column)} {c.operator} @p{i}" for i, c in enumerate(query.where)]
        with translated("list rows"):
            return self._page(" and ".join(clauses), parameters, query)

    def _page(self, text: str, parameters: dict[str, Any], query: ListQuery) -> Page:
        def shard_stream(shard: str) -> Iterator[Operation]:
            pages = self._table.query_entities(text, results_per_page=query.top + 1,
                                               parameters={**parameters, "shard": shard}).by_page()
            first = list(next(pages, []))  # fetched here, in the pool; later pages only if the merge needs them
            return (from_entity(self._loaded(e)) for e in itertools.chain(first, itertools.chain.from_iterable(pages)))

        streams = list(self._pool.map(shard_stream, SHARDS))  # the 16 first pages at once, not one after another
        rows = list(itertools.islice(heapq.merge(*streams, key=lambda op: op.id), query.top + 1))
        more = len(rows) > query.top
        rows = rows[: query.top]
        return Page(rows, rows[-1].id if more else None)

    def finished(self, since: datetime, *, owner: str | None = None, name: str | None = None) -> Iterator[Finish]:
        """The finish markers from ``since`` on: one query per shard, the 16 read at once (each its pages in turn)."""
        clauses = ["PartitionKey eq @shard", "RowKey ge @first", "RowKey lt @end"]
        parameters: dict[str, Any] = {"first": finish_bound(since), "end": FINISH_END}
        for column, value in (("runas", owner), ("name", name)):
            if value is not None:
                clauses.append(f"{column} eq @{column}")
                parameters[column] = value

        def shard_finishes(shard: str) -> list[Finish]:
            with translated("read the finished operations"):
                return [Finish(m["endtime"], m["name"], Status(m["status"])) for m in self._table.query_entities(
                    " and ".join(clauses), parameters={**parameters, "shard": shard},
                    select=["endtime", "name", "status"])]

        for finishes in self._pool.map(shard_finishes, SHARDS):
            yield from finishes

    def list_expired(self, now: datetime) -> Iterator[ExpiredRow]:
        """Finished rows past their TTL, read from the expiry markers of each partition up to ``now``.

        Lazy (pages are fetched as the caller iterates); a storage failure while
        iterating raises StorageUnavailable.
        """
        text = "PartitionKey eq @shard and RowKey gt @first and RowKey lt @bound"
        parameters = {"first": MARKER_PREFIX, "bound": expired_bound(now)}
        with translated("find expired rows"):
            for shard in SHARDS:
                markers = self._table.query_entities(text, parameters={**parameters, "shard": shard},
                                                     select=["RowKey", "payloads", "finish", "key"])
                for marker in markers:
                    yield ExpiredRow(marker_operation_id(marker["RowKey"]), marker["RowKey"],
                                     payloads=bool(marker.get("payloads")), finish=marker.get("finish") or "",
                                     key=marker.get("key") or "")

    def delete_expired(self, rows: Iterable[ExpiredRow]) -> int:
        """Delete rows and their markers, 50 of each to an entity group transaction.

        Returns how many operations are now gone (ones already deleted count too).
        """
        deleted = 0
        by_shard = sorted(rows, key=lambda row: shard_of(row.operation_id))
        for shard, grouped in itertools.groupby(by_shard, key=lambda row: shard_of(row.operation_id)):
            group = list(grouped)
            for batch in _batches(_keys_of(group)):
                with translated("delete rows"):
                    self._delete_batch(shard, [key for keys in batch for key in keys])
                deleted += len(batch)
            if self._payloads is not None:
                with translated("delete the parameters of expired rows"):
                    self._payloads.delete_operation(row.operation_id for row in group if row.payloads)
        return deleted

    def _delete_batch(self, shard: str, row_keys: Sequence[str]) -> None:
        try:
            submit_transaction(self._table, [("delete", {"PartitionKey": shard, "RowKey": k}) for k in row_keys])
        except (TableTransactionError, ResourceNotFoundError):
            # A row in the batch was already gone (another purge): delete one by
            # one, which succeeds when the row is gone.
            for key in row_keys:
                self._table.delete_entity(shard, key)

    def ping(self) -> None:
        """Raise StorageUnavailable unless the table answers."""
        with translated("reach the table"):
            next(iter(self._table.query_entities("PartitionKey eq @p", parameters={"p": "-"},
                                                 results_per_page=1)), None)
