"""The metrics (shared/telemetry/metrics.py) an operation's life records, read back through the OpenTelemetry
SDK's in-memory reader, on the in-memory stores with a fake clock."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from helpers import delivery
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared.domain.callers import EVERYONE
from shared.domain.states import Event
from shared.services.container import Services
from shared.services.control import Change, change
from shared.services.submission import Submission, submit
from shared.services.worker import fail_poisoned, process_message
from shared.telemetry import metrics


@pytest.fixture
def reader(monkeypatch) -> InMemoryMetricReader:
    """The app's instruments on a meter of their own, read in memory (the global provider stays unset)."""
    found = InMemoryMetricReader()
    monkeypatch.setattr(metrics, "instruments", metrics.Instruments(MeterProvider(metric_readers=[found])
                                                                    .get_meter("bgops")))
    return found


@pytest.fixture
def svc(make_svc) -> Services:
    return make_svc(retry_base_seconds=1, callback_retry_base_seconds=0.05, max_attempts=2)


def _submitted(svc: Services, name: str, inputs: dict, **options):
    return submit(svc, Submission(name=name, inputs=inputs, base_url="http://127.0.0.1:7071", **options))


def _read(reader: InMemoryMetricReader) -> dict[str, Counter]:
    """Each metric's sums (counters) or counts (histograms), by its points' attributes other than the name."""
    found: dict[str, Counter] = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = tuple(sorted((k, v) for k, v in point.attributes.items() if k != "bgops.operation.name"))
                    assert point.attributes["bgops.operation.name"]  # every point says which operation
                    found.setdefault(metric.name, Counter())[key] += getattr(point, "value", None) or point.count
    return found


def test_a_retried_success_with_a_callback_counts_each_step_once(svc, host, callbacks, clock, reader):
    _submitted(svc, "sample_Fail", {"FailTimes": 1}, callback_url=callbacks.new_url())
    clock.pass_(3)  # three seconds in the queue
    process_message(svc, delivery(host.receive()))
    process_message(svc, delivery(host.receive(timeout=15)))
    read = _read(reader)
    assert sum(read["bgops.operations.submitted"].values()) == 1
    assert sum(read["bgops.attempts.started"].values()) == 2 and sum(read["bgops.attempts.retried"].values()) == 1
    assert read["bgops.operations.completed"] == Counter({(("bgops.outcome", "succeeded"),): 1})
    assert sum(read["bgops.queue.wait"].values()) == 1  # the first attempt's wait only ...
    [wait] = [p for r in reader.get_metrics_data().resource_metrics for s in r.scope_metrics for m in s.metrics
              if m.name == "bgops.queue.wait" for p in m.data.data_points]
    assert wait.sum == 3.0  # ... of three seconds
    outcomes = {dict(k)["bgops.outcome"]: n for k, n in read["messaging.process.duration"].items()}
    assert outcomes == {"failed": 1, "succeeded": 1}
    [(attributes, count)] = read["http.client.request.duration"].items()
    assert (dict(attributes)["bgops.delivery.kind"], dict(attributes)["http.response.status_code"], count) == (
        "callback", 200, 1)
    assert "bgops.operations.poisoned" not in read


def test_a_cancel_before_it_ran_and_the_poison_path_count_their_outcomes(svc, host, clock, reader):
    waiting = _submitted(svc, "sample_Echo", {}, postpone_until=clock() + timedelta(hours=1))
    change(svc, waiting.id, Change(Event.CANCEL), EVERYONE)
    poisoned = _submitted(svc, "sample_Echo", {})
    host.receive()  # its worker died; the host moved the message on
    fail_poisoned(svc, poisoned.id)
    read = _read(reader)
    assert read["bgops.operations.completed"] == Counter({(("bgops.outcome", "canceled"),): 1,
                                                          (("bgops.outcome", "failed"),): 1})
    assert sum(read["bgops.operations.poisoned"].values()) == 1
    assert "bgops.queue.wait" not in read  # neither started


def test_the_oldest_waiting_operations_age_is_observed_at_each_collection(svc, host, clock, reader):
    metrics.watch_queue(svc.queue.oldest_waiting_seconds)
    _submitted(svc, "sample_Echo", {})
    clock.pass_(5)
    _submitted(svc, "sample_Echo", {})
    assert _gauge(reader) == 5.0  # the first one's
    process_message(svc, delivery(host.receive()))
    process_message(svc, delivery(host.receive()))
    assert _gauge(reader) == 0.0  # nothing waits


def _gauge(reader: InMemoryMetricReader) -> float:
    [point] = [p for r in reader.get_metrics_data().resource_metrics for s in r.scope_metrics for m in s.metrics
               if m.name == "bgops.queue.oldest_age" for p in m.data.data_points]
    return point.value
