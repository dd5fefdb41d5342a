"""Starting the exporters the settings name, once per process (``bootstrap.get_services``).

* APPLICATIONINSIGHTS_CONNECTION_STRING: the Azure Monitor OpenTelemetry distro (traces, metrics, logs), unless
  the Python worker set it up already (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true).
* OTEL_EXPORTER_OTLP_ENDPOINT: the SDK's OTLP/HTTP exporters, configured by the standard OTEL_* settings.
* Both: both. Neither: nothing is started; the OpenTelemetry API's tracer records nothing and costs next to it.

Traces are sampled by trace (``parentbased_always_on`` unless OTEL_TRACES_SAMPLER says otherwise): every span of
an operation follows its submit's decision, recorded in its row's traceparent, so that no operation's trail
has holes. Exporting runs in the SDK's own threads with bounded queues: a destination that is down or slow
costs an operation nothing, and what cannot be sent is dropped (the SDK logs it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ..settings import TelemetrySettings

log = logging.getLogger(__name__)
SAMPLER = "parentbased_always_on"
DISTRO_INSTRUMENTATIONS = "azure_sdk,django,fastapi,flask,psycopg2,requests,urllib,urllib3"
LOCAL_HOST_LOGGER = "devhost"  # the local host's own lines: in Azure, the Functions host writes those itself
_lock = threading.Lock()
_configured = False


def configure(telemetry: TelemetrySettings) -> bool:
    """Start the exporters ``telemetry`` names, the first time only; whether any is on."""
    global _configured
    with _lock:
        if _configured or not telemetry.enabled:
            return _configured
        os.environ.setdefault("OTEL_TRACES_SAMPLER", SAMPLER)
        _quiet_exporters()
        processors = _otlp() if telemetry.otlp else None
        if telemetry.azure_monitor and not telemetry.worker_configures:
            _azure_monitor(telemetry.azure_monitor, processors)
        elif processors is not None:
            _sdk(processors)
        _configured = True
    log.info("Telemetry on: %s.", ", ".join(name for name, on in (
        ("Azure Monitor", bool(telemetry.azure_monitor)), ("OTLP", telemetry.otlp)) if on))
    return True


# The exporters' loggers: each failed export and each retry logs a line, so a destination down for an hour would
# fill the log (and the log exporter would try to send those lines too).
EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                    "opentelemetry.exporter.otlp.proto.http._log_exporter",
                    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
                    "opentelemetry.sdk._shared_internal", "azure.monitor.opentelemetry.exporter.export._base")
QUIET_SECONDS = 3600.0


class OncePerQuietPeriod(logging.Filter):
    """The exporters' warnings and errors: the first line, then none for QUIET_SECONDS, then one that says how many
    were left out. One filter for every exporter, so that a destination that is down is one line an hour."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock, self._lock = clock, threading.Lock()
        self._since: float | None = None
        self._left_out = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        with self._lock:
            now = self._clock()
            if self._since is not None and now - self._since < QUIET_SECONDS:
                self._left_out += 1
                return False
            if self._left_out:
                record.msg, record.args = (f"{record.getMessage()} (and {self._left_out} more export failures in "
                                           "the last hour, not logged)"), ()
            self._since, self._left_out = now, 0
        return True


def _quiet_exporters() -> None:
    quiet = OncePerQuietPeriod()
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).addFilter(quiet)


def _otlp() -> dict[str, Any]:
    """The OTLP/HTTP exporters' processors and readers (endpoint, headers and timeouts from OTEL_*)."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return {"span_processors": [BatchSpanProcessor(OTLPSpanExporter())],
            "metric_readers": [PeriodicExportingMetricReader(OTLPMetricExporter())],
            "log_record_processors": [BatchLogRecordProcessor(OTLPLogExporter())]}


def _azure_monitor(connection_string: str, otlp: dict[str, Any] | None) -> None:
    """The distro, its automatic instrumentations off unless OTEL_PYTHON_DISABLED_INSTRUMENTATIONS says otherwise:
    a span per storage request (four or more an operation) and per HTTP call would multiply what each operation
    sends, and the app's own spans say what an operator asks (the OTLP path has none either)."""
    from azure.monitor.opentelemetry import configure_azure_monitor

    os.environ.setdefault("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", DISTRO_INSTRUMENTATIONS)
    configure_azure_monitor(connection_string=connection_string, **(otlp or {}))


def _sdk(otlp: dict[str, Any]) -> None:
    """The SDK's providers (service name and resource from OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), with
    the OTLP exporters, and Python's logging sent through them."""
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "bgops"})
    tracer_provider = TracerProvider(resource=resource)
    for processor in otlp["span_processors"]:
        tracer_provider.add_span_processor(processor)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=otlp["metric_readers"]))
    logger_provider = LoggerProvider(resource=resource)
    for processor in otlp["log_record_processors"]:
        logger_provider.add_log_record_processor(processor)
    _logs.set_logger_provider(logger_provider)
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    handler.addFilter(lambda record: not record.name.startswith((LOCAL_HOST_LOGGER, "opentelemetry")))
    logging.getLogger().addHandler(handler)
