"""Schemathesis against the running app (tests/e2e/test_openapi.py and test_openapi_fresh.py, which xdist runs
side by side): both kinds of data, every check that applies; a disagreement fails the test, listed with a curl
to reproduce it. Rules the document can only state in words are set aside by e2e/schemathesis_hooks.py."""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

KEY = "fuzz-key-0123"
METHODS = {"get", "post", "put", "patch", "delete"}
EVENT = "OnBackgroundOperationComplete"


def operations(document) -> dict[tuple[str, str], dict]:
    """The document's operations by (path, method)."""
    return {(path, method): op for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS}


# Schemathesis against the running app: both kinds of data, every check that applies, the
# issue's seed and a fresh one each time. A disagreement fails the test, listed with a curl to reproduce it.
SEED = 20261206  # the issue's
# Examples per operation and phase. The seed runs every phase (about 1,700 requests in 22 s alone on two
# cores, for 45 operations; the coverage phase's boundary cases are as many whatever the number, and most of
# them); the fresh seed only fuzzes (about 430 requests in 12 s), since those boundary cases hardly depend on the
# seed: it varies the data from run to run. Each fuzzes 10 examples per operation (20 doubled the suite's
# longest test for 350 more requests); both run at once under xdist, in two files.
EXAMPLES, FRESH_EXAMPLES = 10, 10
PHASES, FRESH_PHASES = "examples,coverage,fuzzing", "fuzzing"  # stateful needs links, which OpenAPI 2.0 has not
HOOKS = Path(__file__).parent / "e2e" / "schemathesis_hooks.py"
REPO = Path(__file__).resolve().parents[1]
# Statuses a request the document allows may get besides 2xx, 3xx, 401, 403, 404, 409, 429 and 5xx (schemathesis's
# own list): 412, a precondition (If-Match) the row no longer meets, is the row's state, as 404 and 409 are; 422, an
# Idempotency-Key sent before with another request, is the key's.
ACCEPTED_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]


def _command(url: str, config: Path, seed: int, examples: int, phases: str) -> list[str]:
    return [str(Path(sys.executable).parent / "st"), "--config-file", str(config), "run", url,
            "--mode", "all", "--phases", phases,  # positive and negative data
            # Every check but one: a method no function registers never reaches the app. The Functions host
            # matches a route with its methods and answers any other 404, not 405 (devhost does the same).
            "--checks", "all", "--exclude-checks", "unsupported_method",
            "--seed", str(seed), "--max-examples", str(examples), "--continue-on-failure",
            # The key is given, not made up: a generated ?code= is no key (and with the header, not even read).
            "--header", f"x-functions-key: {KEY}", "--generation-with-security-parameters", "false",
            "--report", "json,ndjson", "--report-dir", ".", "--output-sanitize", "false", "--no-color"]


def _config(path: Path, resources: list[str]) -> Path:
    """The run's settings: the statuses above, and real ids drawn half the time (a random GUID is only ever 404,
    so no poll, read, change or cancel would reach a row)."""
    path.write_text(f"""
[checks.positive_data_acceptance]
expected-statuses = {json.dumps(ACCEPTED_STATUSES)}

[dictionaries.resources]
values = {json.dumps(resources)}

[parameters."path.id"]
dictionary = "resources"
probability = 0.5
""")
    return path


def _resources(app) -> list[str]:
    """Rows a caller can reach (finished, failed, postponed, recurring) and a subscription."""
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    posts = [("data/v9.2/sample_Echo", {"A": 1}, "backgroundOperationId"),
             ("data/v9.2/sample_Fail", {"NonRetryable": True}, "backgroundOperationId"),
             ("ExecuteBackgroundOperation", {"Request": {"RequestName": "sample_Echo"}, "PostponeUntil": later},
              "BackgroundOperationId"),
             ("ExecuteAsync", {"Request": {"RequestName": "sample_Echo"}, "RecurrencePattern": "FREQ=DAILY"},
              "AsyncJobId"),
             (f"webhooks/{EVENT}", {"NotificationUrl": "https://fuzz.invalid/events"}, "id")]
    answers = [app.http.post(app.url(route), json=body, headers={"Prefer": "respond-async"}, timeout=30)
               for route, body, _ in posts]
    assert all(a.status_code in (201, 202) for a in answers), [a.text for a in answers]
    return [a.json()[field] for a, (_, _, field) in zip(answers, posts, strict=True)]


@dataclass
class Run:
    """What one schemathesis run found."""

    seed: int
    examples: int
    command: list[str]
    generated: int = 0
    seconds: float = 0.0
    disagreements: list[str] = field(default_factory=list)
    set_aside: Counter[str] = field(default_factory=Counter)

    def report(self) -> str:
        return (f"seed {self.seed}, {self.examples} examples per operation: {self.generated} requests in "
                f"{self.seconds:.0f} s, {len(dict.fromkeys(self.disagreements))} disagreements")


def _curl(request: dict) -> str:
    body = request.get("body")
    data = base64.b64decode(body["$base64"]).decode("utf-8", "replace") if body else None
    headers = " ".join(f"-H {shlex.quote(f'{name}: {values[0]}')}" for name, values in request["headers"].items())
    return f"curl -X {request['method']} {headers}{f' -d {shlex.quote(data[:2000])}' if data else ''} " \
           f"{shlex.quote(request['uri'])}"


def _fuzz(app, config: Path, folder: Path, seed: int, examples: int, phases: str) -> Run:
    folder.mkdir()
    run = Run(seed, examples, _command(app.url("openapi.json"), config, seed, examples, phases))
    env = {"SCHEMATHESIS_HOOKS": str(HOOKS), "PYTHONPATH": str(REPO)}
    run.command = [f"{name}={value}" for name, value in env.items()] + run.command  # as it is shown, to rerun
    done = subprocess.run(run.command[len(env):], capture_output=True, text=True, timeout=600, cwd=folder,
                          env={**os.environ, **env, "BGOPS_UNSTATED_LOG": str(folder / "unstated.log")})
    [report] = folder.glob("json-*.json") or [None]
    assert report, f"schemathesis did not run:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    summary = json.loads(report.read_text())
    run.generated, run.seconds = summary["test_cases"]["generated"], summary["running_time"]
    assert summary["complete"] and not summary["warnings"]["unsupported_regex"], done.stdout[-3000:]
    for line in next(folder.glob("ndjson-*.ndjson")).read_text().splitlines():
        (kind, event), = json.loads(line).items()
        if kind == "NonFatalError":
            run.disagreements.append(f"{event['label']}: error {event['value']['type']}: "
                                     f"{event['value']['message'][:300]}")
        for case_id, checks in (event.get("recorder", {}).get("checks", {}) if kind == "ScenarioFinished" else {}
                                ).items():
            request = event["recorder"]["interactions"].get(case_id, {}).get("request")
            for check in (c for c in checks if c["status"] == "failure"):
                failure = check["failure_info"]["failure"]
                run.disagreements.append(
                    f"{failure['operation']}: {check['name']} ({failure['code']} {failure['title']}): "
                    f"{' / '.join(failure['message'].splitlines()[:3])}\n    {_curl(request) if request else ''}")
    log = folder / "unstated.log"
    run.set_aside.update(json.loads(line)["rule"] for line in (log.read_text().splitlines() if log.exists() else []))
    return run


def check_fuzzing(make_app, tmp_path: Path, seed: int, examples: int, phases: str) -> None:
    """Fuzz an app of its own against its document with schemathesis; fail on any disagreement."""
    fuzzed = make_app(DEVHOST_FUNCTION_KEY=KEY, BGOPS_ALLOW_HTTP_CALLBACKS="false")
    config = _config(tmp_path / "schemathesis.toml", _resources(fuzzed))
    run = _fuzz(fuzzed, config, tmp_path / "run", seed, examples, phases)
    print(f"schemathesis {run.report()}; set aside as rules the document states in words: {dict(run.set_aside)}")
    found = list(dict.fromkeys(run.disagreements))
    assert not found, "The OpenAPI document and the server disagree:\n" + "\n".join(
        f"- [seed {run.seed}] {d}" for d in found) + "\nRerun (in an app started as this test starts it, "\
        "tests/e2e/conftest.py; the config stays in pytest's tmp_path): " + shlex.join(run.command)
    documented = len(operations(fuzzed.http.get(fuzzed.url("openapi.json"), timeout=10).json()))
    # Operations with few possible requests (no parameters) draw fewer than EXAMPLES: half of all is a floor.
    assert run.generated >= documented * run.examples // 2, run.report()
    assert KEY not in fuzzed.log()
