"""An OTLP/HTTP receiver for the tests: what an OpenTelemetry Collector's ``otlp`` receiver takes on
``/v1/traces``, ``/v1/metrics`` and ``/v1/logs`` (protobuf bodies, decoded with ``opentelemetry-proto``), kept
in memory for the test to read back."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

KINDS = {"/v1/traces": ExportTraceServiceRequest, "/v1/metrics": ExportMetricsServiceRequest,
         "/v1/logs": ExportLogsServiceRequest}


def request_body(request: BaseHTTPRequestHandler) -> bytes:
    """A POST's body, as sent (``Content-Encoding: gzip`` undone)."""
    body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
    return gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip" else body


def value_of(value: AnyValue) -> Any:
    """An OTLP attribute's value as Python's."""
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class Span:
    """One received span: ids in hex, as traceparent writes them."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    links: list[tuple[str, str]]
    status_code: int
    start_ns: int
    end_ns: int
    service: str = ""


@dataclass
class Received:
    spans: list[Span] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # the names of the metrics received


class OtlpReceiver:
    """Listens on 127.0.0.1 (``endpoint``: what OTEL_EXPORTER_OTLP_ENDPOINT is set to)."""

    def __init__(self) -> None:
        self.received, self._lock = Received(), threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = request_body(self)
                kind = KINDS.get(self.path)
                if kind is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                request = kind()
                request.ParseFromString(body)
                receiver._keep(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _keep(self, request: Any) -> None:
        with self._lock:
            if isinstance(request, ExportTraceServiceRequest):
                self.received.spans += list(_spans(request))
            elif isinstance(request, ExportLogsServiceRequest):
                self.received.logs += [{"body": value_of(record.body), "trace_id": record.trace_id.hex(),
                                        "attributes": {a.key: value_of(a.value) for a in record.attributes}}
                                       for resource in request.resource_logs for scope in resource.scope_logs
                                       for record in scope.log_records]
            else:
                self.received.metrics += [metric.name for resource in request.resource_metrics
                                          for scope in resource.scope_metrics for metric in scope.metrics]

    def spans(self) -> list[Span]:
        with self._lock:
            return list(self.received.spans)

    def logs(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received.logs)

    def metrics(self) -> list[str]:
        with self._lock:
            return list(self.received.metrics)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _spans(request: ExportTraceServiceRequest) -> Any:
    for resource in request.resource_spans:
        service = next((value_of(a.value) for a in resource.resource.attributes if a.key == "service.name"), "")
        for scope in resource.scope_spans:
            for span in scope.spans:
                yield Span(span.name, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(), span.kind,
                           {a.key: value_of(a.value) for a in span.attributes},
                           [(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                           span.status.code, span.start_time_unix_nano, span.end_time_unix_nano, service)
