"""Telemetry: one trace per operation (``spans``), log lines that join it (``logs``), and the exporters the
platform's settings name (``setup``)."""
