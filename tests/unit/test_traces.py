"""One trace per operation (shared/telemetry): the span tree the OpenTelemetry SDK's in-memory exporter receives
for a success, a retry, a cancel, the poison path and a callback, on the in-memory stores with a fake clock, and
the traceparent each callback carries (a real HTTP server receives it)."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from fakes import MemoryHost
from helpers import delivery
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shared.domain.callers import EVERYONE
from shared.domain.states import Event, Status
from shared.domain.tracecontext import TraceParent, parse
from shared.services.container import Services
from shared.services.control import Change, change
from shared.services.submission import Submission, submit
from shared.services.worker import fail_poisoned, process_message
from shared.telemetry import logs, spans

CALLER = TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
INVOCATION = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # the host's span for a queue message


@pytest.fixture
def exported(monkeypatch) -> InMemorySpanExporter:
    """The app's tracer, recording to memory (a provider of its own: the process's global one stays unset)."""
    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(spans, "tracer", provider.get_tracer("bgops"))
    return exporter


@pytest.fixture
def svc(make_svc) -> Services:
    return make_svc(retry_base_seconds=1, callback_retry_base_seconds=0.05, max_attempts=2)


def _submitted(svc: Services, name: str, inputs: dict, callback_url: str | None = None):
    with spans.in_trace(CALLER):  # what an HTTP function does with the host's trace context
        return submit(svc, Submission(name=name, inputs=inputs, base_url="http://127.0.0.1:7071",
                                      callback_url=callback_url))


def _run(svc: Services, host: MemoryHost, **receive) -> None:
    process_message(svc, dataclasses.replace(delivery(host.receive(**receive)), invocation=INVOCATION))


def _hex(span: ReadableSpan) -> tuple[str, str]:
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def _parent(span: ReadableSpan) -> str:
    return format(span.parent.span_id, "016x") if span.parent else ""


def _by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def test_a_success_is_one_trace_submit_run_callback_in_the_callers_trace(svc, host, callbacks, exported):
    url = callbacks.new_url()
    op = _submitted(svc, "sample_Echo", {"A": 1}, url)
    _run(svc, host)
    spans_ = _by_name(exported)
    [submitted], [ran], [called] = spans_["submit sample_Echo"], spans_["run sample_Echo"], spans_["callback"]
    assert {_hex(s)[0] for s in (submitted, ran, called)} == {CALLER.trace_id}
    assert _parent(submitted) == CALLER.span_id and submitted.kind is SpanKind.PRODUCER
    assert _parent(ran) == _hex(submitted)[1] and ran.kind is SpanKind.CONSUMER
    assert [format(link.context.span_id, "016x") for link in ran.links] == [parse(INVOCATION).span_id]
    assert _parent(called) == _hex(ran)[1] and called.kind is SpanKind.CLIENT
    assert ran.attributes["bgops.operation.id"] == op.id and ran.attributes["bgops.attempt"] == 1
    assert ran.attributes["bgops.outcome"] == "succeeded" and ran.status.status_code is StatusCode.UNSET
    assert svc.store.get(op.id).traceparent == TraceParent(*_hex(submitted)).header  # recorded on the row
    [(headers, _)] = callbacks.raw_calls(url)
    assert parse(headers["traceparent"]) == TraceParent(*_hex(called))  # the receiver joins the trace
    assert url not in str([s.attributes for s in exported.get_finished_spans()])  # never the callback URL


def test_a_retry_is_a_second_run_under_the_same_submit_the_first_one_an_error(svc, host, exported):
    _submitted(svc, "sample_Fail", {"FailTimes": 1})
    _run(svc, host)
    _run(svc, host, timeout=15)  # after the backoff
    spans_ = _by_name(exported)
    [submitted], runs = spans_["submit sample_Fail"], spans_["run sample_Fail"]
    assert [_parent(r) for r in runs] == [_hex(submitted)[1]] * 2
    assert [r.attributes["bgops.attempt"] for r in runs] == [1, 2]
    assert [r.status.status_code for r in runs] == [StatusCode.ERROR, StatusCode.UNSET]
    assert "attempt 1" in runs[0].status.description


def test_a_cancel_is_a_span_in_the_operations_trace_linked_to_the_request_that_asked(svc, exported):
    op = _submitted(svc, "sample_Echo", {}, None)
    request = TraceParent("11111111111111111111111111111111", "2222222222222222", 1)
    with spans.in_trace(request):
        change(svc, op.id, Change(Event.CANCEL), EVERYONE)
    [cancel] = _by_name(exported)["cancel sample_Echo"]
    assert _hex(cancel)[0] == CALLER.trace_id and _parent(cancel) == parse(op.traceparent).span_id
    assert [format(link.context.trace_id, "032x") for link in cancel.links] == [request.trace_id]
    assert cancel.attributes["bgops.status"] == Status.CANCELING.name  # asked in its first seconds: it may be running


def test_the_poison_path_is_a_span_in_the_operations_trace_with_its_callback_under_it(svc, host, callbacks,
                                                                                        exported):
    url = callbacks.new_url()
    op = _submitted(svc, "sample_Echo", {}, url)
    host.receive()  # its last attempt's worker died; the host moved the message on
    fail_poisoned(svc, op.id)
    spans_ = _by_name(exported)
    [poisoned], [called] = spans_["poisoned sample_Echo"], spans_["callback"]
    assert _parent(poisoned) == parse(op.traceparent).span_id and _parent(called) == _hex(poisoned)[1]


def test_a_submit_without_a_trace_starts_one_and_with_no_sdk_still_records_a_position(svc):
    op = submit(svc, Submission(name="sample_Echo", inputs={}, base_url="http://127.0.0.1:7071"))
    assert parse(op.traceparent) is not None and parse(op.traceparent).trace_id != CALLER.trace_id
    under = _submitted(svc, "sample_Echo", {})
    assert parse(under.traceparent).trace_id == CALLER.trace_id  # the no-op tracer: the caller's trace still


def test_every_log_line_of_an_attempt_carries_the_operation_and_attempt(svc, host, caplog):
    logs.install()
    op = _submitted(svc, "sample_Echo", {})
    with caplog.at_level(logging.INFO):
        _run(svc, host)
    started = next(r for r in caplog.records if "started" in r.getMessage())
    assert (getattr(started, "bgops.operation.id"), getattr(started, "bgops.operation.name"),
            getattr(started, "bgops.attempt")) == (op.id, "sample_Echo", 1)
    after = logging.getLogger("test").makeRecord("test", logging.INFO, __file__, 1, "outside", (), None)
    assert not hasattr(after, "bgops.operation.id")  # only while the attempt runs
