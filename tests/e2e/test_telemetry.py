"""Telemetry end to end: the app, given OTEL_EXPORTER_OTLP_ENDPOINT, exports its spans and logs over OTLP/HTTP to
a receiver this test runs (protobuf, decoded with opentelemetry-proto), and one operation's whole story is
rebuilt from what arrived: the caller's trace, its submit, each attempt, its callback."""

from __future__ import annotations

import pytest
import requests
from appinsights_receiver import IngestionReceiver
from helpers import wait_until
from otlp_receiver import OtlpReceiver, Span

TRACE_ID, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
ERROR = 2  # Status.STATUS_CODE_ERROR in OTLP


@pytest.fixture(scope="module")
def receiver():
    server = OtlpReceiver()
    yield server
    server.stop()


@pytest.fixture
def traced_app(make_app, receiver):
    """The app exporting to the receiver, its batches sent every 100 ms and its metrics every 500 (the SDK's standard
    settings)."""
    return make_app(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SERVICE_NAME="bgops-test",
                    OTEL_BSP_SCHEDULE_DELAY="100", OTEL_BLRP_SCHEDULE_DELAY="100", OTEL_METRIC_EXPORT_INTERVAL="500")


def _story(receiver: OtlpReceiver, trace_id: str, *names: str) -> dict[str, list[Span]]:
    """The spans of ``trace_id`` by name, once each of ``names`` has arrived (in the order they started)."""
    def arrived() -> dict[str, list[Span]] | None:
        found: dict[str, list[Span]] = {}
        for span in sorted(receiver.spans(), key=lambda s: s.start_ns):
            if span.trace_id == trace_id:
                found.setdefault(span.name, []).append(span)
        return found if all(len(found.get(n, [])) >= names.count(n) for n in names) else None

    return wait_until(arrived, timeout=30, message=f"the spans {names} to arrive")


def test_one_operation_is_one_trace_from_the_callers_submit_through_a_retry_to_its_callback(
        traced_app, receiver, callbacks):
    url = callbacks.new_url()
    response = requests.post(traced_app.url("data/v9.2/sample_Fail"), json={"FailTimes": 1}, timeout=30, headers={
        "Prefer": f'respond-async, odata.callback; url="{url}"', "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"})
    assert response.status_code == 202 and response.headers["traceresponse"].split("-")[1] == TRACE_ID
    op_id = response.json()["backgroundOperationId"]
    story = _story(receiver, TRACE_ID, "submit sample_Fail", "run sample_Fail", "run sample_Fail", "callback")
    [submitted], runs, [called] = story["submit sample_Fail"], story["run sample_Fail"], story["callback"]
    assert submitted.service == "bgops-test" and submitted.parent_span_id  # under the host's invocation span
    assert response.headers["traceresponse"] == f"00-{TRACE_ID}-{submitted.span_id}-01"
    assert [r.parent_span_id for r in runs] == [submitted.span_id] * 2
    assert [r.attributes["bgops.attempt"] for r in runs] == [1, 2] and runs[0].status_code == ERROR
    assert all(r.attributes["bgops.operation.id"] == op_id and len(r.links) == 1 for r in runs)  # its invocation
    assert called.parent_span_id == runs[1].span_id
    [(headers, _)] = wait_until(lambda: callbacks.raw_calls(url))
    assert headers["traceparent"] == f"00-{TRACE_ID}-{called.span_id}-01"  # the receiver joins the trace
    assert url not in str([s.attributes for s in receiver.spans()])
    lines = wait_until(lambda: [log for log in receiver.logs() if log["attributes"].get("bgops.operation.id") == op_id
                                and "started" in str(log["body"])] or None, message="the attempts' log lines")
    assert {(log["trace_id"], log["attributes"]["bgops.attempt"]) for log in lines} == {(TRACE_ID, 1), (TRACE_ID, 2)}
    wanted = {"bgops.operations.submitted", "bgops.attempts.started", "bgops.attempts.retried",
              "bgops.operations.completed", "bgops.queue.wait", "messaging.process.duration",
              "http.client.request.duration", "bgops.queue.oldest_age"}
    wait_until(lambda: wanted <= set(receiver.metrics()), message="the metrics to arrive")
    _print(story)


def _print(story: dict[str, list[Span]]) -> None:
    """The trace as the receiver saw it, for the record (pytest -s)."""
    spans = sorted((s for found in story.values() for s in found), key=lambda s: s.start_ns)
    first = spans[0].start_ns
    for span in spans:
        print(f"{(span.start_ns - first) / 1e6:8.1f} ms  {(span.end_ns - span.start_ns) / 1e6:7.1f} ms  {span.name}"
              f"  span {span.span_id} parent {span.parent_span_id or '-'}")


def test_a_host_killed_mid_attempt_leaves_a_trace_the_next_host_finishes(make_app, receiver, callbacks):
    lease, trace_id = {"DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS": "3"}, "0af7651916cd43dd8448eb211c80319c"
    exporting = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
                 "OTEL_BLRP_SCHEDULE_DELAY": "100"}
    first, url = make_app(**lease, **exporting), callbacks.new_url()
    op_id = requests.post(first.url("data/v9.2/sample_Sleep"), json={"Seconds": 3}, timeout=30, headers={
        "Prefer": f'respond-async, odata.callback; url="{url}"', "traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"}
    ).json()["backgroundOperationId"]
    first.wait_for_status(op_id, 20)
    wait_until(lambda: any(log["attributes"].get("bgops.operation.id") == op_id for log in receiver.logs()),
               message="the first attempt's log line to be exported")
    first.kill()  # its attempt's span never ends, so it is never exported
    make_app(name=first.queue_name, **lease, **exporting)
    story = _story(receiver, trace_id, "submit sample_Sleep", "run sample_Sleep", "callback")
    [submitted], [ran], [called] = story["submit sample_Sleep"], story["run sample_Sleep"], story["callback"]
    assert ran.attributes["bgops.attempt"] == 2 and ran.parent_span_id == submitted.span_id
    assert called.parent_span_id == ran.span_id
    first_attempt = [log for log in receiver.logs() if log["attributes"].get("bgops.attempt") == 1
                     and log["attributes"].get("bgops.operation.id") == op_id]
    assert first_attempt and {log["trace_id"] for log in first_attempt} == {trace_id}  # what the dead host said
    _print(story)


def test_a_traceparent_that_is_not_valid_starts_a_new_trace_and_is_never_echoed(traced_app, receiver):
    junk = "00-" + "Zz" * 5_000 + "-01"
    response = requests.post(traced_app.url("data/v9.2/sample_Echo"), json={}, timeout=30,
                             headers={"Prefer": "respond-async", "traceparent": junk, "tracestate": junk})
    assert response.status_code == 202
    position = response.headers["traceresponse"]
    assert len(position) == 55 and "Zz" not in response.text + str(response.headers)
    op_id = response.json()["backgroundOperationId"]
    traced_app.wait_for_status(op_id, 30)
    _story(receiver, position.split("-")[1], "submit sample_Echo", "run sample_Echo")
    assert "Zz" not in traced_app.log()


def test_an_exporter_that_is_down_costs_an_operation_nothing_and_logs_one_line(make_app):
    down = make_app(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_BSP_SCHEDULE_DELAY="100",
                    OTEL_BLRP_SCHEDULE_DELAY="100", OTEL_EXPORTER_OTLP_TIMEOUT="1")  # nothing listens on port 9
    op_id = down.submit("sample_Echo", {"A": 1}).json()["backgroundOperationId"]
    row = down.wait_for_status(op_id, 30, timeout=10)
    assert row["backgroundoperationstatuscode"] == 30

    def failures() -> list[str]:
        return [line for line in down.log().splitlines() if "opentelemetry.exporter" in line]

    wait_until(failures, message="the first export failure to be logged")
    more = [down.submit("sample_Echo", {"N": n}).json()["backgroundOperationId"] for n in range(10)]
    for op_id in more:  # a second or more of batches, each failing and retried meanwhile
        down.wait_for_status(op_id, 30, timeout=10)
    assert len(failures()) == 1, failures()


def test_with_application_insights_the_azure_monitor_distro_sends_the_operations_trace(make_app):
    ingestion = IngestionReceiver()
    try:
        app = make_app(APPLICATIONINSIGHTS_CONNECTION_STRING=ingestion.connection_string,
                       APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true", OTEL_BSP_SCHEDULE_DELAY="100",
                       OTEL_BLRP_SCHEDULE_DELAY="100")
        response = requests.post(app.url("data/v9.2/sample_Echo"), json={"A": 1}, timeout=30, headers={
            "Prefer": "respond-async", "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"})
        op_id = response.json()["backgroundOperationId"]

        def told() -> dict[str, dict] | None:
            found = {e["data"]["baseData"].get("name") or e["data"]["baseData"].get("message"): e
                     for e in ingestion.envelopes() if e["tags"].get("ai.operation.id") == TRACE_ID}
            return found if {"submit sample_Echo", "run sample_Echo"} <= set(found) else None

        found = wait_until(told, timeout=30, message="the distro to send the operation's spans")
        run, submit = found["run sample_Echo"], found["submit sample_Echo"]
        assert run["data"]["baseType"] == "RequestData" and submit["data"]["baseType"] == "RemoteDependencyData"
        assert run["data"]["baseData"]["properties"]["bgops.operation.id"] == op_id  # a custom dimension
        assert run["tags"]["ai.operation.parentId"] == submit["data"]["baseData"]["id"]
        kinds = {e["data"]["baseType"] for e in ingestion.envelopes()}
        assert "MessageData" in kinds  # the log lines, as traces
        assert not [e for e in ingestion.envelopes() if e["data"]["baseData"].get("type") == "Microsoft.Storage"]
    finally:
        ingestion.stop()
