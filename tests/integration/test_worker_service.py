"""What the worker costs in storage requests, counted at the transport on real Azurite: submit and process of
a quick operation, and of one whose message comes after the window in which it may run unrecorded. What the
worker does is tested on the in-memory stores (tests/unit/test_worker.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from helpers import delivery, warm_subscription_cache

from shared.bootstrap import build_services
from shared.domain.attempts import CANCEL_UNSURE_WINDOW, UNRECORDED_WINDOW
from shared.domain.callers import EVERYONE
from shared.domain.operation import Operation
from shared.domain.states import Status
from shared.services.container import Services
from shared.services.control import cancel
from shared.services.submission import Submission, submit
from shared.services.worker import process_message
from shared.settings import Settings
from shared.storage.metering import TransactionCounter

BASE_URL = "http://127.0.0.1:7071"


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def settings(storage_settings, unique_name) -> Settings:
    return Settings(storage=storage_settings, queue_name=unique_name("work"), table_name=unique_name("work"),
                    enable_samples=True)


def submitted(svc: Services, inputs: dict) -> Operation:
    return submit(svc, Submission(name="sample_Echo", inputs=inputs, base_url=BASE_URL))


def _counted_services(settings: Settings, counted_clients, counter: TransactionCounter) -> Services:
    """What build_services wires, over clients whose requests are counted at the transport."""
    return build_services(settings, clients=counted_clients(counter))


def test_submit_and_process_of_a_quick_echo_without_callback_costs_three_app_requests(settings, host,
                                                                                     counted_clients):
    counter = TransactionCounter()
    svc = _counted_services(settings, counted_clients, counter)
    warm_subscription_cache(svc)
    counter.reset()  # creating the table and queues is once per process

    op = submitted(svc, {"A": 1})
    submit_counts = dict(counter.counts)
    message = host.receive()  # the host's receive: batched, and not the app's
    process_message(svc, delivery(message))
    counts, total = dict(counter.counts), counter.total

    print(f"\nsubmit: {submit_counts}; submit + process: {counts} (total {total})")
    assert svc.store.get(op.id).status is Status.SUCCEEDED
    assert submit_counts == {"table POST": 1, "queue POST": 1}  # insert, enqueue
    # The message carries the row, and the attempt ends before it is due to be recorded: no read,
    # no In Progress write; one write (POST: the row and its expiry marker in one batch) ends it.
    assert counts == {"table POST": 2, "queue POST": 1}
    assert total == 3  # the host's receive share and delete come on top


def test_build_services_with_a_counter_counts_the_three_requests_of_submit_and_process(settings, host):
    counter = TransactionCounter()
    svc = build_services(settings, counter=counter)
    warm_subscription_cache(svc)
    counter.reset()
    submitted(svc, {"A": 1})
    process_message(svc, delivery(host.receive()))
    assert counter.total == 3, dict(counter.counts)


def _submitted_and_later(settings, counted_clients, seconds: timedelta) -> tuple[TransactionCounter, Services,
                                                                                  Services, Operation]:
    """Counted services, an operation submitted through them, and the same services ``seconds`` later."""
    counter = TransactionCounter()
    svc = _counted_services(settings, counted_clients, counter)
    warm_subscription_cache(svc)
    op = submitted(svc, {"A": 1})
    return counter, svc, dataclasses.replace(svc, clock=lambda: utc_now() + seconds + timedelta(seconds=1)), op


def test_a_message_received_after_the_window_records_the_start_on_the_carried_etag_before_running(
        settings, host, counted_clients):
    counter, svc, later, op = _submitted_and_later(settings, counted_clients, UNRECORDED_WINDOW)
    counter.reset()
    process_message(later, delivery(host.receive()))
    assert dict(counter.counts) == {"table PUT": 1, "table POST": 1}  # record (no read before it), end
    assert svc.store.get(op.id).status is Status.SUCCEEDED


def test_a_row_canceled_after_the_window_fails_the_workers_conditional_start_and_is_read_not_run(
        settings, host, counted_clients):
    counter, svc, later, op = _submitted_and_later(settings, counted_clients, CANCEL_UNSURE_WINDOW)
    assert cancel(later, op.id, EVERYONE).status is Status.CANCELED
    counter.reset()
    process_message(later, delivery(host.receive()))
    assert dict(counter.counts) == {"table PUT": 1, "table GET": 1}  # the start refused (412), then the read
    row = svc.store.get(op.id)
    assert (row.status, row.starttime, row.outputs) == (Status.CANCELED, None, None)
