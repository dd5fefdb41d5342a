"""``python -m bench [--no-scale | telemetry]``: private Azurites, nine measurements (or telemetry's alone), a table on
stdout and results/latest.json."""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from azure.data.tables import TableClient
from helpers import Azurite  # tests/, on sys.path (bench/__init__)

from .baseline import RawWrites
from .idle import measure_idle
from .latency import measure_submit_latency
from .multiple import measure_execute_multiple
from .processes import AppHost, machine_facts
from .report import format_report, write_json
from .scale import measure_scale
from .starvation import measure_api_under_long_handlers
from .telemetry import OPERATIONS, ROUNDS, SUBMITS, measure_telemetry
from .throughput import TIMEOUT_SECONDS, measure_throughput, wait_until_succeeded
from .transactions import measure_transactions

RESULTS = Path(__file__).resolve().parent / "results"
JSON_PATH = RESULTS / "latest.json"
FAILED_JSON_PATH = RESULTS / "last-failed.json"  # a failed or interrupted run never overwrites latest.json


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _on_sigterm(*_) -> None:
    raise KeyboardInterrupt  # unwinds through the context managers, which stop every child


def run(results: dict, *, scale: bool = True) -> None:
    """Take every measurement into ``results`` (filled as it goes, so a failure keeps what was measured)."""
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-azurite-") as data, \
            Azurite(Path(data), logs / "azurite.log") as azurite:
        _progress("1/6 transactions per operation (in-process)")
        results["transactions"] = measure_transactions(azurite.connection_string)
        _progress("starting the app under devhost")
        with AppHost(azurite.connection_string, logs / "devhost.log") as host:
            _progress("2/6 submit latency over HTTP, in turns with 4/6 the raw insert + put")
            since = datetime.now(UTC)
            results["submit_latency"], results["baseline"], ids = measure_submit_latency(
                host, RawWrites(azurite.connection_string))
            # Let those finish first, so the throughput run starts with an empty queue.
            wait_until_succeeded(TableClient.from_connection_string(host.connection_string, host.table_name),
                                 since, set(ids), TIMEOUT_SECONDS)
            _progress("3/6 end-to-end throughput")
            results["throughput"] = measure_throughput(
                host, {"devhost (app + host)": host.process.pid, "azurite": azurite.process.pid,
                       "bench client": None})
            _progress("7/7 the API while 20 long operations run (about 40 s)")
            results["api_under_load"] = measure_api_under_long_handlers(host)
        _progress("8/9 ExecuteMultiple of 1,000 requests, three times of each kind, each on an app of its own")
        results["execute_multiple"] = measure_execute_multiple(azurite.connection_string, logs)
        run_telemetry(results, azurite.connection_string, logs)
    _progress("5/6 idle cost (its own Azurite, logging every request; about 80 s)")
    results["idle"] = measure_idle()
    if scale:
        with tempfile.TemporaryDirectory(prefix="bench-azurite-") as data, \
                Azurite(Path(data), logs / "azurite-scale.log") as azurite:
            _progress("6/6 1,000 rows vs 100,000 (its own Azurite; seeding takes about 5 minutes)")
            results["scale"] = measure_scale(azurite.connection_string)


def run_telemetry(results: dict, connection_string: str, logs: Path) -> None:
    _progress(f"9/9 telemetry off and on, in turns ({ROUNDS} rounds of {OPERATIONS} operations and {SUBMITS} "
              "submits each, then telemetry's own work in one process; about 3 minutes)")
    results["telemetry"] = measure_telemetry(connection_string, logs)


def run_telemetry_only(results: dict) -> None:
    """``python -m bench telemetry``: that section alone, on an Azurite of its own."""
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-azurite-") as data, \
            Azurite(Path(data), logs / "azurite.log") as azurite:
        run_telemetry(results, azurite.connection_string, logs)


def main() -> int:
    """Run everything; print the table; write the JSON. Non-zero exit on failure or interruption."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    started = time.monotonic()
    results: dict = {"machine": machine_facts()}
    status = 0
    try:
        if "telemetry" in sys.argv[1:]:
            run_telemetry_only(results)
        else:
            run(results, scale="--no-scale" not in sys.argv[1:])
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
