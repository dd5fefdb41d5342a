"""``python -m bench [--no-scale] [SECTION ...]``: private Azurites, ten sections of measurements (or the ones
named: transactions, latency, throughput, idle, scale, api, multiple, telemetry, peers, callers), a table on
stdout and results/latest.json. A section that fails is reported and the others still run; the exit code is then 1."""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers import Azurite  # tests/, on sys.path (bench/__init__)

from . import retries
from .baseline import RawWrites
from .callers import measure_keyed_submits, measure_waiting
from .idle import measure_idle
from .latency import measure_in_process, measure_submit_latency
from .multiple import measure_execute_multiple
from .own_cpu import measure_own_cpu
from .peers import OPERATIONS as PEER_OPERATIONS
from .peers import ROUNDS as PEER_ROUNDS
from .peers import measure_peers
from .processes import AppHost, machine_facts
from .report import format_report, write_json
from .scale import measure_scale
from .starvation import measure_api_under_long_handlers
from .telemetry import OPERATIONS, ROUNDS, SUBMITS, measure_telemetry
from .throughput import measure_throughput
from .transactions import BURST, measure_transactions

RESULTS = Path(__file__).resolve().parent / "results"
JSON_PATH = RESULTS / "latest.json"
FAILED_JSON_PATH = RESULTS / "last-failed.json"  # a failed or interrupted run never overwrites latest.json


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _on_sigterm(*_) -> None:
    raise KeyboardInterrupt  # unwinds through the context managers, which stop every child


@dataclass
class Bench:
    """What the sections share: the results so far, the logs' folder, and the run's Azurite."""

    results: dict
    logs: Path
    azurite: Azurite

    def host(self, name: str) -> AppHost:
        return AppHost(self.azurite.connection_string, self.logs / f"devhost-{name}.log")


def _transactions(b: Bench) -> None:
    b.results["transactions"] = measure_transactions(b.azurite.connection_string)
    b.results["transactions_with_callback"] = measure_transactions(b.azurite.connection_string, callback=True)
    b.results["transactions_burst"] = measure_transactions(b.azurite.connection_string, BURST)
    b.results["transactions_with_subscriber"] = measure_transactions(b.azurite.connection_string, subscriber=True)


def _latency(b: Bench) -> None:
    with b.host("latency") as host:
        b.results["submit_latency"], b.results["baseline"], _ = measure_submit_latency(
            host, RawWrites(b.azurite.connection_string))
    b.results["submit_in_process"] = measure_in_process(b.azurite.connection_string,
                                                        RawWrites(b.azurite.connection_string))


def _throughput(b: Bench) -> None:
    with b.host("throughput") as host:
        b.results["throughput"] = measure_throughput(
            host, {"devhost (app + host)": host.process.pid, "azurite": b.azurite.process.pid if b.azurite.process
                   else None, "bench client": None})


def _api_under_load(b: Bench) -> None:
    with b.host("api-under-load") as host:
        b.results["api_under_load"] = measure_api_under_long_handlers(host)


def _execute_multiple(b: Bench) -> None:
    b.results["execute_multiple"] = measure_execute_multiple(b.azurite.connection_string, b.logs)


def _telemetry(b: Bench) -> None:
    b.results["telemetry"] = measure_telemetry(b.azurite.connection_string, b.logs)


def _peers(b: Bench) -> None:
    # an Azurite of its own: the shared one has grown by every earlier section's rows, and slows as it grows
    with tempfile.TemporaryDirectory(prefix="bench-azurite-") as data, \
            Azurite(Path(data), b.logs / "azurite-peers.log") as azurite:
        b.results["peers"] = measure_peers(azurite.connection_string, b.logs, progress=_progress)
        b.results["peers"]["own_cpu"] = measure_own_cpu(azurite.connection_string)


def _callers(b: Bench) -> None:
    b.results["callers"] = {"keys": measure_keyed_submits(b.azurite.connection_string)}
    b.results["callers"]["waiting"] = measure_waiting(b.azurite.connection_string, b.logs)


def _idle(b: Bench) -> None:
    b.results["idle"] = measure_idle()


def _scale(b: Bench) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-azurite-") as data, \
            Azurite(Path(data), b.logs / "azurite-scale.log", in_memory=True) as azurite:
        b.results["scale"] = measure_scale(azurite.connection_string)


# key (what ``python -m bench KEY...`` runs alone), what it measures, the function. Each section starts the apps
# it needs; one that fails is reported and the others still run.
SECTIONS: list[tuple[str, str, Callable[[Bench], None]]] = [
    ("transactions", "transactions per operation (in-process)", _transactions),
    ("latency", "submit latency over HTTP, in turns with the raw insert + put", _latency),
    ("throughput", "end-to-end throughput", _throughput),
    ("idle", "idle cost for each maxPollingInterval (its own Azurite, logging every request; about 3½ minutes)",
     _idle),
    ("scale", "1,000 rows vs 100,000 (its own Azurite, in memory; seeding 100,000 takes about 9 minutes)", _scale),
    ("api", "the API while 20 long operations run (about 40 s)", _api_under_load),
    ("multiple", "ExecuteMultiple of 1,000 requests, three times of each kind, each on an app of its own",
     _execute_multiple),
    ("telemetry", f"telemetry off and on, in turns ({ROUNDS} rounds of {OPERATIONS} operations and {SUBMITS} "
                  "submits each, then telemetry's own work in one process; about 3 minutes)", _telemetry),
    ("peers", f"the app, the raw-SDK floor and Celery, {PEER_OPERATIONS:,} operations each, {PEER_ROUNDS} rounds in "
              "turns, then the app's own CPU in one process (its own Azurite; about 4 minutes)", _peers),
    ("callers", "a submit with an Idempotency-Key, and a 300 ms operation polled or waited for (about 40 s)",
     _callers)]


def run(results: dict, keys: list[str]) -> None:
    """Run the sections named (all when none is) into ``results``, filled as it goes; each section's failure
    and the retries it made are recorded with the results."""
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in SECTIONS if not keys or s[0] in keys]
    with tempfile.TemporaryDirectory(prefix="bench-azurite-") as data, \
            Azurite(Path(data), logs / "azurite.log") as azurite:
        bench = Bench(results, logs, azurite)
        for number, (key, title, measure) in enumerate(chosen, 1):
            _progress(f"{number}/{len(chosen)} {title}")
            retries.section = key
            try:
                measure(bench)
            except Exception as error:  # reported; the next section still runs
                results.setdefault("failed", {})[key] = f"{type(error).__name__}: {error}"
                _progress(f"  FAILED: {type(error).__name__}: {error} (logs in {logs})")
            finally:
                if taken := retries.taken():
                    results.setdefault("retried", {}).update(taken)
                    _progress(f"  retried: {taken}")


def main() -> int:
    """Run everything; print the table; write the JSON. Non-zero exit on failure or interruption."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    started = time.monotonic()
    results: dict = {"machine": machine_facts()}
    status = 0
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        return 0
    keys = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    if unknown := set(keys) - {key for key, _, _ in SECTIONS}:
        print(f"python -m bench: no section {', '.join(sorted(unknown))}; the sections are "
              f"{', '.join(key for key, _, _ in SECTIONS)}", file=sys.stderr)
        return 2
    if "--no-scale" in sys.argv[1:]:
        keys = keys or [key for key, _, _ in SECTIONS if key != "scale"]
    try:
        run(results, keys)
    except KeyboardInterrupt:
        _progress("interrupted; every process was stopped")
        results["error"], status = "interrupted", 130
    if results.get("failed") and not status:
        results["error"], status = f"failed: {', '.join(results['failed'])}", 1
    path = JSON_PATH if status == 0 else FAILED_JSON_PATH
    results["seconds"] = round(time.monotonic() - started, 1)
    results["json_path"] = str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    write_json(results, path)
    print(format_report(results))
    return status


if __name__ == "__main__":
    sys.exit(main())
