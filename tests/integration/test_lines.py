"""What a job waiting in its line costs in storage requests, counted at the transport on real Azurite. How
lines behave is tested on the in-memory stores (tests/unit/test_lines_service.py)."""

from __future__ import annotations

import pytest
from helpers import delivery, warm_subscription_cache

from shared.bootstrap import build_services
from shared.domain.states import Status
from shared.services.container import Services
from shared.services.submission import Submission, submit
from shared.services.worker import process_message
from shared.settings import Settings
from shared.storage.metering import TransactionCounter
from shared.storage.work_messages import decode

BASE_URL = "http://127.0.0.1:7071"


@pytest.fixture
def settings(storage_settings, unique_name) -> Settings:
    return Settings(storage=storage_settings, queue_name=unique_name("line"), table_name=unique_name("line"),
                    enable_samples=True, line_recheck_seconds=600)


def queued(svc: Services):
    return submit(svc, Submission(name="sample_Echo", inputs={}, base_url=BASE_URL, default_line="organization"))


def _status(svc, op) -> Status:
    return svc.store.get(op.id).status


def test_a_waiting_jobs_look_at_its_line_costs_four_app_requests(settings, host, counted_clients):
    """What waiting costs: each recheck (every BGOPS_LINE_RECHECK_SECONDS) reads the row, the line and the
    row ahead, and sends the message back: 4 requests, plus the host's receive and delete of the message."""
    counter = TransactionCounter()
    svc = build_services(settings, clients=counted_clients(counter))
    warm_subscription_cache(svc)
    first, second = queued(svc), queued(svc)
    svc.store.replace(svc.store.get(first.id).with_changes(status=Status.IN_PROGRESS))  # running
    while decode((waiting := host.receive()).content).operation_id != second.id:
        pass
    counter.reset()
    process_message(svc, delivery(waiting))
    counts = dict(counter.counts)
    assert _status(svc, second) is Status.WAITING_FOR_RESOURCES
    assert counts == {"table GET": 3, "queue POST": 1}
