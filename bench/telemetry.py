"""What telemetry costs: the app's CPU per operation and its submit latency with telemetry off and on (OTLP/HTTP
to a receiver in this process, every span, log line and metric exported), in turns on one Azurite, so that both
see the same conditions; and storage transactions per operation with the SDK recording every span and metric
in memory, in-process (``transactions``), against the same count without."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_receiver import OtlpReceiver  # tests/, on sys.path (bench/__init__)

from shared.telemetry import metrics, spans

from .latency import submit_once
from .processes import AppHost, thread_cpu_seconds
from .stats import summarize_ms
from .throughput import measure_throughput
from .transactions import measure_transactions

ROUNDS = 8  # each round both (off first, then on first): the overheads are the medians of each round's ratio
OPERATIONS = 300  # per round, for the CPU per operation
SUBMITS = 100  # per round, sequential, for the latency
TARGET_CPU_OVERHEAD = 1.15
WORK_OPERATIONS, WORK_RUNS = 3000, 3  # telemetry's own work: operations per process, processes off and on each


def _round(host: AppHost) -> tuple[float, float, list[float]]:
    """CPU ms per operation of the app's process over OPERATIONS no-op operations, and of its threads that lived
    through them (every thread that does telemetry's work, none of the short-lived ones that the storage SDK and
    the local host start per request, whose CPU makes the first measure noisy); and SUBMITS submit times."""
    before = thread_cpu_seconds(host.process.pid)
    cpu = measure_throughput(host, {"app": host.process.pid}, n=OPERATIONS)["cpu_ms_per_op"]["app"]
    after = thread_cpu_seconds(host.process.pid)
    lasting = sum(seconds - before[tid] for tid, seconds in after.items() if tid in before) / OPERATIONS * 1000
    times = []
    with requests.Session() as session:
        for i in range(SUBMITS):
            response_time = _timed(lambda: submit_once(session, host, i))  # noqa: B023 (called at once)
            times.append(response_time)
    return float(cpu or 0.0), lasting, times


def _paired(on: list[float], off: list[float]) -> float:
    """The median of each round's on/off ratio: a round's two apps ran one right after the other, so what drifts
    over a run (Azurite's file growing, the machine's other work) cancels within a round."""
    return round(statistics.median(a / b for a, b in zip(on, off, strict=True)), 3)


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


@contextmanager
def recording_in_memory() -> Iterator[InMemorySpanExporter]:
    """The app's tracer and instruments on an SDK of their own, recording everything to memory."""
    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer, instruments = spans.tracer, metrics.instruments
    spans.tracer = provider.get_tracer("bgops")
    metrics.instruments = metrics.Instruments(MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("bgops"))
    try:
        yield exporter
    finally:
        spans.tracer, metrics.instruments = tracer, instruments


def _work_ms_per_op(endpoint: str) -> dict[str, float]:
    """Telemetry's own CPU per operation (bench/telemetry_work.py): the median of WORK_RUNS processes with it on,
    less that of as many with it off, taken in turns."""
    taken: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(WORK_RUNS):
        for name in taken:
            done = subprocess.run([sys.executable, "-m", "bench.telemetry_work", name, str(WORK_OPERATIONS)],
                                  capture_output=True, text=True, check=True, timeout=300,
                                  env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                                       "OTEL_SERVICE_NAME": "bgops-bench-work"})
            taken[name].append(json.loads(done.stdout.splitlines()[-1])["cpu_ms_per_op"])
    off, on = statistics.median(taken["off"]), statistics.median(taken["on"])
    return {"off_ms_per_op": round(off, 3), "on_ms_per_op": round(on, 3), "telemetry_ms_per_op": round(on - off, 3)}


def measure_telemetry(connection_string: str, logs: Path) -> dict:
    """Telemetry off and on, in turns: CPU per operation, submit latency, and transactions per operation."""
    receiver = OtlpReceiver()
    try:
        with AppHost(connection_string, logs / "devhost-telemetry-off.log") as off, \
                AppHost(connection_string, logs / "devhost-telemetry-on.log",
                        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SERVICE_NAME="bgops-bench") as on:
            taken: dict[str, tuple[list[float], list[float], list[float]]] = {"off": ([], [], []),
                                                                               "on": ([], [], [])}
            for round_ in range(ROUNDS):  # which goes first alternates: Azurite's file grows as they go
                for name, host in (("off", off), ("on", on))[::1 if round_ % 2 == 0 else -1]:
                    cpu, lasting, times = _round(host)
                    taken[name][0].append(cpu)
                    taken[name][1].append(lasting)
                    taken[name][2].extend(times)
        spans_received = len(receiver.spans())
        work = _work_ms_per_op(receiver.endpoint)
    finally:
        receiver.stop()
    plain = measure_transactions(connection_string)
    with recording_in_memory() as exporter:
        recorded = measure_transactions(connection_string)
    found = {name: {"cpu_ms_per_op": round(statistics.median(cpu), 2),
                    "lasting_threads_cpu_ms_per_op": round(statistics.median(lasting), 2),
                    "submit": summarize_ms(times)}
             for name, (cpu, lasting, times) in taken.items()}
    return {**found, "rounds": ROUNDS, "operations_per_round": OPERATIONS, "spans_received": spans_received,
            "cpu_overhead": _paired(taken["on"][0], taken["off"][0]),
            # telemetry's own work over what an operation costs the app without it: the same question as
            # cpu_overhead, without the variance of two apps under the local host (bench/README.md, section 9)
            "work": work, "work_overhead": round(1 + work["telemetry_ms_per_op"] / found["off"]["cpu_ms_per_op"], 3),
            "lasting_threads_cpu_overhead": _paired(taken["on"][1], taken["off"][1]),
            "submit_p50_overhead": round(found["on"]["submit"]["p50_ms"] / found["off"]["submit"]["p50_ms"], 3),
            "target_cpu_overhead": TARGET_CPU_OVERHEAD,
            "transactions_per_op": {"off": plain["total_per_op"], "on": recorded["total_per_op"]},
            "spans_in_memory": len(exporter.get_finished_spans())}
