"""The CPU telemetry's own work costs per operation, measured where nothing else varies: one process submits and
runs ``sample_Echo`` through the app's services over the in-memory stores (``tests/fakes.py``), with telemetry
off or on (OTLP/HTTP to the endpoint in OTEL_EXPORTER_OTLP_ENDPOINT), and prints its CPU per operation, exports
flushed included. Run twice, off and on, by ``bench/telemetry.py``: the difference is what the spans, log records
and metrics of one operation cost, storage and the local host left out (they are the same either way).

``python -m bench.telemetry_work off|on N`` prints ``{"cpu_ms_per_op": ...}``."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from fakes import (
    MemoryKeptEvents,
    MemoryLines,
    MemoryOperationStore,
    MemorySubscriptionStore,
    MemoryWorkQueue,  # tests/, on sys.path (bench/__init__)
)
from helpers import delivery

from shared.bootstrap import Stores, assemble
from shared.services.submission import Submission, submit
from shared.services.worker import process_message
from shared.settings import Settings, StorageSettings, TelemetrySettings
from shared.telemetry import logs, setup

WARM_UP = 200


def _flush() -> None:
    """Export everything recorded so far, in this thread (the batch processors' own threads may be asleep)."""
    from opentelemetry import _logs, metrics, trace

    for provider in (trace.get_tracer_provider(), _logs.get_logger_provider(), metrics.get_meter_provider()):
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush()


def cpu_ms_per_op(on: bool, n: int) -> float:
    """CPU (every thread of this process) per operation submitted and run, exports included."""
    logging.basicConfig(level=logging.INFO, handlers=[logging.FileHandler("/dev/null")])  # as the host logs
    logs.install()
    if on:
        setup.configure(TelemetrySettings(otlp=True))
    queue = MemoryWorkQueue()
    stores = Stores(store=MemoryOperationStore(), queue=queue, subscriptions=MemorySubscriptionStore(),
                    lines=MemoryLines(), kept=MemoryKeptEvents())
    settings = Settings(storage=StorageSettings(connection_string="UseDevelopmentStorage=true"), enable_samples=True)
    with tempfile.TemporaryDirectory() as later:
        svc = assemble(settings, stores, later_folder=Path(later))
        def one(i: int) -> None:  # each message is visible at once: taken and deleted as the host would
            submit(svc, Submission(name="sample_Echo", inputs={"I": i}, base_url="http://127.0.0.1:7071"))
            message = queue.receive()
            assert message is not None
            process_message(svc, delivery(message))
            queue.delete(message.id, message.pop_receipt)

        for i in range(WARM_UP):
            one(i)
        _flush()
        started = time.process_time()
        for i in range(n):
            one(i)
        _flush()
        return (time.process_time() - started) / n * 1000


if __name__ == "__main__":
    print(json.dumps({"cpu_ms_per_op": round(cpu_ms_per_op(sys.argv[1] == "on", int(sys.argv[2])), 4)}))
