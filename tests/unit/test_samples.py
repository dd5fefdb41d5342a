"""The sample operations (shared/operations/samples.py) run with a fake context, no storage."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from shared.api import systemjobs, views
from shared.domain.errors import NonRetryableError, OperationError, OperationInterrupted
from shared.domain.states import Status
from shared.operations.context import OperationContext
from shared.operations.samples import DEFAULT_ERROR_CODE, echo, fail, sleep, sync_records
from shared.services.handlers import handler_context, operations_visible_to
from shared.storage.ports import ListQuery


class FakeRow:
    """The status a handler sees, changeable mid-run, and the progress it reports."""

    def __init__(self, status: Status = Status.IN_PROGRESS) -> None:
        self.status = status
        self.progress: list[tuple[int, str]] = []
        self.status_reads = 0

    def read_status(self) -> Status:
        self.status_reads += 1
        return self.status

    def context(self, attempt: int = 1) -> OperationContext:
        return OperationContext(operation_id="id", attempt=attempt, status=self.read_status,
                                progress=lambda percent, message: self.progress.append((percent, message)))


def test_echo_returns_its_inputs_as_a_copy():
    inputs = {"A": 1, "B": {"c": [1, 2]}}
    result = echo(inputs, FakeRow().context())
    assert result == inputs and result is not inputs


@pytest.mark.parametrize("attempt, fail_times", [(1, 1), (1, 3), (2, 3), (3, 3)])
def test_fail_fails_retryably_while_attempt_is_at_most_fail_times(attempt, fail_times):
    with pytest.raises(OperationError) as info:
        fail({"FailTimes": fail_times}, FakeRow().context(attempt))
    assert info.value.retryable is True and not isinstance(info.value, NonRetryableError)
    assert info.value.code == DEFAULT_ERROR_CODE
    assert f"attempt {attempt}" in str(info.value)


@pytest.mark.parametrize("attempt, fail_times", [(1, 0), (1, None), (2, 1), (4, 3)])
def test_fail_succeeds_after_fail_times_reporting_the_attempt(attempt, fail_times):
    assert fail({"FailTimes": fail_times}, FakeRow().context(attempt)) == {"Attempts": attempt}


def test_fail_without_inputs_succeeds_at_once():
    assert fail({}, FakeRow().context()) == {"Attempts": 1}


@pytest.mark.parametrize("attempt", [1, 5])
def test_fail_non_retryable_fails_for_good_whatever_the_attempt(attempt):
    with pytest.raises(NonRetryableError) as info:
        fail({"NonRetryable": True, "FailTimes": 0}, FakeRow().context(attempt))
    assert info.value.retryable is False


def test_fail_uses_the_requested_error_code():
    with pytest.raises(OperationError) as info:
        fail({"FailTimes": 1, "ErrorCode": -42}, FakeRow().context())
    assert info.value.code == -42
    with pytest.raises(NonRetryableError) as info:
        fail({"NonRetryable": True, "ErrorCode": -43}, FakeRow().context())
    assert info.value.code == -43


def test_sleep_sleeps_about_the_time_asked_and_reports_progress():
    row = FakeRow()
    started = time.monotonic()
    assert sleep({"Seconds": 0.3}, row.context()) == {"SleptSeconds": 0.3}
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert len(row.progress) >= 2
    percents = [p for p, _ in row.progress]
    assert percents == sorted(percents) and all(0 <= p <= 100 for p in percents)
    assert all(message.endswith("s left") for _, message in row.progress)


def test_sleep_of_zero_seconds_returns_at_once():
    assert sleep({"Seconds": 0}, FakeRow().context()) == {"SleptSeconds": 0}


@pytest.mark.parametrize("asked", [Status.CANCELING, Status.PAUSING], ids=lambda s: s.name)
def test_sleep_stops_early_when_a_cancel_or_pause_is_asked(asked):
    row = FakeRow(asked)
    started = time.monotonic()
    with pytest.raises(OperationInterrupted):
        sleep({"Seconds": 30}, row.context())
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("asked", [Status.CANCELING, Status.PAUSING], ids=lambda s: s.name)
def test_sleep_notices_a_request_made_while_it_runs(asked):
    row = FakeRow()

    def progress(percent, message):
        row.progress.append((percent, message))
        if len(row.progress) == 2:
            row.status = asked

    context = OperationContext(status=row.read_status, progress=progress)
    started = time.monotonic()
    with pytest.raises(OperationInterrupted):
        sleep({"Seconds": 30}, context)
    assert time.monotonic() - started < 2
    assert len(row.progress) == 2


def test_context_says_which_request_was_made():
    row = FakeRow()
    context = row.context()
    assert not context.cancel_requested and not context.pause_requested
    context.raise_if_interrupted()
    row.status = Status.CANCELING
    assert context.cancel_requested and not context.pause_requested
    row.status = Status.PAUSING
    assert context.pause_requested and not context.cancel_requested


def test_context_clamps_progress_to_0_100_and_shortens_the_message():
    row = FakeRow()
    context = row.context()
    context.report_progress(150, "x" * 500)
    context.report_progress(-5)
    context.report_progress(42.9, "half")
    assert row.progress == [(100, "x" * 200), (0, ""), (42, "half")]


@pytest.mark.parametrize("inputs, message", [
    ({"SyncMode": "Partial"}, "SyncMode must be Full or Incremental"),
    ({"SyncMode": "Incremental"}, "needs LastSyncDate"),
    ({"BatchSize": 0}, "BatchSize must be between 1 and 1000"),
    ({"BatchSize": 1001}, "BatchSize must be between 1 and 1000"),
])
def test_sync_refuses_bad_options_for_good_before_listing_any_operation(inputs, message):
    def no_listing(query):
        raise AssertionError("operations were listed before the options were checked")

    context = OperationContext(list_operations=no_listing)
    with pytest.raises(NonRetryableError, match=message):
        sync_records({"EntityName": "backgroundoperations", "ExternalSystemUrl": "https://example.com/in", **inputs},
                     context)


@pytest.mark.parametrize("name", ["backgroundoperations", "BackgroundOperations"])
def test_no_handler_may_open_the_apps_own_table_through_the_context(name):
    class Storage:
        def get_table_client(self, table):
            raise AssertionError(f"{table} was opened")

    context = OperationContext(table_service=Storage(), own_tables=frozenset({"backgroundoperations"}))
    with pytest.raises(NonRetryableError, match="this app's own records"):
        context.table(name)


# The API's entity sets, as the refusal names them.
ALLOWED = "backgroundoperations or asyncoperations"
SECRET_CALLBACK = "https://erp.example.com/hook?sv=2024&sig=CALLBACK-SAS-SECRET"


class Receiver:
    """What the sync sample POSTs, in order, as the external system receives it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def post_json(self, url: str, payload) -> int:
        self.bodies.append(json.loads(json.dumps(payload)))
        return 200

    @property
    def records(self) -> list[dict]:
        return [record for body in self.bodies for record in body["records"]]


def sync_as(svc, runas: str, receiver: Receiver) -> OperationContext:
    """A context that lists operations as the API lists them to ``runas`` and POSTs to ``receiver``."""
    return OperationContext(runas=runas, list_operations=operations_visible_to(svc, runas),
                            post_json=receiver.post_json)


def stored(svc, make_op, **columns):
    return svc.store.create(make_op(**columns))


def sync(context: OperationContext, **inputs) -> dict:
    return sync_records({"EntityName": "backgroundoperations", "ExternalSystemUrl": "https://example.com/in",
                         **inputs}, context)


def newest_first(ops) -> list:
    return sorted(ops, key=lambda op: op.id)


@pytest.fixture
def signed_in(memory_svc):
    """The in-memory services with App Service Authentication on."""
    memory_svc.settings = dataclasses.replace(memory_svc.settings, platform_authentication=True)
    return memory_svc


@pytest.mark.parametrize("name", ["anothertable", "Contacts", "backgroundoperation", "bgopsops1234",
                                  "backgroundoperationsbgopsexpiry", ""])
def test_sync_refuses_any_entity_name_but_the_apis_entity_sets_naming_them(name):
    def no_listing(query):
        raise AssertionError("operations were listed for an entity set the sample does not send")

    with pytest.raises(NonRetryableError, match=ALLOWED) as refused:
        sync_records({"EntityName": name, "ExternalSystemUrl": "https://example.com/in"},
                     OperationContext(list_operations=no_listing))
    assert refused.value.retryable is False and "never the rows of a table" in str(refused.value)


def test_sync_sends_the_callers_own_operations_as_the_api_shows_them_and_never_a_callback_url(signed_in, make_op):
    receiver = Receiver()
    mine = [stored(signed_in, make_op, runas="alice", callbackurl=SECRET_CALLBACK),
            stored(signed_in, make_op, runas="alice")]
    assert sync(sync_as(signed_in, "alice", receiver)) == {"RecordsSynced": 2, "Batches": 1}
    assert receiver.bodies[0]["entityName"] == "backgroundoperations"
    assert receiver.records == [views.entity(op) for op in newest_first(mine)]
    sent = json.dumps(receiver.bodies)
    assert "CALLBACK-SAS-SECRET" not in sent and "erp.example.com" not in sent and "callbackurl" not in sent


def test_sync_with_a_runas_never_sends_another_principals_operations(signed_in, make_op):
    receiver = Receiver()
    mine = stored(signed_in, make_op, runas="alice")
    theirs = [stored(signed_in, make_op, runas="bob", callbackurl=SECRET_CALLBACK),
              stored(signed_in, make_op, runas="")]
    assert sync(sync_as(signed_in, "alice", receiver), BatchSize=1) == {"RecordsSynced": 1, "Batches": 1}
    assert [r["backgroundoperationid"] for r in receiver.records] == [mine.id]
    sent = json.dumps(receiver.bodies)
    assert all(op.id not in sent for op in theirs) and "CALLBACK-SAS-SECRET" not in sent


def test_the_context_lists_only_what_its_runas_may_see_whatever_owner_the_handler_asks_for(signed_in, make_op):
    mine, theirs = stored(signed_in, make_op, runas="alice"), stored(signed_in, make_op, runas="bob")
    lister = operations_visible_to(signed_in, "alice")
    assert [op.id for op in lister(ListQuery(owner="bob")).operations] == [mine.id]
    assert [op.id for op in lister(ListQuery(owner=None)).operations] == [mine.id]
    wired = handler_context(signed_in, runas="bob")
    assert [op.id for op in wired.list_operations().operations] == [theirs.id]


def test_sync_as_nobody_while_authentication_is_on_is_refused_for_good(signed_in, make_op):
    stored(signed_in, make_op, runas="alice")
    receiver = Receiver()
    with pytest.raises(NonRetryableError, match="no signed-in principal"):
        sync(sync_as(signed_in, "", receiver))
    assert receiver.bodies == []


def test_sync_without_authentication_sends_every_operation_as_the_api_lists_them_to_anyone(memory_svc, make_op):
    receiver = Receiver()
    everyone = [stored(memory_svc, make_op, runas=""), stored(memory_svc, make_op, runas="alice")]
    assert sync(sync_as(memory_svc, "", receiver))["RecordsSynced"] == 2
    assert receiver.records == [views.entity(op) for op in newest_first(everyone)]


def test_sync_of_asyncoperations_sends_the_rows_as_system_jobs(signed_in, make_op):
    receiver = Receiver()
    mine = stored(signed_in, make_op, runas="alice", callbackurl=SECRET_CALLBACK)
    sync(sync_as(signed_in, "alice", receiver), EntityName="AsyncOperations")
    assert receiver.bodies[0]["entityName"] == "asyncoperations"
    assert receiver.records == [systemjobs.entity(mine)]
    assert "CALLBACK-SAS-SECRET" not in json.dumps(receiver.bodies)


def test_incremental_sync_sends_only_rows_changed_at_or_after_last_sync_date(signed_in, make_op):
    receiver = Receiver()
    since = datetime(2030, 6, 1, 12, tzinfo=UTC)
    stored(signed_in, make_op, runas="alice", createdon=since - timedelta(days=1),
           modifiedon=since - timedelta(seconds=1))
    changed = [stored(signed_in, make_op, runas="alice", createdon=since, modifiedon=since),
               stored(signed_in, make_op, runas="alice", createdon=since - timedelta(days=2),
                      modifiedon=since + timedelta(minutes=5))]
    outputs = sync(sync_as(signed_in, "alice", receiver), SyncMode="Incremental",
                   LastSyncDate=since.isoformat().replace("+00:00", "Z"))
    assert outputs["RecordsSynced"] == 2
    assert [r["backgroundoperationid"] for r in receiver.records] == [op.id for op in newest_first(changed)]


def test_full_sync_ignores_last_sync_date(signed_in, make_op):
    receiver = Receiver()
    changed = datetime(2030, 6, 1, tzinfo=UTC)
    stored(signed_in, make_op, runas="alice", createdon=changed, modifiedon=changed)
    outputs = sync(sync_as(signed_in, "alice", receiver), LastSyncDate=(changed + timedelta(days=1)).isoformat())
    assert outputs["RecordsSynced"] == 1


def test_sync_sends_batches_of_batch_size_reading_page_after_page(signed_in, make_op):
    receiver = Receiver()
    mine = [stored(signed_in, make_op, runas="alice") for _ in range(5)]
    reads: list[ListQuery] = []
    lister = operations_visible_to(signed_in, "alice")

    def counted(query: ListQuery):
        reads.append(query)
        return lister(query)

    context = OperationContext(runas="alice", list_operations=counted, post_json=receiver.post_json)
    assert sync(context, BatchSize=2) == {"RecordsSynced": 5, "Batches": 3}
    assert [len(body["records"]) for body in receiver.bodies] == [2, 2, 1]
    assert receiver.records == [views.entity(op) for op in newest_first(mine)]
    assert [q.top for q in reads] == [2, 2, 2] and reads[0].after is None and reads[1].after is not None


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_external_system_fails_the_attempt_retryably_saying_what_it_answered_and_promising_nothing(
        signed_in, make_op, status):
    # The app decides whether a failed attempt is retried: a run canceled meanwhile is not, and its row keeps
    # this message.
    stored(signed_in, make_op, runas="alice")
    context = OperationContext(runas="alice", list_operations=operations_visible_to(signed_in, "alice"),
                               post_json=lambda url, payload: status)
    with pytest.raises(OperationError) as failed:
        sync(context)
    assert failed.value.retryable and str(failed.value) == f"The external system answered {status}."
