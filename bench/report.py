"""Printing the numbers as a short table, and saving them as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def _section(title: str, rows: list[tuple[str, object]]) -> list[str]:
    width = max(len(label) for label, _ in rows)
    return [title] + [f"  {label:<{width}}  {value}" for label, value in rows] + [""]


def _breakdown(per_op: dict[str, float], prefix: str) -> list[tuple[str, object]]:
    return [(f"{prefix} {key}", f"{value:g}") for key, value in per_op.items()]


def format_report(results: dict) -> str:
    """The results as plain text, one section per measurement."""
    m, lines = results["machine"], []
    lines += _section("Machine", [("cores", m["cores"]), ("python", m["python"]), ("platform", m["platform"]),
                                  ("azurite", m["azurite"]),
                                  ("SDKs", (f"azure-data-tables {m['azure-data-tables']}, "
                                            f"azure-storage-queue {m['azure-storage-queue']}"))])
    if tx := results.get("transactions"):
        verdict = "OK" if tx["happy_path_per_op"] <= tx["target_per_op"] else "OVER BUDGET"
        lines += _section(
            f"1. Storage transactions per operation ({tx['operations']} sample_Echo, {tx['succeeded']} Succeeded)",
            _breakdown(tx["submit_per_op"], "app submit") + _breakdown(tx["worker_per_op"], "app worker")
            + [("app total", f"{tx['app_per_op']:g}"),
               ("app's TransactionCounter", f"{tx['app_counter_per_op']:g}"
                                            + ("" if tx["app_counter_agrees"] else "  MISMATCH (see README)")),
               ("host receive (batched)", (f"{tx['host_receive_per_op']:g}  ({tx['host_receives']} receives"
                                           f" / {tx['operations']} ops)")),
               ("host delete", f"{tx['host_delete_per_op']:g}"),
               ("total per op", f"{tx['total_per_op']:g}"),
               ("happy path (no receive)", (f"{tx['happy_path_per_op']:g}  target <= {tx['target_per_op']}"
                                            f" + receive share: {verdict}"))])
    if lat := results.get("submit_latency"):
        lines += _section(f"2. Submit latency over HTTP ({lat['count']} sequential POSTs, one session)",
                          [("p50", f"{lat['p50_ms']} ms"), ("p99", f"{lat['p99_ms']} ms"),
                           ("mean / max", f"{lat['mean_ms']} / {lat['max_ms']} ms")])
    if tp := results.get("throughput"):
        lines += _section(f"3. End-to-end throughput ({tp['operations']} ops, {tp['threads']} submit threads)",
                          [("submit phase", f"{tp['submit_seconds']} s ({tp['submits_per_second']} submits/s)"),
                           ("first submit -> last success", f"{tp['seconds_to_last_success']} s"),
                           ("throughput", f"{tp['operations_per_second']} ops/s"),
                           ("submit -> Succeeded p50", f"{tp['turnaround_p50_ms']} ms"),
                           ("submit -> Succeeded p99", f"{tp['turnaround_p99_ms']} ms")]
                          + [(f"CPU per op: {name}", "n/a" if ms is None else f"{ms} ms")
                             for name, ms in tp["cpu_ms_per_op"].items()])
    if base := results.get("baseline"):
        rows = [("p50", f"{base['p50_ms']} ms"), ("p99", f"{base['p99_ms']} ms")]
        if lat:
            rows.append(("submit p50 / baseline p50", f"{lat['p50_ms'] / base['p50_ms']:.2f}x"))
        lines += _section(f"4. Raw baseline: table insert + queue put via the SDK ({base['count']} times)", rows)
    if "error" in results:
        lines.append(f"INCOMPLETE RUN: {results['error']}")
    lines.append(f"Took {results['seconds']} s. JSON: {results['json_path']}")
    return "\n".join(lines)


def write_json(results: dict, path: Path) -> None:
    """Save the results (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
