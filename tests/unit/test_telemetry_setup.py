"""Starting telemetry (shared/telemetry/setup.py): what the settings switch on, and the exporters' failures kept
to one log line an hour."""

from __future__ import annotations

import logging

from shared.settings import load_settings, telemetry_settings
from shared.telemetry.setup import QUIET_SECONDS, OncePerQuietPeriod


def _record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("opentelemetry.exporter.otlp.proto.http.trace_exporter", level, __file__, 1, message,
                             (), None)


def test_an_exporter_that_keeps_failing_logs_one_line_an_hour_then_says_how_many_it_left_out():
    now = [0.0]
    quiet = OncePerQuietPeriod(clock=lambda: now[0])
    assert quiet.filter(_record("Transient error: connection refused"))
    kept = []
    for second in range(1, 100):
        now[0] = float(second)
        kept.append(quiet.filter(_record("Failed to export spans batch")))
    assert not any(kept)
    assert quiet.filter(_record("Failed to export logs batch", logging.DEBUG))  # below a warning: not counted
    now[0] = QUIET_SECONDS + 1
    later = _record("Failed to export spans batch")
    assert quiet.filter(later) and "and 99 more export failures in the last hour" in later.getMessage()


def test_the_settings_name_the_destinations_and_keep_the_connection_string_out_of_repr():
    assert not telemetry_settings({}).enabled
    otlp = telemetry_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert otlp.enabled and otlp.otlp and not otlp.azure_monitor
    secret = "InstrumentationKey=secret-key;IngestionEndpoint=https://x/"
    both = telemetry_settings({"APPLICATIONINSIGHTS_CONNECTION_STRING": secret, "OTEL_EXPORTER_OTLP_ENDPOINT": " x ",
                               "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "True"})
    assert both.azure_monitor == secret and both.otlp and both.worker_configures
    assert "secret-key" not in repr(both) and "secret-key" not in repr(load_settings(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "APPLICATIONINSIGHTS_CONNECTION_STRING": secret}))
    assert not telemetry_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}).enabled  # blank, as the sample settings
