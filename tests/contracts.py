"""The OperationStore contract (huey's pattern): every behaviour the services rely on, run against every
implementation. An implementation's test class only says how to build a fresh, empty store in its own
``store`` fixture: ``TestTableOperationStore`` (tests/integration, a real Azurite) and
``TestMemoryOperationStore`` (tests/unit). ``SubscriptionStoreContract``, ``KeptEventsContract``,
``LinesContract`` and ``WorkQueueContract`` do the same for subscriptions, kept events, lines and the work queue.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from helpers import wait_until

from shared.domain.errors import ConcurrencyConflict, OperationNotFound, StorageUnavailable, SubscriptionNotFound
from shared.domain.idempotency import key_hash, shard_of_key
from shared.domain.ids import new_operation_id
from shared.domain.lines import ticket
from shared.domain.operation import CallbackState, Operation
from shared.domain.states import State, Status
from shared.domain.subscriptions import Subscription, kept_key
from shared.storage.keys import SHARDS, expiry_marker, shard_of
from shared.storage.ports import Comparison, ExpiredRow, KeptEvent, ListQuery
from shared.storage.work_messages import WorkMessage, decode

TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)
UNFINISHED = (Status.WAITING_FOR_RESOURCES, Status.WAITING, Status.IN_PROGRESS, Status.PAUSING, Status.CANCELING)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(created: datetime, shard: str | None = None) -> str:
    """An operation id created at ``created``, in ``shard`` when one is asked for."""
    while True:
        candidate = new_operation_id(created)
        if shard is None or shard_of(candidate) == shard:
            return candidate


def make_op(*, status: Status = Status.WAITING_FOR_RESOURCES, expires: datetime | None = None,
            shard: str | None = None, ttl: int = 3600, name: str = "sample_Echo",
            created: datetime | None = None, **changes) -> Operation:
    """A row as the services write it, expiring at ``expires`` (default: created + ttl)."""
    if expires is None:
        created = created or utc_now()
        expires = created + timedelta(seconds=ttl)
    created = created or expires - timedelta(seconds=ttl)
    return Operation(id=new_id(created, shard), name=name, displayname=name.title(), status=status,
                     createdon=created, modifiedon=created, ttlinseconds=ttl, **{"inputs": {"Index": 1}, **changes})


def keyed_op(key: str, runas: str = "", **changes) -> Operation:
    """A row submitted by ``runas`` with the Idempotency-Key ``key``: its id in its key's partition."""
    hashed = key_hash(runas, key)
    return make_op(shard=shard_of_key(hashed), runas=runas, idempotencykey=hashed, requestfingerprint="f" * 64,
                   **changes)


def expired_rows(ops) -> list[ExpiredRow]:
    """What list_expired would yield for these rows."""
    return [ExpiredRow(op.id, expiry_marker(op.id, op.createdon + timedelta(seconds=op.ttlinseconds), op.runas))
            for op in ops]


def seed(store, ops: list[Operation]) -> list[Operation]:
    """Create the rows (in parallel: only the final contents matter here)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(store.create, ops))


def all_pages(store, query: ListQuery, max_pages: int = 200) -> list[list[Operation]]:
    """Follow ``next_after`` until the last page."""
    pages, after = [], None
    for _ in range(max_pages):
        page = store.list(dataclasses.replace(query, after=after))
        pages.append(page.operations)
        if page.next_after is None:
            return pages
        after = page.next_after
    pytest.fail(f"paging did not end after {max_pages} pages")


def race_replaces(store, read: Operation, values: tuple[int, ...]) -> dict[int, object]:
    """Replace ``read`` from several threads at once, each with its own retrycount: what each got back."""
    barrier = threading.Barrier(len(values))
    results: dict[int, object] = {}

    def write(value: int) -> None:
        barrier.wait()
        try:
            results[value] = store.replace(read.with_changes(retrycount=value))
        except ConcurrencyConflict as e:
            results[value] = e

    threads = [threading.Thread(target=write, args=(v,)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def ids(rows) -> list[str]:
    """The operation ids of rows, or of the ExpiredRows list_expired yields."""
    return [getattr(row, "operation_id", None) or row.id for row in rows]


class OperationStoreContract:
    """Behaviour every OperationStore must have. Subclasses provide ``store``: a fresh, empty store."""

    @pytest.fixture
    def store(self):
        raise NotImplementedError("an implementation's test class says how to build its store")

    # --- create / get -------------------------------------------------------------------------

    def test_create_then_get_round_trips_every_column(self, store):
        created = datetime(2031, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
        plus_two = timezone(timedelta(hours=2))  # a non-UTC time must come back as the same instant, in UTC
        op = Operation(
            id=new_id(created + timedelta(seconds=7_776_000)), name="sample_Echo", displayname="Echo",
            status=Status.FAILED,
            inputs={"Text": "héllo 'single' \"double\" ✓", "N": 3, "F": 2.5, "Nested": {"a": [1, None, True]}},
            outputs={"Out": "x", "List": [1, 2], "Empty": {}},
            createdon=created, modifiedon=created + timedelta(seconds=9, microseconds=1),
            ttlinseconds=7_776_000, runas="00000000-aaaa-bbbb-cccc-000000000001",
            starttime=(created + timedelta(seconds=1)).astimezone(plus_two),
            endtime=created + timedelta(seconds=8, microseconds=999999),
            retrycount=3, errorcode=-2147220891, errormessage="it broke: 'quoted'",
            postponeuntil=created + timedelta(days=2),
            callbackurl="https://example.invalid/cb?sv=2024&sig=a%2Bb%3D&se=2031-01-01",
            callbackstate=CallbackState.SENDING, callbackclaimedon=created + timedelta(seconds=8),
            callbackresult="503 after 4 attempt(s)", messageid="2f9c0a3e-message", baseurl="https://app.example",
            progresspercent=42, progressmessage="half way",
        )
        stored = store.create(op)
        got = store.get(op.id)

        assert stored.etag and got.etag == stored.etag
        assert stored.versionnumber == got.versionnumber == 1  # the store counts writes, whatever it was given
        for column in dataclasses.fields(Operation):
            if column.name not in ("etag", "versionnumber"):
                assert getattr(got, column.name) == getattr(op, column.name), column.name
        for column in ("createdon", "modifiedon", "starttime", "endtime", "postponeuntil", "callbackclaimedon"):
            assert getattr(got, column).utcoffset() == timedelta(0), f"{column} is not UTC"
        assert got.callbackurl == op.callbackurl  # kept for the worker, though never shown
        assert got == op.with_changes(versionnumber=1)

    def test_create_then_get_keeps_unset_columns_unset(self, store):
        op = make_op()
        store.create(op)
        got = store.get(op.id)
        assert got == op.with_changes(versionnumber=1)
        for column in ("outputs", "starttime", "endtime", "errorcode", "errormessage", "postponeuntil",
                       "callbackurl", "callbackclaimedon", "progresspercent"):
            assert getattr(got, column) is None, column
        assert got.callbackstate is CallbackState.NONE

    def test_create_of_an_existing_id_does_not_overwrite_it(self, store):
        op = store.create(make_op())
        with pytest.raises(Exception):  # noqa: B017 - the port names no error for a duplicate id
            store.create(op.with_changes(name="other"))
        assert store.get(op.id).name == op.name

    def test_create_many_inserts_each_row_with_its_owners_copy_and_answers_in_order(self, store):
        shards = "7" * 80 + "0123456789abcdef"  # 80 rows, half with copies, in one partition: two batches
        ops = [make_op(shard=shard, inputs={"I": i}, runas="alice" if i % 2 == 0 else "")
               for i, shard in enumerate(shards)]
        answers = store.create_many(ops)
        assert [a.id for a in answers] == [op.id for op in ops]
        assert all(a.etag and a.versionnumber == 1 for a in answers)
        assert [store.get(op.id).inputs for op in ops] == [{"I": i} for i in range(len(ops))]
        owned = {op.id for op in ops if op.runas}
        assert set(ids(store.list(ListQuery(top=1000, owner="alice")).operations)) == owned

    def test_create_many_answers_a_clash_as_that_rows_error_and_writes_the_rest(self, store):
        taken = store.create(make_op(shard="5"))
        fresh = make_op(shard="6")
        answers = store.create_many([taken.with_changes(name="other", etag=None), fresh])
        assert isinstance(answers[0], Exception) and store.get(taken.id).name == taken.name
        assert answers[1].id == fresh.id and store.get(fresh.id).id == fresh.id

    def test_get_of_unknown_id_raises_operation_not_found(self, store):
        store.create(make_op(shard="3"))  # the partition exists; the row does not
        missing = new_id(utc_now() + timedelta(hours=1), shard="3")
        with pytest.raises(OperationNotFound) as raised:
            store.get(missing)
        assert raised.value.operation_id == missing

    # --- replace --------------------------------------------------------------------------------

    def test_replace_with_a_stale_etag_conflicts_and_with_the_fresh_one_succeeds(self, store):
        first = store.create(make_op())
        second = store.replace(first.with_changes(retrycount=1))
        assert second.etag != first.etag

        with pytest.raises(ConcurrencyConflict):
            store.replace(first.with_changes(retrycount=99))  # stale: written over by ``second``
        assert store.get(first.id).retrycount == 1

        third = store.replace(second.with_changes(retrycount=2))
        assert store.get(first.id).retrycount == 2
        assert store.get(first.id).etag == third.etag

    def test_two_concurrent_replaces_from_the_same_read_exactly_one_wins(self, store):
        for _ in range(3):
            read = store.get(store.create(make_op()).id)
            results = race_replaces(store, read, (1, 2))
            winners = [v for v, r in results.items() if isinstance(r, Operation)]
            losers = [v for v, r in results.items() if isinstance(r, ConcurrencyConflict)]
            assert len(winners) == 1 and len(losers) == 1, results
            assert store.get(read.id).retrycount == winners[0]

    def test_replace_of_a_deleted_row_raises_operation_not_found(self, store):
        op = store.create(make_op())
        store.delete(op)
        with pytest.raises(OperationNotFound):
            store.replace(op.with_changes(retrycount=1))

    # --- delete ---------------------------------------------------------------------------------

    def test_delete_is_idempotent(self, store):
        op = store.create(make_op())
        store.delete(op)
        with pytest.raises(OperationNotFound):
            store.get(op.id)
        store.delete(op)  # already gone
        store.delete(make_op())  # never existed

    # --- list -----------------------------------------------------------------------------------

    def test_list_returns_newest_first_across_shards(self, store):
        now = utc_now()
        # Creation order deliberately differs from seeding order and shard order.
        ops = [make_op(expires=now + timedelta(minutes=(i * 7) % 40 + 1), shard=SHARDS[i % 16])
               for i in range(40)]
        seed(store, ops)
        listed = store.list(ListQuery(top=1000))
        assert listed.next_after is None
        expected = sorted(ops, key=lambda op: op.createdon, reverse=True)
        assert ids(listed.operations) == ids(expected)
        assert len({shard_of(i) for i in ids(listed.operations)}) == 16

    def test_list_puts_a_newer_row_first_even_when_its_ttl_is_shorter(self, store):
        now = utc_now()
        older = make_op(created=now - timedelta(hours=1), ttl=7_776_000)
        newer = make_op(created=now, ttl=60)
        seed(store, [older, newer])
        assert ids(store.list(ListQuery()).operations) == [newer.id, older.id]

    @pytest.mark.parametrize("count", [35, 37])  # a multiple of $top, and not
    def test_list_pages_with_top_and_after_cover_every_row_exactly_once(self, store, count):
        now = utc_now()
        ops = seed(store, [make_op(expires=now + timedelta(seconds=60 + i)) for i in range(count)])
        pages = all_pages(store, ListQuery(top=5))

        assert [len(p) for p in pages] == [5] * (count // 5) + ([count % 5] if count % 5 else [])
        flat = [op.id for page in pages for op in page]
        assert len(flat) == len(set(flat)) == count
        assert set(flat) == set(ids(ops))
        assert flat == sorted(flat)  # one global order, newest first, across page boundaries

    def test_list_pages_through_a_filtered_query(self, store):
        now = utc_now()
        ops = [make_op(expires=now + timedelta(seconds=60 + i), status=TERMINAL[i % 3]) for i in range(30)]
        seed(store, ops)
        pages = all_pages(store, ListQuery(where=(Comparison("backgroundoperationstatuscode", "eq",
                                                             Status.FAILED.value),), top=3))
        flat = [op for page in pages for op in page]
        assert sorted(ids(flat)) == sorted(op.id for op in ops if op.status is Status.FAILED)
        assert all(len(page) <= 3 for page in pages)

    def test_list_filter_status_eq_keeps_only_that_status(self, store):
        ops = seed(store, [make_op(status=s) for s in (*TERMINAL, *TERMINAL, Status.IN_PROGRESS)])
        for status in (Status.SUCCEEDED, Status.IN_PROGRESS):
            page = store.list(ListQuery(where=(Comparison("backgroundoperationstatuscode", "eq", status.value),)))
            assert sorted(ids(page.operations)) == sorted(op.id for op in ops if op.status is status)

    @pytest.mark.parametrize("state", [State.READY, State.SUSPENDED])
    def test_list_filter_statecode_eq_zero_or_one_finds_ready_or_suspended_rows(self, store, state):
        # azure-data-tables tests int parameters with ``val in [True, False]``: 0 and 1 must stay ints.
        status = {State.READY: Status.WAITING_FOR_RESOURCES, State.SUSPENDED: Status.WAITING}[state]
        ops = seed(store, [make_op(status=s) for s in (status, status, Status.SUCCEEDED, Status.IN_PROGRESS)])
        page = store.list(ListQuery(where=(Comparison("backgroundoperationstatecode", "eq", state.value),)))
        assert sorted(ids(page.operations)) == sorted(op.id for op in ops if op.status is status)

    def test_list_filter_name_eq_matches_a_name_with_a_quote(self, store):
        quoted = seed(store, [make_op(name="contoso_O'Brien's"), make_op(name="contoso_O'Brien's")])
        seed(store, [make_op(name="contoso_OBriens"), make_op(name="contoso_O'Brien")])
        page = store.list(ListQuery(where=(Comparison("name", "eq", "contoso_O'Brien's"),)))
        assert sorted(ids(page.operations)) == sorted(ids(quoted))

    def test_list_filter_createdon_ge_keeps_rows_created_at_or_after(self, store):
        base = utc_now().replace(microsecond=0)
        ops = seed(store, [make_op(created=base + timedelta(minutes=i)) for i in range(6)])
        page = store.list(ListQuery(where=(Comparison("createdon", "ge", base + timedelta(minutes=3)),)))
        assert sorted(ids(page.operations)) == sorted(ids(ops[3:]))  # minute 3 itself is included

    def test_list_filter_on_the_id_reads_the_row_key(self, store):
        ops = seed(store, [make_op() for _ in range(3)])
        page = store.list(ListQuery(where=(Comparison("backgroundoperationid", "eq", ops[1].id),)))
        assert ids(page.operations) == [ops[1].id]

    def test_list_combines_filter_clauses_with_and(self, store):
        ops = seed(store, [make_op(name=n, status=s) for n in ("sample_A", "sample_B")
                           for s in (Status.SUCCEEDED, Status.FAILED)])
        page = store.list(ListQuery(where=(Comparison("name", "eq", "sample_B"),
                                           Comparison("backgroundoperationstatuscode", "eq", Status.FAILED.value))))
        assert ids(page.operations) == [op.id for op in ops if op.name == "sample_B" and op.status is Status.FAILED]

    # --- owners ------------------------------------------------------------------------

    def test_versionnumber_counts_every_write_and_makes_the_callers_etag(self, store):
        op = store.create(make_op(runas="alice"))
        assert (op.versionnumber, op.version_tag) == (1, 'W/"1"')
        op = store.replace(op.with_changes(retrycount=1))
        op = store.replace(op.with_changes(retrycount=2, status=Status.SUCCEEDED))
        assert op.versionnumber == store.get(op.id).versionnumber == 3
        listed = store.list(ListQuery(owner="alice")).operations
        assert [(r.versionnumber, r.retrycount, r.status) for r in listed] == [(3, 2, Status.SUCCEEDED)]

    def test_list_for_an_owner_returns_only_its_rows_newest_first_in_pages(self, store):
        now = utc_now()
        owners = ("alice", "bob", "", "al", "alice ")  # look-alikes must not match
        ops = seed(store, [make_op(created=now - timedelta(seconds=i), shard=SHARDS[i % 16], runas=owners[i % 5])
                           for i in range(40)])
        alices = sorted(op.id for op in ops if op.runas == "alice")
        pages = all_pages(store, ListQuery(top=3, owner="alice"))
        assert [op.id for page in pages for op in page] == alices
        assert all(op.runas == "alice" for page in pages for op in page)
        # Everyone's list has every row once (an owner's copy is never listed as a row of its own).
        assert sorted(ids(store.list(ListQuery(top=1000)).operations)) == sorted(ids(ops))

    def test_list_for_an_owner_applies_the_filter_too(self, store):
        ops = seed(store, [make_op(runas=r, status=s) for r in ("alice", "bob") for s in (*TERMINAL, *TERMINAL)])
        failed = Comparison("backgroundoperationstatuscode", "eq", Status.FAILED.value)
        page = store.list(ListQuery(where=(failed,), owner="bob"))
        assert sorted(ids(page.operations)) == sorted(op.id for op in ops
                                                      if op.runas == "bob" and op.status is Status.FAILED)

    def test_an_owners_list_sees_each_write_to_its_rows(self, store):
        op = store.create(make_op(runas="carol"))
        op = store.replace(op.with_changes(status=Status.IN_PROGRESS, progresspercent=40))
        [listed] = store.list(ListQuery(owner="carol")).operations
        assert (listed.status, listed.progresspercent, listed.version_tag) == (Status.IN_PROGRESS, 40, op.version_tag)

    def test_delete_and_purge_remove_an_owners_rows_from_its_list(self, store):
        past = utc_now() - timedelta(hours=1)
        kept, deleted = store.create(make_op(runas="dave")), store.create(make_op(runas="dave"))
        expired = seed(store, [make_op(status=Status.SUCCEEDED, expires=past, runas="dave", shard=SHARDS[i])
                               for i in range(3)])
        store.delete(deleted)
        assert sorted(ids(store.list_expired(utc_now()))) == sorted(ids(expired))
        assert store.delete_expired(store.list_expired(utc_now())) == 3
        assert ids(store.list(ListQuery(owner="dave")).operations) == [kept.id]
        assert list(store.list_expired(utc_now())) == []

    # --- expiry and purge -----------------------------------------------------------------------

    def test_list_expired_returns_only_finished_rows_whose_expiry_passed(self, store):
        now = utc_now()
        past, future = now - timedelta(hours=1), now + timedelta(hours=1)
        expired_done = [make_op(status=s, expires=past, shard=SHARDS[i]) for i, s in enumerate(TERMINAL)]
        expired_running = [make_op(status=s, expires=past, shard=SHARDS[i]) for i, s in enumerate(UNFINISHED)]
        live_done = [make_op(status=s, expires=future, shard=SHARDS[i]) for i, s in enumerate(TERMINAL)]
        live_running = [make_op(status=s, expires=future) for s in UNFINISHED]
        soon = make_op(status=Status.SUCCEEDED, expires=now + timedelta(seconds=30))
        seed(store, expired_done + expired_running + live_done + live_running + [soon])

        assert sorted(ids(store.list_expired(now))) == sorted(ids(expired_done))
        # The bound moves with ``now``: half a minute later the next row has expired too.
        later = now + timedelta(seconds=31)
        assert sorted(ids(store.list_expired(later))) == sorted(ids(expired_done + [soon]))

    def test_list_expired_of_a_store_with_nothing_expired_is_empty(self, store):
        seed(store, [make_op(status=Status.SUCCEEDED) for _ in range(5)])
        assert list(store.list_expired(utc_now())) == []

    def test_delete_expired_deletes_more_than_a_batch_across_several_shards(self, store):
        expires = utc_now() + timedelta(hours=1)
        ops = [make_op(expires=expires, shard="a") for _ in range(130)]  # two batches in one shard
        ops += [make_op(expires=expires, shard=SHARDS[i % 5]) for i in range(95)]
        seed(store, ops)
        assert store.delete_expired(expired_rows(ops)) == len(ops)
        assert store.list(ListQuery(top=1000)).operations == []

    def test_delete_expired_succeeds_when_some_rows_are_already_gone(self, store):
        ops = seed(store, [make_op(shard=SHARDS[i % 3]) for i in range(30)])
        for op in ops[::4]:
            store.delete(op)  # a concurrent purge got there first
        store.delete_expired(expired_rows(ops))
        assert store.list(ListQuery(top=1000)).operations == []

    def test_delete_expired_leaves_other_rows_alone(self, store):
        ops = seed(store, [make_op(shard=SHARDS[i % 4]) for i in range(20)])
        assert store.delete_expired(expired_rows(ops[:10])) == 10
        assert sorted(ids(store.list(ListQuery(top=1000)).operations)) == sorted(ids(ops[10:]))

    # --- finish markers: throughput -------------------------------------------------------------

    def test_finished_gives_each_operation_that_ended_since_a_moment_with_its_name_and_outcome(self, store):
        now = utc_now().replace(microsecond=0)
        ended = [make_op(status=s, endtime=now - timedelta(minutes=n), shard=SHARDS[n], name=f"op_{n}")
                 for n, s in enumerate(TERMINAL)]
        long_ago = make_op(status=Status.SUCCEEDED, endtime=now - timedelta(hours=2), shard="e")
        running = make_op(status=Status.IN_PROGRESS, shard="f")
        seed(store, [*ended, long_ago, running])
        found = sorted(store.finished(now - timedelta(hours=1)), key=lambda f: f.name)
        assert [(f.name, f.status, f.endtime) for f in found] == [(op.name, op.status, op.endtime) for op in ended]
        assert len(list(store.finished(now - timedelta(hours=3)))) == len(ended) + 1

    def test_finished_keeps_to_an_owners_operations_and_to_a_name_when_asked(self, store):
        now = utc_now()
        ops = seed(store, [make_op(status=Status.SUCCEEDED, endtime=now, runas=who, name=name, shard=SHARDS[i])
                           for i, (who, name) in enumerate([("alice", "a_Job"), ("alice", "b_Job"), ("bob", "a_Job"),
                                                            ("", "a_Job")])])
        since = now - timedelta(minutes=1)
        assert len(list(store.finished(since))) == len(ops)
        assert sorted(f.name for f in store.finished(since, owner="alice")) == ["a_Job", "b_Job"]
        assert len(list(store.finished(since, owner="alice", name="a_Job"))) == 1
        assert len(list(store.finished(since, name="a_Job"))) == 3

    def test_purge_deletes_the_finish_marker_with_the_row(self, store):
        now = utc_now()
        op = seed(store, [make_op(status=Status.FAILED, endtime=now, expires=now - timedelta(seconds=1))])[0]
        assert len(list(store.finished(now - timedelta(minutes=1)))) == 1
        store.delete_expired(store.list_expired(now))
        assert list(store.finished(now - timedelta(minutes=1))) == [] and op.id

    def test_ping_succeeds_when_storage_answers(self, store):
        store.ping()

    # --- idempotency keys -----------------------------------------------------------------------

    def test_a_keyed_row_is_inserted_with_its_key_which_names_it_not_yet_accepted(self, store):
        op = store.create(keyed_op("order-1"))
        claim = store.find_key(op.idempotencykey)
        assert (claim.operation_id, claim.accepted) == (op.id, False) and claim.etag
        assert store.get(op.id).idempotencykey == op.idempotencykey
        assert store.find_key(key_hash("", "order-2")) is None
        assert ids(store.list(ListQuery(top=10)).operations) == [op.id]  # the key's row is no operation

    def test_a_second_row_with_a_taken_key_is_refused_and_writes_nothing(self, store):
        first = store.create(keyed_op("order-1"))
        second = keyed_op("order-1", inputs={"Other": True})
        with pytest.raises(ConcurrencyConflict):
            store.create(second)
        with pytest.raises(OperationNotFound):
            store.get(second.id)
        assert store.find_key(first.idempotencykey).operation_id == first.id
        other_caller = store.create(keyed_op("order-1", runas="someone-else"))  # keys are per caller
        assert store.find_key(other_caller.idempotencykey).operation_id == other_caller.id

    def test_accepting_a_key_on_a_stale_etag_conflicts_and_on_its_own_succeeds(self, store):
        op = store.create(keyed_op("order-1"))
        read = store.find_key(op.idempotencykey)
        store.accept_key(op.idempotencykey)
        with pytest.raises(ConcurrencyConflict):
            store.accept_key(op.idempotencykey, etag=read.etag)
        fresh = store.find_key(op.idempotencykey)
        store.accept_key(op.idempotencykey, etag=fresh.etag)
        assert store.find_key(op.idempotencykey).accepted
        with pytest.raises(ConcurrencyConflict):
            store.accept_key(key_hash("", "never-sent"), etag=fresh.etag)

    def test_delete_takes_the_key_with_an_unaccepted_row_and_leaves_an_accepted_one(self, store):
        withdrawn, accepted = store.create(keyed_op("a")), store.create(keyed_op("b"))
        store.accept_key(accepted.idempotencykey)
        store.delete(withdrawn)
        store.delete(accepted)
        with pytest.raises(OperationNotFound):
            store.get(withdrawn.id)
        assert store.find_key(withdrawn.idempotencykey) is None
        assert store.get(accepted.id).id == accepted.id and store.find_key(accepted.idempotencykey).accepted

    def test_purge_deletes_the_key_with_the_row_so_the_key_makes_a_new_operation_after(self, store):
        now = utc_now()
        op = store.create(keyed_op("order-1", runas="erin", expires=now - timedelta(seconds=1)))
        store.replace(op.with_changes(status=Status.SUCCEEDED, endtime=now))
        [expired] = store.list_expired(now)
        assert store.delete_expired([expired]) == 1
        assert store.find_key(op.idempotencykey) is None
        again = store.create(keyed_op("order-1", runas="erin"))
        assert store.find_key(op.idempotencykey).operation_id == again.id




class SubscriptionStoreContract:
    """Behaviour every SubscriptionStore must have. Subclasses provide ``subscriptions``: a fresh, empty store."""

    @pytest.fixture
    def subscriptions(self):
        raise NotImplementedError("an implementation's test class says how to build its store")

    @staticmethod
    def _sub(name: str = "") -> Subscription:
        import uuid

        return Subscription(id=str(uuid.uuid4()), event="OnBackgroundOperationComplete",
                            notification_url="https://flow.example/hook?sig=S", operation_name=name,
                            createdon=datetime(2030, 1, 1, tzinfo=UTC))

    def test_create_then_get_round_trips_every_field(self, subscriptions):
        sub = subscriptions.create(self._sub("sample_Echo"))
        assert subscriptions.get(sub.id) == sub

    def test_list_holds_every_subscription(self, subscriptions):
        made = [subscriptions.create(self._sub()) for _ in range(3)]
        assert sorted(s.id for s in subscriptions.list()) == sorted(s.id for s in made)

    def test_replace_writes_its_breaker_only_over_the_version_it_read(self, subscriptions):
        sub = subscriptions.create(self._sub())
        paused = dataclasses.replace(sub, failures=5, pauseduntil=datetime(2030, 1, 1, 0, 1, tzinfo=UTC),
                                     pausedsince=datetime(2030, 1, 1, tzinfo=UTC), lasterror="503")
        stored = subscriptions.replace(paused)
        assert subscriptions.get(sub.id) == stored and stored.etag != sub.etag
        assert (stored.failures, stored.pauseduntil, stored.pausedsince, stored.lasterror) == (
            5, paused.pauseduntil, paused.pausedsince, "503")
        with pytest.raises(ConcurrencyConflict):
            subscriptions.replace(dataclasses.replace(sub, failures=1))  # read before the write above
        subscriptions.delete(sub.id)
        with pytest.raises(SubscriptionNotFound):
            subscriptions.replace(stored)

    def test_delete_removes_it_and_a_second_delete_is_not_found(self, subscriptions):
        sub = subscriptions.create(self._sub())
        subscriptions.delete(sub.id)
        with pytest.raises(SubscriptionNotFound):
            subscriptions.get(sub.id)
        with pytest.raises(SubscriptionNotFound):
            subscriptions.delete(sub.id)
        assert subscriptions.list() == []


class KeptEventsContract:
    """Behaviour every KeptEvents must have. Subclasses provide ``kept``: a fresh, empty one."""

    @staticmethod
    def _event(second: int, name: str = "op") -> KeptEvent:
        since = datetime(2030, 1, 1, 0, 0, second, tzinfo=UTC)
        return KeptEvent(kept_key(since, f"{name}{second}"), {"InputParameters": {"BackgroundOperationId": name}},
                         since)

    def test_each_subscriber_finds_the_events_kept_for_it_oldest_first(self, kept):
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        late, early, other = self._event(30), self._event(10), self._event(20)
        kept.keep(late, [a, b])
        kept.keep(early, [a])
        kept.keep(other, [b])
        assert kept.waiting(a, 10) == [early, late] and kept.waiting(b, 10) == [other, late]
        assert kept.waiting(a, 1) == [early] and kept.waiting(str(uuid.uuid4()), 10) == []

    def test_waiting_goes_on_after_a_key(self, kept):
        a = str(uuid.uuid4())
        events = [self._event(second) for second in (1, 2, 3)]
        for event in events:
            kept.keep(event, [a])
        assert kept.waiting(a, 10, after=events[0].key) == events[1:]
        assert kept.waiting(a, 1, after=events[1].key) == events[2:] and kept.waiting(a, 10, after=events[2].key) == []

    def test_an_event_sent_to_one_subscriber_is_still_kept_for_the_others_and_can_be_kept_again(self, kept):
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        event = self._event(5)
        kept.keep(event, [a, b])
        kept.sent(event, a)
        assert kept.waiting(a, 10) == [] and kept.waiting(b, 10) == [event]
        kept.keep(event, [a])  # its next try found it paused again
        assert kept.waiting(a, 10) == [event] and kept.waiting(b, 10) == [event]

    def test_drop_before_forgets_the_older_events_for_everyone_and_sent_after_it_does_nothing(self, kept):
        a = str(uuid.uuid4())
        old, new = self._event(1), self._event(50)
        kept.keep(old, [a])
        kept.keep(new, [a])
        assert kept.drop_before(kept_key(datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC), "")) == 1
        assert kept.waiting(a, 10) == [new]
        kept.sent(old, a)
        assert kept.waiting(a, 10) == [new] and kept.drop_before(new.key) == 0


class LinesContract:
    """Behaviour every Lines must have. Subclasses provide ``lines``: a fresh, empty one."""

    @staticmethod
    def _tickets(count: int, start: datetime = datetime(2030, 1, 1, tzinfo=UTC)) -> list[str]:
        return [ticket(new_operation_id(start), start + timedelta(milliseconds=n), n % 3) for n in range(count)]

    def test_first_gives_the_tickets_in_the_order_they_were_taken_whatever_order_they_joined_in(self, lines):
        taken = self._tickets(5)
        lines.join("k", [taken[3], taken[0]])
        lines.join("k", [taken[4], taken[1], taken[2]])
        assert lines.first("k", 10) == taken and lines.first("k", 2) == taken[:2]

    def test_lines_are_apart_and_joining_again_keeps_one_ticket(self, lines):
        taken = self._tickets(3)
        lines.join("a", taken[:2])
        lines.join("b", taken[2:])
        lines.join("a", taken[:1])
        assert lines.first("a", 10) == taken[:2] and lines.first("b", 10) == taken[2:]
        assert lines.first("nobody's", 10) == []

    def test_more_tickets_than_one_transaction_holds_join_at_once(self, lines):
        taken = self._tickets(250)
        lines.join("k", list(reversed(taken)))
        assert lines.first("k", 300) == taken

    def test_leave_takes_a_ticket_out_and_leaving_twice_is_fine(self, lines):
        taken = self._tickets(3)
        lines.join("k", taken)
        lines.leave("k", taken[0])
        lines.leave("k", taken[0])
        lines.leave("other", taken[1])
        assert lines.first("k", 10) == taken[1:]


class WorkQueueContract:
    """What the services rely on from ``WorkQueue``, and what a host sees of its messages.

    An implementation's test class provides ``work_queue`` (the port) and ``host``: ``receive(
    visibility_seconds, events=False)`` returning a message with ``id``, ``pop_receipt``,
    ``dequeue_count`` and ``body`` (or None), and ``delete(message_id, pop_receipt)`` → False
    when the pop receipt is stale, as the Functions host does them.
    """

    def test_a_message_is_received_with_its_id_and_the_row_it_carries(self, work_queue, host):
        row = make_op(etag='W/"1"')
        message_id = work_queue.enqueue(row.id, row=row)
        message = host.receive(30)
        assert (message.id, message.dequeue_count) == (message_id, 1)
        assert decode(message.body) == WorkMessage(row.id, row) and decode(message.body).row == row
        assert host.receive(30) is None  # hidden while it is being worked on

    def test_a_message_without_a_row_is_the_bare_id(self, work_queue, host):
        row = make_op()
        work_queue.enqueue(row.id)
        assert host.receive(30).body == row.id

    def test_a_delayed_message_stays_hidden_until_its_delay_has_passed(self, work_queue, host):
        started = time.monotonic()
        work_queue.enqueue(make_op().id, delay_seconds=1)
        assert host.receive(30) is None
        message = wait_until(lambda: host.receive(30), timeout=10, interval=0.1)
        assert time.monotonic() - started >= 0.9 and message.dequeue_count == 1

    def test_a_received_message_delayed_again_comes_back_as_its_next_delivery(self, work_queue, host):
        work_queue.enqueue(make_op().id)
        first = host.receive(30)
        work_queue.set_visibility(first.id, first.pop_receipt, 1)
        assert host.delete(first.id, first.pop_receipt) is False  # the host's delete: its receipt is stale
        again = wait_until(lambda: host.receive(30), timeout=10, interval=0.1)
        assert (again.id, again.dequeue_count) == (first.id, 2)
        assert host.delete(again.id, again.pop_receipt) is True

    def test_delaying_with_a_stale_pop_receipt_is_refused(self, work_queue, host):
        work_queue.enqueue(make_op().id)
        first = host.receive(1)
        again = wait_until(lambda: host.receive(30), timeout=10, interval=0.1)
        with pytest.raises(StorageUnavailable):
            work_queue.set_visibility(again.id, first.pop_receipt, 5)

    def test_a_delayed_event_stays_hidden_until_its_delay_has_passed(self, work_queue, host):
        work_queue.enqueue_event("later", delay_seconds=1)
        assert host.receive(30, events=True) is None
        assert wait_until(lambda: host.receive(30, events=True), timeout=10, interval=0.1).body == "later"

    def test_an_event_nobody_received_yet_can_be_brought_forward_or_deleted_and_then_not_changed(self, work_queue,
                                                                                                   host):
        sent = work_queue.reschedule_event(work_queue.enqueue_event("watch", delay_seconds=60), 0)
        received = wait_until(lambda: host.receive(30, events=True), timeout=10, interval=0.1)
        assert received.body == "watch"
        with pytest.raises(StorageUnavailable):  # received: its pop receipt is the receiver's now
            work_queue.delete_event(sent)
        gone = work_queue.enqueue_event("gone", delay_seconds=60)
        work_queue.delete_event(gone)
        with pytest.raises(StorageUnavailable):
            work_queue.reschedule_event(gone, 0)

    def test_events_go_to_their_own_queue(self, work_queue, host):
        work_queue.enqueue_event('{"subscription": "s", "event": {}}')
        assert host.receive(30) is None
        assert host.receive(30, events=True).body == '{"subscription": "s", "event": {}}'
