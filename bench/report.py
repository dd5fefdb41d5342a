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
        lines += _section(
            f"1. Storage transactions per operation ({tx['operations']} sample_Echo, {tx['succeeded']} Succeeded)",
            _breakdown(tx["submit_per_op"], "app submit") + _breakdown(tx["worker_per_op"], "app worker")
            + [("app total", f"{tx['app_per_op']:g}"),
               ("app's TransactionCounter", f"{tx['app_counter_per_op']:g}"
                                            + ("" if tx["app_counter_agrees"] else "  MISMATCH (see README)")),
               ("host receive (batched)", (f"{tx['host_receive_per_op']:g}  ({tx['host_receives']} receives"
                                           f" / {tx['operations']} ops)")),
               ("host delete", f"{tx['host_delete_per_op']:g}"),
               ("total per op, at the proxy", f"{tx['total_per_op']:g}  (target <= {tx['target_per_op']:g}; issue "
                                              "22's <= 4.2)" + ("" if tx.get("proxy_agrees") else
                                                                "  MISMATCH with the SDKs' count")),
               *_with_callback(results.get("transactions_with_callback")),
               *_burst(results.get("transactions_burst")),
               *_with_subscriber(results.get("transactions_with_subscriber"), tx),
               ("attempts run from the carried row", f"{tx.get('unread_per_op', 0):.0%}")])
    if lat := results.get("submit_latency"):
        lines += _section(f"2. Submit latency over HTTP ({lat['count']} sequential POSTs, one session)",
                          [("p50", f"{lat['p50_ms']} ms"), ("p99", f"{lat['p99_ms']} ms"),
                           ("mean / max", f"{lat['mean_ms']} / {lat['max_ms']} ms"),
                           ("p50 / raw insert + put p50", f"{lat['over_baseline_p50']:.2f}x  (target <= 1.5x; "
                                                          "issue 22's <= 1.2x)"),
                           *_in_process(results.get("submit_in_process"))])
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
        lines += _section(f"4. Raw baseline: table insert + queue put via the SDK ({base['count']} times, "
                          "in turns with 2.)", [("p50", f"{base['p50_ms']} ms"), ("p99", f"{base['p99_ms']} ms")])
    if idle := results.get("idle"):
        lines += _idle_section(idle)
    if sc := results.get("scale"):
        lines += _scale_sections(sc)
    for key, section in (("api_under_load", _api_section), ("execute_multiple", _multiple_section),
                         ("telemetry", _telemetry_section), ("peers", _peers_section),
                         ("callers", _callers_section)):
        if results.get(key):
            lines += section(results[key])
    lines += _targets(results) + _trouble(results)
    lines.append(f"Took {results['seconds']} s. JSON: {results['json_path']}")
    return "\n".join(lines)


def _in_process(ip: dict | None) -> list[tuple[str, object]]:
    """Section 2's lines for the submit service called in-process, in turns with the raw pair."""
    if not ip:
        return []
    return [("in-process submit p50 / p99", f"{ip['submit']['p50_ms']} / {ip['submit']['p99_ms']} ms  (raw pair "
                                            f"{ip['baseline']['p50_ms']} / {ip['baseline']['p99_ms']} ms: "
                                            f"{ip['over_baseline_p50']:.2f}x / {ip['over_baseline_p99']:.2f}x; "
                                            "the app's own part, without HTTP, host or worker)")]


def _with_callback(cb: dict | None) -> list[tuple[str, object]]:
    """Section 1's line for operations with a callback URL, delivered on the first try."""
    if not cb:
        return []
    return [("total per op with a callback", f"{cb['total_per_op']:g}  (app {cb['app_per_op']:g}: "
                                             f"{', '.join(f'{k} {v:g}' for k, v in cb['worker_per_op'].items())} "
                                             "in the worker; target <= 5.2)")]


def _with_subscriber(sub: dict | None, plain: dict) -> list[tuple[str, object]]:
    """Section 1's line for one webhook subscriber to every completion."""
    if not sub:
        return []
    added, parts = sub["total_per_op"] - plain["total_per_op"], sub["at_proxy_per_op"].items()
    return [("total per op with a webhook subscriber", f"{sub['total_per_op']:g}  (the subscriber adds {added:.2f}; "
                                                       f"in all: {', '.join(f'{k} {v:g}' for k, v in parts)})")]


def _burst(burst: dict | None) -> list[tuple[str, object]]:
    """Section 1's line for a burst, all submitted before the first is taken."""
    if not burst:
        return []
    return [(f"total per op, {burst['operations']:,} submitted at once", (
        f"{burst['total_per_op']:g}  (run from the carried row: {burst['unread_per_op']:.0%}; target <= 5.0)"))]


def _trouble(results: dict) -> list[str]:
    """What was made again after a transient storage error, and the sections that failed."""
    lines = _section("Made again after a transient storage error (section: call)",
                     list(results["retried"].items())) if results.get("retried") else []
    lines += [f"FAILED section {key}: {why}" for key, why in results.get("failed", {}).items()]
    return lines + ([f"INCOMPLETE RUN: {results['error']}"] if "error" in results else [])


def _idle_section(idle: dict) -> list[str]:
    c = idle["computed"]
    rows: list[tuple[str, object]] = [(f"computed: {part}", n) for part, n in c["parts"].items()]
    rows.append(("computed total", c["per_hour"]))
    for choice, measured in idle["by_setting"]["choices"].items():
        polls = measured["polls_per_hour"]
        rows.append((f"measured, maxPollingInterval {choice}",
                     f"{sum(polls.values()):,} polls/hour ({', '.join(f'{k} {v:,}' for k, v in polls.items())}); "
                     f"first start after idle {measured['first_start_seconds']} s"))
    return _section(f"5. Idle cost: storage transactions per hour ({c['queue_triggers']} queue triggers, "
                    f"maxPollingInterval {c['max_polling_interval_seconds']:g} s in host.json, {c['timers']} timer)",
                    rows)


def _api_section(api: dict) -> list[str]:
    return _section(f"7. The API while {api['long_operations']} long operations run "
                    f"({api['running_when_measured']} In Progress; {api['count']} calls in turns: "
                    "status, list, submit, health)",
                    [("p50", f"{api['p50_ms']} ms"), ("p99", f"{api['p99_ms']} ms  (target < 1000 ms) "
                                                             f"{'OK' if api['p99_ms'] < 1000 else 'OVER'}"),
                     ("max", f"{api['max_ms']} ms"), ("status codes", api["statuses"])])


def _multiple_section(em: dict) -> list[str]:
    return _section(f"8. ExecuteMultiple of {em['requests']} requests, accepted in one call",
                    [(f"{kind} entries", f"best {r['best_seconds']} s  (runs: {r['runs_seconds']})")
                     for kind, r in em.items() if isinstance(r, dict)])


def _telemetry_section(te: dict) -> list[str]:
    return _section(f"9. Telemetry off / on (OTLP to a local receiver; {te['rounds']} rounds in turns, "
                    f"{te['operations_per_round']} ops each)", [
        ("CPU per op in the app's process", f"{te['off']['cpu_ms_per_op']} / {te['on']['cpu_ms_per_op']} ms  "
                                            f"({te['cpu_overhead']:.2f}x, target <= {te['target_cpu_overhead']}x)"),
        ("CPU per op in its lasting threads", f"{te['off']['lasting_threads_cpu_ms_per_op']} / "
                                              f"{te['on']['lasting_threads_cpu_ms_per_op']} ms  "
                                              f"({te['lasting_threads_cpu_overhead']:.2f}x: every thread telemetry "
                                              "works in, none of the short-lived ones)"),
        ("telemetry's own work per op", f"{te['work']['telemetry_ms_per_op']} ms  ({te['work_overhead']:.2f}x of "
                                        f"the app's {te['off']['cpu_ms_per_op']} ms: one process, in-memory stores, "
                                        f"{te['work']['off_ms_per_op']} / {te['work']['on_ms_per_op']} ms)"),
        ("submit p50", f"{te['off']['submit']['p50_ms']} / {te['on']['submit']['p50_ms']} ms  "
                       f"({te['submit_p50_overhead']:.2f}x)"),
        ("submit p99", f"{te['off']['submit']['p99_ms']} / {te['on']['submit']['p99_ms']} ms"),
        ("storage transactions per op", f"{te['transactions_per_op']['off']:g} / "
                                        f"{te['transactions_per_op']['on']:g}  (SDK recording in memory)"),
        ("spans received over OTLP", te["spans_received"])])


# Issue 22's targets beside the peers: (figure, label, better when higher, at most this x the floor's)
PEER_FIGURES = (("transactions_per_op", "storage transactions per op", False, None),
                ("operations_per_second", "operations per second", True, 0.85),
                ("cpu_ms_per_op", "CPU ms per op, worker process", False, 1.2),
                ("client_cpu_ms_per_op", "CPU ms per op, submitting client", False, None))


def _peers_section(peers: dict) -> list[str]:
    """Section 10: each figure for the app, the floor and Celery, the app's as a ratio to each, and the verdict."""
    by = peers["by_contestant"]
    app, floor, celery = by["app"], by["floor"], by["celery"]
    rows: list[tuple[str, object]] = [("", f"{'app':>8} {'floor':>8} {'celery':>8}   app/floor  app/celery")]
    for key, label, higher, floor_target in PEER_FIGURES:
        ahead = app[key] >= celery[key] if higher else app[key] <= celery[key]
        verdict = [] if ahead else ["BEHIND CELERY"]
        if floor_target is not None:
            ratio = app[key] / floor[key]
            if (ratio < floor_target) if higher else (ratio > floor_target):
                verdict.append(f"OFF TARGET ({'>=' if higher else '<='} {floor_target}x the floor)")
        rows.append((label, f"{app[key]:>8g} {floor[key]:>8g} {celery[key]:>8g}   {app[key] / floor[key]:>8.2f}x "
                            f"{app[key] / celery[key]:>10.2f}x  {' '.join(verdict) or 'OK'}"))
    if own := peers.get("own_cpu"):
        rows.append(("CPU ms per op, in-process, app / floor", (
            f"{own['app_cpu_ms_per_op']:>8g} {own['floor_cpu_ms_per_op']:>8g} {'':>8}   {own['ratio']:>8.2f}x  "
            "(without HTTP or a host: the app's own part)")))
    return _section(f"10. Beside its peers ({peers['operations']:,} no-op operations each, {peers['threads']} submit "
                    f"threads, medians of {peers['rounds']} rounds taken in turns; transactions counted by a proxy)",
                    rows)


def _callers_section(callers: dict) -> list[str]:
    """Section 11: a submit with and without an Idempotency-Key, and a quick operation with and without waiting."""
    rows: list[tuple[str, object]] = []
    if keys := callers.get("keys"):
        rows += [("storage transactions per submit, no key", f"{keys['without_key']:g}"),
                 ("... with an Idempotency-Key", f"{keys['with_key']:g}  (+{keys['with_key'] - keys['without_key']:g}"
                                                 ": the key marked accepted after the put)"),
                 ("... the keyed submit sent again", f"{keys['sent_again']:g}  (the clash, the key's row, the "
                                                     "operation's row; nothing queued)")]
    if wait := callers.get("waiting"):
        for kind, label in (("polling", f"polling at Retry-After ({wait['retry_after_seconds']} s)"),
                            ("waiting", "Prefer: respond-async, wait=30")):
            w = wait[kind]
            rows.append((label, f"{w['http_requests_per_op']:g} HTTP requests per op, outcome after "
                                f"{w['seconds_to_outcome_p50']:g} s p50 ({w['seconds_to_outcome_max']:g} s max), "
                                f"{w['storage_requests_per_op']:g} storage requests per op "
                                f"({w['table_reads_per_op']:g} table reads)"))
        rows.append(("round trips wait= saves per op", f"{wait['round_trips_saved_per_op']:g}"))
    title = (f"11. For callers (keys: {callers.get('keys', {}).get('submits', 0)} submits in-process; waiting: "
             f"{callers.get('waiting', {}).get('operations', 0)} operations of 300 ms at once through devhost)")
    return _section(title, rows)


def _scale_rows(sc: dict) -> list[tuple[str, str]]:
    """Section 6: each figure at the small and the large table, and their ratio against its target."""
    small, large, ratio, target = sc["small"], sc["large"], sc["ratios"], sc["targets"]
    rows = []
    for key, label, unit in (("status_read", "status read p50", "_p50_ms"),
                             ("first_page", "first list page p50", "_p50_ms"),
                             ("purge_transactions", "purge of 1,000 expired", "")):
        column = key + unit
        verdict = "OK" if ratio[key] <= target[key] else "OVER"
        rows.append((label, f"{small[column]} -> {large[column]}{' ms' if unit else ' transactions'}: "
                            f"{ratio[key]:.2f}x  (target <= {target[key]}x) {verdict}"))
    rows.append(("plain SDK get_entity p50 (Azurite alone)",
                 f"{small['raw_sdk_read_p50_ms']} -> {large['raw_sdk_read_p50_ms']} ms"))
    rows.append(("status read / plain SDK read", (
        f"{small['status_read_p50_ms'] / small['raw_sdk_read_p50_ms']:.2f}x -> "
        f"{large['status_read_p50_ms'] / large['raw_sdk_read_p50_ms']:.2f}x  (the app's own part)")))
    rows.append(("requests per status read / first page", (
        f"{small['requests_per_status_read']:g} / {small['requests_per_first_page']:g} -> "
        f"{large['requests_per_status_read']:g} / {large['requests_per_first_page']:g}")))
    rows.append(("seeding", f"{small['seed_seconds']} s / {large['seed_seconds']} s"))
    return rows


def _scale_sections(sc: dict) -> list[str]:
    """Sections 6 and 6b: the scale figures, and the query options at both sizes."""
    sizes = f"{sc['small']['rows']:,} rows -> {sc['large']['rows']:,} rows"
    lines = _section(f"6. Flat at scale: {sizes}", _scale_rows(sc))
    if options := sc.get("query_options"):
        lines += _section("6b. Query options on GET data/v9.2/backgroundoperations, in-process: status, storage "
                          f"requests per call and p50, {sizes}", _option_rows(options))
    return lines


def _option_rows(options: dict) -> list[tuple[str, str]]:
    """Section 6b: per option, what it answered and cost at each table size."""
    rows = []
    for label, by_size in options.items():
        small, large = by_size.values()
        rows.append((label, f"{small['status']}, {small['requests']:g} -> {large['requests']:g} requests, "
                            f"{small['p50_ms']} -> {large['p50_ms']} ms"))
    return rows


# What the bench measured before the storage transactions were cut (same machine), for the summary; and before
# issue 22 (2026-12-07): a callback, a burst, the app's CPU and throughput beside the raw-SDK floor.
BEFORE = {"transactions": 6.08, "submit": 2.26, "callback": 7.1, "burst": 6.06, "cpu_vs_floor": 2.23,
          "floor_vs_throughput": 1 / 0.72}


def _targets(results: dict) -> list[str]:
    """The figures against their targets, one line each."""
    rows = []
    if tx := results.get("transactions"):
        rows.append(("transactions per operation", tx["total_per_op"], BEFORE["transactions"], tx["target_per_op"]))
    if lat := results.get("submit_latency"):
        rows.append(("submit p50 / raw insert + put", lat["over_baseline_p50"], BEFORE["submit"], 1.5))
    if sc := results.get("scale"):
        rows += [(f"100k / 1k rows: {key.replace('_', ' ')}", sc["ratios"][key], None, sc["targets"][key])
                 for key in sc["ratios"]]
    rows += _issue_22_rows(results)
    lines = [(label, f"{now:g}  (before {'-' if before is None else f'{before:g}'}, target <= {target:g}) "
                     f"{'OK' if now <= target else 'OVER'}") for label, now, before, target in rows]
    if idle := results.get("idle"):
        lines.append(("idle transactions per hour", f"{idle['computed']['per_hour']:,} computed for host.json"))
    return _section("Figures against their targets", lines) if lines else []


def _issue_22_rows(results: dict) -> list[tuple[str, float, float | None, float]]:
    """Issue 22's figures, each as (label, now, before, at most), smaller being better: throughput as the floor's
    operations per second over the app's."""
    rows: list[tuple[str, float, float | None, float]] = []
    if cb := results.get("transactions_with_callback"):
        rows.append(("transactions per operation with a callback", cb["total_per_op"], BEFORE["callback"], 5.2))
    if burst := results.get("transactions_burst"):
        rows.append(("transactions per operation in a burst", burst["total_per_op"], BEFORE["burst"], 5.0))
    if ip := results.get("submit_in_process"):
        rows += [("in-process submit p50 / raw pair", ip["over_baseline_p50"], None, 1.2),
                 ("in-process submit p99 / raw pair", ip["over_baseline_p99"], None, 1.5)]
    if peers := results.get("peers"):
        app, floor = peers["by_contestant"]["app"], peers["by_contestant"]["floor"]
        rows += [("floor's ops/s / the app's", round(floor["operations_per_second"] / app["operations_per_second"], 2),
                  round(BEFORE["floor_vs_throughput"], 2), round(1 / 0.85, 2)),
                 ("app's CPU per op / the floor's", round(app["cpu_ms_per_op"] / floor["cpu_ms_per_op"], 2),
                  BEFORE["cpu_vs_floor"], 1.2)]
    return rows


def write_json(results: dict, path: Path) -> None:
    """Save the results (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
