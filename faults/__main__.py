"""``python -m faults``: the fault scenarios, each on a private Azurite; a table on stdout.

``--only TEXT`` runs the scenarios whose name contains TEXT; ``--runs N`` runs them N times over, one
table each, and fails if any run counts a fault.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers import ACCOUNT_KEY, Azurite, CallbackServer  # tests/, on sys.path (faults/__init__)

from .pauses import PauseWatch
from .proxy import StorageProxy, ports_of
from .scenarios import (
    NEIGHBOURS_SETTINGS,
    Result,
    Run,
    concurrent_submits,
    host_killed,
    keyed_submits_while_storage_is_down,
    line_host_killed,
    noisy_neighbours,
    steering_races,
    storage_down_while_processing,
    storage_down_while_submitting,
    three_instances,
)

LOGS = Path(__file__).resolve().parent / "logs"
VOID_RUNS = 2  # runs of one scenario a machine pause may void before the faults run fails
COLUMNS = ("scenario", "accepted", "lost", "stuck", "orphan rows", "refused but ran", "ran twice",
           "duplicated callbacks", "missing callbacks", "5xx", "503 while storage was down", "no answer",
           "overlapping in a line", "slowed by neighbours", "outcomes", "seconds")


# No host is killed while storage is down, so the lease keeps Azure's proportions: far longer than the outage
# (there, 10 minutes against seconds). With the 3-second lease of the kill scenarios, a running attempt's
# message came back (its lease cannot be renewed while storage is down either) while its worker, alive, was
# still trying to write how the attempt ended, and the work ran again: the worker relies on the host keeping
# the message meanwhile (worker.END_WRITE_SECONDS), as the real lease does. 30 s is longer than the outage
# (2 + 10 s) and the end write's longest pause after it (8 s); it is short enough that a message whose release
# failed while storage was down (an invocation that failed then) comes back within the run, as the real
# host's would after its 10 minutes.
OUTAGE_SETTINGS = {"DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS": "30"}

Scenario = Callable[[Run, StorageProxy], Result]
# name, scenario, whether the app reaches storage through the lane's proxy, settings
Entry = tuple[str, Scenario, bool, dict[str, str]]

# The subscribers' scenario compares latencies: it runs first and alone, on an Azurite with nothing in it yet.
ALONE: list[Entry] = [("10 hanging and 10 failing subscribers", lambda r, _: noisy_neighbours(r), False,
                       NEIGHBOURS_SETTINGS)]
# Then two lanes side by side, each on an Azurite of its own (most of their time is spent waiting: for a
# lease to run out, an outage to end, a host to start), each scenario of a lane after the one before.
LANES: list[list[Entry]] = [
    [("host killed mid-run x20", lambda r, _: host_killed(r), False, {}),
     ("200 concurrent submits", lambda r, _: concurrent_submits(r), False, {}),
     ("one line of 20 jobs, host killed x5", lambda r, _: line_host_killed(r), False, {})],
    [("storage down 10 s during submits", storage_down_while_submitting, True, OUTAGE_SETTINGS),
     ("storage down 10 s during processing", storage_down_while_processing, True, OUTAGE_SETTINGS),
     ("keyed submits sent again while storage is down", keyed_submits_while_storage_is_down, True, OUTAGE_SETTINGS),
     ("100 cancel/pause/resume races", lambda r, _: steering_races(r), False, {}),
     ("three hosts, two killed, one line across them", lambda r, _: three_instances(r), False, {})]]
ORDER = [name for name, *_ in ALONE + [e for lane in LANES for e in lane]]


class Lane:
    """A private Azurite, a proxy in front of it (to take it down) and a callback server; runs its scenarios
    one after the other."""

    def __init__(self, stack: contextlib.ExitStack, number: int, watch: PauseWatch) -> None:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"faults-azurite{number}-")))
        self.azurite = stack.enter_context(Azurite(folder, LOGS / f"azurite{number}.log"))
        self.proxy, self.callbacks, self.watch = StorageProxy(ports_of(self.azurite.connection_string)), \
            CallbackServer(), watch
        stack.callback(self.callbacks.stop)
        stack.callback(self.proxy.stop)

    def run(self, entries: list[Entry], only: str) -> list[Result]:
        through_proxy = self.proxy.connection_string("devstoreaccount1", ACCOUNT_KEY)
        results = []
        for name, scenario, via_proxy, settings in (e for e in entries if only in e[0]):
            start = functools.partial(Run, name, self.azurite.connection_string,
                                      through_proxy if via_proxy else self.azurite.connection_string,
                                      self.callbacks, LOGS, settings)
            results.append(_measured(name, lambda r, s=scenario: s(r, self.proxy), start, self.watch))
        return results


def run_all(only: str = "") -> list[Result]:
    LOGS.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        watch = stack.enter_context(PauseWatch())
        lanes = [Lane(stack, n, watch) for n in range(len(LANES))]
        results = lanes[0].run(ALONE, only)
        with ThreadPoolExecutor(len(LANES)) as pool:
            for done in pool.map(lambda lane, entries: lane.run(entries, only), lanes, LANES):
                results += done
    return sorted(results, key=lambda r: ORDER.index(r.name))


def _measured(name: str, scenario: Callable[[Run], Result], start: Callable[[], Run], watch: PauseWatch) -> Result:
    """The scenario's result, from a run the machine did not pause in (pauses.py): a run it paused in is void,
    whatever it counted, and is made again, up to VOID_RUNS times; the result's note says so. Every time."""
    voided: list[str] = []
    while True:
        print(f"[faults] {name}", file=sys.stderr, flush=True)
        before = len(watch.pauses)
        result = scenario(start())
        print(f"[faults]   {result}", file=sys.stderr, flush=True)
        paused = watch.since(before)
        if not paused:
            break
        voided.append(", ".join(f"{p.seconds:.1f} s at {time.strftime('%H:%M:%S', time.gmtime(p.resumed_at))}"
                                for p in paused))
        print(f"[faults]   void: the machine was paused ({voided[-1]} UTC)", file=sys.stderr, flush=True)
        if len(voided) > VOID_RUNS:
            result.lost += 1  # not measured: fail rather than pass unmeasured
            break
    if voided:
        result.note = "; ".join(filter(None, [result.note, f"{len(voided)} run(s) before it void, the machine "
                                                           f"paused {'; '.join(voided)} UTC"]))
    return result


def table(results: list[Result]) -> str:
    """The results as a Markdown table (what the README shows)."""
    rows = [[r.name, r.accepted, r.lost, r.stuck, r.orphans, r.refused_but_ran, r.ran_twice, r.duplicated_callbacks,
             r.missing_callbacks, r.five_xx, r.five_xx_while_down, r.no_answer, r.overlapping, r.slowed,
             ", ".join(f"{n} {k}" for k, n in sorted(r.outcomes.items())), r.seconds]
            for r in results]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def faults_in(results: list[Result]) -> int:
    """Everything that must be 0: lost, stuck, orphan rows, refused but ran, ran twice, missing callbacks, 5xx,
    no answer, overlapping, slowed by neighbours, and duplicated callbacks where no host was killed."""
    return sum(r.lost + r.stuck + r.orphans + r.refused_but_ran + r.ran_twice + r.missing_callbacks + r.five_xx
               + r.no_answer + r.overlapping + r.slowed + (0 if r.duplicates_expected else r.duplicated_callbacks)
               for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this")
    parser.add_argument("--runs", type=int, default=1, help="run the scenarios this many times over")
    args = parser.parse_args()
    started, bad = time.monotonic(), []
    for run in range(1, args.runs + 1):
        results = run_all(args.only)
        print(f"\nRun {run} of {args.runs}:\n" if args.runs > 1 else "", end="")
        print(table(results))
        print("".join(f"\n- {r.name}: {r.note}" for r in results if r.note))
        bad.append(faults_in(results))
    print(f"\nlost + stuck + orphans + refused but ran + ran twice + missing callbacks + 5xx + no answer + "
          f"overlapping + slowed, and duplicated callbacks where no host was killed = {' '.join(map(str, bad))} "
          f"(goal 0); took {time.monotonic() - started:.0f} s. Logs: {LOGS}")
    return 1 if any(bad) else 0


if __name__ == "__main__":
    sys.exit(main())
