"""``python -m faults``: the fault scenarios of issue 9 on a private Azurite; a table on stdout."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from helpers import ACCOUNT_KEY, Azurite, CallbackServer  # tests/, on sys.path (faults/__init__)

from .proxy import StorageProxy, ports_of
from .scenarios import (
    Result,
    Run,
    concurrent_submits,
    host_killed,
    line_host_killed,
    steering_races,
    storage_down_while_processing,
    storage_down_while_submitting,
)

LOGS = Path(__file__).resolve().parent / "logs"
COLUMNS = ("scenario", "accepted", "lost", "stuck", "orphan rows", "duplicated callbacks", "missing callbacks",
           "5xx", "503 while storage was down", "no answer", "overlapping in a line", "outcomes", "seconds")


def run_all() -> list[Result]:
    LOGS.mkdir(exist_ok=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="faults-azurite-") as data, \
            Azurite(Path(data), LOGS / "azurite.log") as azurite:
        proxy, callbacks = StorageProxy(ports_of(azurite.connection_string)), CallbackServer()
        through_proxy = proxy.connection_string("devstoreaccount1", ACCOUNT_KEY)
        try:
            for name, scenario, via_proxy in (
                    ("host killed mid-run x20", host_killed, False),
                    ("storage down 10 s during submits", lambda r: storage_down_while_submitting(r, proxy), True),
                    ("storage down 10 s during processing", lambda r: storage_down_while_processing(r, proxy), True),
                    ("200 concurrent submits", concurrent_submits, False),
                    ("100 cancel/pause/resume races", steering_races, False),
                    ("one line of 20 jobs, host killed x5", line_host_killed, False)):
                print(f"[faults] {name}", file=sys.stderr, flush=True)
                run = Run(name, azurite.connection_string, through_proxy if via_proxy else azurite.connection_string,
                          callbacks, LOGS)
                results.append(scenario(run))
                print(f"[faults]   {results[-1]}", file=sys.stderr, flush=True)
        finally:
            callbacks.stop()
            proxy.stop()
    return results


def table(results: list[Result]) -> str:
    """The results as a Markdown table (what the README shows)."""
    rows = [[r.name, r.accepted, r.lost, r.stuck, r.orphans, r.duplicated_callbacks, r.missing_callbacks, r.five_xx,
             r.five_xx_while_down, r.no_answer, r.overlapping,
             ", ".join(f"{n} {k}" for k, n in sorted(r.outcomes.items())), r.seconds]
            for r in results]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    results = run_all()
    print(table(results))
    bad = sum(r.lost + r.stuck + r.orphans + r.missing_callbacks + r.five_xx + r.no_answer + r.overlapping
              + (0 if r.duplicates_expected else r.duplicated_callbacks) for r in results)
    print(f"\nlost + stuck + orphans + missing callbacks + 5xx + no answer + overlapping, and duplicated callbacks "
          f"where no host "
          f"was killed = {bad} (goal 0); "
          f"took {time.monotonic() - started:.0f} s. Logs: {LOGS}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
