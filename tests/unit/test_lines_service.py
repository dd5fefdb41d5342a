"""One at a time, on the in-memory stores and a fake clock: operations that share a line run strictly one
after another in the order they became ready; a waiting one sends no polling messages, is woken at once when
its turn comes, and can be cancelled; a holder that died or was purged does not block the line.

Messages are taken as the host takes them (``MemoryHost``) and run with ``process_message``, so the tests
decide the order in which messages arrive. What waiting costs in requests is counted on Azurite
(tests/integration/test_lines.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading

import pytest
from helpers import delivery, wait_until

from shared.domain.callers import EVERYONE
from shared.domain.lines import ORGANIZATION, caller_key
from shared.domain.states import Event, Status
from shared.operations.registry import OperationDefinition, Parameter, ParamType
from shared.services import worker
from shared.services.container import Services
from shared.services.control import Change, cancel, change
from shared.services.lines import waiting_behind
from shared.services.submission import Submission, submit
from shared.services.worker import fail_poisoned, process_message
from shared.storage.keys import partition_of
from shared.storage.work_messages import decode

BASE_URL = "http://127.0.0.1:7071"


@pytest.fixture
def svc(make_svc) -> Services:
    services = make_svc(retry_base_seconds=0.2, max_attempts=4, line_recheck_seconds=600)
    gate = threading.Event()
    services.registry.register(OperationDefinition(
        name="test_PerCustomer", handler=lambda inputs, context: {"Customer": inputs["Customer"]},
        inputs=(Parameter("Customer", ParamType.STRING),), concurrency_key_input="Customer"))
    services.registry.register(OperationDefinition(
        name="test_Gate", handler=lambda inputs, context: {"Opened": gate.wait(30)}))
    services.gate = gate  # type: ignore[attr-defined]
    return services


def queued(svc: Services, name: str = "sample_Echo", inputs: dict | None = None, *, line: str = ORGANIZATION,
           **options):
    """Submit one job; the clock moves on a millisecond, as between two requests (tickets are in ms)."""
    op = submit(svc, Submission(name=name, inputs={} if inputs is None else inputs, base_url=BASE_URL,
                                default_line=line, **options))
    svc.clock.pass_(0.001)  # type: ignore[attr-defined]
    return op


def _messages(host) -> dict[str, list]:
    """Every visible message, by operation id (received: the caller runs or drops them)."""
    found: dict[str, list] = {}
    while (message := host.try_receive()) is not None:
        found.setdefault(decode(message.content).operation_id, []).append(message)
    return found


def _run(svc, message, host=None) -> None:
    """Run the message as the worker function; then, as the host does once it returns, delete it."""
    process_message(svc, delivery(message))
    if host is not None:
        host.delete(message)


def _status(svc, op) -> Status:
    return svc.store.get(op.id).status


def test_a_job_behind_another_waits_ready_and_its_message_comes_back_only_after_the_recheck(svc, host):
    first, second = queued(svc, "test_Gate"), queued(svc)
    messages = _messages(host)
    runner = threading.Thread(target=_run, args=(svc, messages[first.id][0], host))
    runner.start()
    wait_until(lambda: _status(svc, first) is Status.IN_PROGRESS, message="the first job to run")
    _run(svc, messages[second.id][0], host)
    assert _status(svc, second) is Status.WAITING_FOR_RESOURCES  # 0/0 Waiting For Resources
    # Two messages: the running job's, and the waiting job's own, hidden for the recheck interval.
    assert host.try_receive() is None and host.count() == 2
    svc.gate.set()
    runner.join(30)
    assert _status(svc, first) is Status.SUCCEEDED
    [wake] = wait_until(lambda: _messages(host).get(second.id), message="the wake of the second job")
    assert decode(wake.content).wake
    _run(svc, wake)
    assert _status(svc, second) is Status.SUCCEEDED
    assert svc.lines.first(ORGANIZATION, 5) == []  # both gave their tickets up


def test_jobs_run_in_the_order_they_were_submitted_whatever_order_their_messages_arrive_in(svc, host):
    ops = [queued(svc) for _ in range(5)]
    order = []
    messages = {op_id: found[0] for op_id, found in _messages(host).items()}
    for op in reversed(ops):  # the last submitted arrives first: none but the first may start
        _run(svc, messages[op.id])
    assert [_status(svc, op) for op in ops] == [Status.SUCCEEDED] + [Status.WAITING_FOR_RESOURCES] * 4
    order.append(ops[0].id)
    for _ in range(4):  # each one, finishing, wakes exactly the next
        [(op_id, [wake])] = wait_until(lambda: list(_messages(host).items()), message="a wake")
        _run(svc, wake)
        order.append(op_id)
    assert order == [op.id for op in ops]
    ends = [svc.store.get(op.id) for op in ops]
    assert all(a.endtime <= b.starttime for a, b in itertools.pairwise(ends))


def test_cancelling_a_waiting_job_ends_it_at_once_and_the_next_one_is_woken_when_it_was_first(svc, host):
    first, second, third = queued(svc, "test_Gate"), queued(svc), queued(svc)
    messages = _messages(host)
    runner = threading.Thread(target=_run, args=(svc, messages[first.id][0]))
    runner.start()
    wait_until(lambda: _status(svc, first) is Status.IN_PROGRESS, message="the first job to run")
    assert cancel(svc, second.id, EVERYONE).status is Status.CANCELED  # never running: no Canceling
    svc.gate.set()
    runner.join(30)
    [(woken, [wake])] = wait_until(lambda: list(_messages(host).items()), message="a wake")
    assert woken == third.id  # the canceled job gave its place up
    _run(svc, wake)
    assert _status(svc, third) is Status.SUCCEEDED


def test_a_holder_that_died_holds_the_line_until_its_attempt_is_declared_dead(svc, host):
    holder, waiting = queued(svc, "test_Gate"), queued(svc)
    messages = _messages(host)
    dying = threading.Thread(target=_run, args=(svc, messages[holder.id][0]), daemon=True)
    dying.start()  # its handler never returns: as good as a worker that died mid-run
    wait_until(lambda: _status(svc, holder) is Status.IN_PROGRESS, message="the holder to run")
    _run(svc, messages[waiting.id][0])
    assert _status(svc, waiting) is Status.WAITING_FOR_RESOURCES
    fail_poisoned(svc, messages[holder.id][0].content)  # the host gave up on its message: declared dead
    assert _status(svc, holder) is Status.FAILED
    [wake] = wait_until(lambda: _messages(host).get(waiting.id), message="the waiting job's wake")
    _run(svc, wake)
    assert _status(svc, waiting) is Status.SUCCEEDED
    svc.gate.set()


def test_a_ticket_whose_operation_was_purged_or_finished_without_leaving_is_taken_out_by_the_next(svc, host):
    gone, done, next_up = queued(svc), queued(svc), queued(svc)
    svc.store.delete(gone)  # purged (or never accepted): its ticket stays behind
    svc.store.replace(svc.store.get(done.id).with_changes(status=Status.SUCCEEDED))  # ended without leaving
    _run(svc, _messages(host)[next_up.id][0])
    assert _status(svc, next_up) is Status.SUCCEEDED
    assert svc.lines.first(ORGANIZATION, 5) == []


def test_a_lost_wake_is_made_up_for_by_the_recheck(svc, host):
    quick = dataclasses.replace(svc, settings=dataclasses.replace(svc.settings, line_recheck_seconds=1))
    first, second = queued(quick), queued(quick)
    messages = _messages(host)
    svc.lines.join(ORGANIZATION, [svc.store.get(first.id).lineticket])
    svc.store.replace(svc.store.get(first.id).with_changes(status=Status.IN_PROGRESS))  # running, say
    _run(quick, messages[second.id][0])  # waits; comes back after 1 s
    svc.store.replace(svc.store.get(first.id).with_changes(status=Status.SUCCEEDED))  # ended; no wake sent
    recheck = host.receive(timeout=10)
    assert decode(recheck.content).operation_id == second.id and not decode(recheck.content).wake
    _run(quick, recheck)
    assert _status(svc, second) is Status.SUCCEEDED


def test_pausing_the_holder_lets_the_next_run_and_resuming_puts_it_at_the_back(svc, host, monkeypatch):
    monkeypatch.setattr(worker, "STATUS_REFRESH_SECONDS", 0.05)  # the sleeping holder sees the pause at once
    holder, second = queued(svc, "sample_Sleep", {"Seconds": 20}), queued(svc)
    messages = _messages(host)
    runner = threading.Thread(target=_run, args=(svc, messages[holder.id][0]))
    runner.start()
    wait_until(lambda: _status(svc, holder) is Status.IN_PROGRESS, message="the holder to run")
    change(svc, holder.id, Change(Event.PAUSE), EVERYONE)
    runner.join(30)
    assert _status(svc, holder) is Status.WAITING
    [wake] = wait_until(lambda: _messages(host).get(second.id), message="the next job's wake")
    third = queued(svc)
    change(svc, holder.id, Change(Event.RESUME), EVERYONE)
    line = svc.lines.first(ORGANIZATION, 5)
    assert [t[-36:] for t in line] == [second.id, third.id, holder.id]
    _run(svc, wake)
    assert _status(svc, second) is Status.SUCCEEDED


def test_one_line_per_key_per_input_value_and_per_callers_token(svc, host):
    a1 = queued(svc, "test_PerCustomer", {"Customer": "a"}, line="")
    b1 = queued(svc, "test_PerCustomer", {"Customer": "b"}, line="")
    a2 = queued(svc, "test_PerCustomer", {"Customer": "a"}, line="")
    alice = queued(svc, "sample_Echo", dependency_token="nightly", runas="alice")
    bob = queued(svc, "sample_Echo", dependency_token="nightly", runas="bob")
    plain = queued(svc, "sample_Echo", line="")
    messages = _messages(host)
    for op in (a2, b1, alice, bob, plain):
        _run(svc, messages[op.id][0])
    assert _status(svc, a2) is Status.WAITING_FOR_RESOURCES  # behind a1, same customer
    assert {_status(svc, op) for op in (b1, alice, bob, plain)} == {Status.SUCCEEDED}
    assert svc.store.get(alice.id).concurrencykey == caller_key("nightly", "alice") != caller_key("nightly", "bob")
    assert svc.store.get(plain.id).concurrencykey == "" and not svc.store.get(plain.id).lineticket
    assert partition_of(svc.store.get(a1.id).concurrencykey) != partition_of(svc.store.get(b1.id).concurrencykey)


@pytest.mark.parametrize("path", ["message came back", "message came back, its callback owed", "message poisoned"])
def test_a_holder_that_ended_but_died_before_handing_on_has_its_line_handed_on_by_its_message(svc, host, path,
                                                                                             callbacks):
    holder = queued(svc, callback_url=callbacks.new_url() if "callback" in path else None)
    waiting = queued(svc)
    messages = _messages(host)
    _run(svc, messages[waiting.id][0])  # the holder is first: this one waits
    row = svc.store.get(holder.id)  # its worker ended it (the ticket left the row) and died before leaving the line
    now = row.createdon
    svc.store.replace(row.apply(Event.START, now, messageid=messages[holder.id][0].id)
                      .conclude(Event.SUCCEED, now, outputs={}, lineticket=""))
    if path.startswith("message came back"):
        process_message(svc, dataclasses.replace(delivery(messages[holder.id][0]), dequeue_count=2))
    else:
        fail_poisoned(svc, messages[holder.id][0].content)
    [wake] = wait_until(lambda: _messages(host).get(waiting.id), message="the waiting job's wake")
    assert decode(wake.content).wake
    _run(svc, wake)
    assert _status(svc, waiting) is Status.SUCCEEDED
    if holder.callbackurl:
        assert len(callbacks.calls(holder.callbackurl)) == 1  # delivered by the message that came back


def test_a_waiting_job_says_which_job_it_waits_behind_without_changing_the_line(svc, host):
    first, second, third = queued(svc), queued(svc), queued(svc)
    read = svc.store.get
    assert waiting_behind(svc, read(first.id)) is None  # its own turn
    assert waiting_behind(svc, read(third.id)) == first.id  # whose turn it is, not the one just ahead
    tickets = svc.lines.first(ORGANIZATION, 5)
    svc.store.delete(read(first.id))  # its holder gone: a stale ticket, passed over but left in place
    assert waiting_behind(svc, read(third.id)) == second.id and svc.lines.first(ORGANIZATION, 5) == tickets
    assert waiting_behind(svc, read(second.id)) is None
    cancel(svc, third.id, EVERYONE)
    assert waiting_behind(svc, read(third.id)) is None  # no longer waiting
