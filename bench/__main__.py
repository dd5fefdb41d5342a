"""``python -m bench``: one private Azurite, four measurements, a table on stdout and results/latest.json."""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from azure.data.tables import TableClient

from .baseline import measure_baseline
from .latency import measure_submit_latency
from .processes import AppHost, PrivateAzurite, machine_facts
from .report import format_report, write_json
from .throughput import TIMEOUT_SECONDS, measure_throughput, wait_until_succeeded
from .transactions import measure_transactions

RESULTS = Path(__file__).resolve().parent / "results"
JSON_PATH = RESULTS / "latest.json"
FAILED_JSON_PATH = RESULTS / "last-failed.json"  # a failed or interrupted run never overwrites latest.json


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _on_sigterm(*_) -> None:
    raise KeyboardInterrupt  # unwinds through the context managers, which stop every child


def run(results: dict) -> None:
    """Take every measurement into ``results`` (filled as it goes, so a failure keeps what was measured)."""
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-azurite-") as data, \
            PrivateAzurite(Path(data), logs / "azurite.log") as azurite:
        _progress("4/4 raw baseline (table insert + queue put)")
        results["baseline"] = measure_baseline(azurite.connection_string)
        _progress("1/4 transactions per operation (in-process)")
        results["transactions"] = measure_transactions(azurite.connection_string)
        _progress("starting the app under devhost")
        with AppHost(azurite.connection_string, logs / "devhost.log") as host:
            _progress("2/4 submit latency over HTTP")
            since = datetime.now(UTC)
            results["submit_latency"], ids = measure_submit_latency(host)
            results["submit_latency"]["over_baseline_p50"] = round(
                results["submit_latency"]["p50_ms"] / results["baseline"]["p50_ms"], 2)
            # Let those finish first, so the throughput run starts with an empty queue.
            wait_until_succeeded(TableClient.from_connection_string(host.connection_string, host.table_name),
                                 since, set(ids), TIMEOUT_SECONDS)
            _progress("3/4 end-to-end throughput")
            results["throughput"] = measure_throughput(
                host, {"devhost (app + host)": host.process.pid, "azurite": azurite.process.pid,
                       "bench client": None})


def main() -> int:
    """Run everything; print the table; write the JSON. Non-zero exit on failure or interruption."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    started = time.monotonic()
    results: dict = {"machine": machine_facts()}
    status = 0
    try:
        run(results)
    except KeyboardInterrupt:
        _progress("interrupted; every process was stopped")
        results["error"], status = "interrupted", 130
    except Exception as e:
        _progress(f"FAILED: {type(e).__name__}: {e} (logs in {RESULTS / 'logs'})")
        results["error"], status = f"{type(e).__name__}: {e}", 1
    path = JSON_PATH if status == 0 else FAILED_JSON_PATH
    results["seconds"] = round(time.monotonic() - started, 1)
    results["json_path"] = str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    write_json(results, path)
    print(format_report(results))
    return status


if __name__ == "__main__":
    sys.exit(main())
