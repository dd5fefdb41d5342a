"""The ``bgops`` command line (clients/python/bgops_client/cli.py) against the app, as a script runs it: what it
prints, and the exit codes a script branches on (0 succeeded, 1 failed, 3 canceled, 4 not found, 5 refused,
6 a wrong key, 7 unreachable or not the app, 8 timed out); every command's --help; one line, never a traceback,
for every error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import free_port, wait_until

BGOPS = Path(sys.executable).parent / "bgops"
COMMANDS = ("submit", "status", "watch", "list", "cancel", "pause", "resume", "operations")


def bgops(*args: str, url: str | None = None, key: str | None = None, timeout: float = 60, **more: str
          ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGOPS_")} | more
    env |= {"BGOPS_URL": url} if url else {}
    env |= {"BGOPS_KEY": key} if key else {}
    return subprocess.run([str(BGOPS), *args], env=env, capture_output=True, text=True, timeout=timeout)


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", ("", *COMMANDS))
def test_every_command_has_help_without_a_url(command):
    done = bgops(*([command] if command else []), "--help")
    assert done.returncode == 0 and "Usage: bgops" in done.stdout and "Exit codes" in done.stdout


def test_submit_wait_json_prints_the_outputs_and_exits_0_having_held_its_reads(app):
    done = bgops("submit", "sample_Sleep", "Seconds=3", "--wait", "--json", url=app.base)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["status"] == "Succeeded" and shown["outputs"] == {"SleptSeconds": 3}
    # off a terminal it waits with held reads of the status monitor, and reads the row once, at the end
    wait_until(lambda: f"backgroundoperation/{shown['id']} -> 200" in app.log(), message="the host to log it")
    log, op_id = app.log(), shown["id"]
    assert log.count(f"backgroundoperations/{op_id} ") == 1 and log.count(f"backgroundoperation/{op_id} ") <= 2


def test_submit_reads_each_value_as_the_operation_declares_it_and_status_and_list_show_it(app):
    done = bgops("submit", "sample_Echo", "Count=3", "Flag=true", "Text=hello", "List=[1,2]", url=app.base)
    assert done.returncode == 0, done.stderr
    operation_id = done.stdout.strip()
    uuid.UUID(operation_id)
    watched = bgops("watch", operation_id, "--json", url=app.base)
    assert watched.returncode == 0 and json.loads(watched.stdout)["outputs"] == {
        "Count": 3, "Flag": True, "Text": "hello", "List": [1, 2]}
    assert operation_id in bgops("status", operation_id, url=app.base).stdout
    listed = bgops("list", "--name", "sample_Echo", "--top", "50", "--json", url=app.base)
    assert operation_id in [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    assert "sample_Sleep" in bgops("operations", url=app.base).stdout


def test_watch_shows_a_progress_bar_with_the_handlers_message_on_a_terminal(app):
    # 8 s: the worker writes a handler's progress at most every 2 s (worker.PROGRESS_WRITE_SECONDS), and the bar
    # reads the row every 2 s (cli.BAR_READ_SECONDS): several reads find a message, however late it starts
    started = bgops("submit", "sample_Sleep", "Seconds=8", url=app.base).stdout.strip()
    done = bgops("watch", started, url=app.base, FORCE_COLOR="1", COLUMNS="120")  # rich: as on a terminal
    shown, bar = (re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text) for text in (done.stdout, done.stderr))
    assert done.returncode == 0 and '"SleptSeconds": 8' in shown
    assert "s left" in bar and "━" in bar and "%" in bar, bar  # the handler's message, and the bar


def test_a_failed_operation_exits_1_and_a_canceled_one_3(app):
    failed = bgops("submit", "sample_Fail", "NonRetryable=true", "--wait", url=app.base)
    assert failed.returncode == 1 and "Failed" in failed.stdout
    started = bgops("submit", "sample_Sleep", "Seconds=60", url=app.base).stdout.strip()
    assert bgops("cancel", started, url=app.base).returncode == 0
    canceled = bgops("watch", started, url=app.base)
    assert canceled.returncode == 3 and "Canceled" in canceled.stdout


def test_pause_and_resume_steer_it(app):
    started = bgops("submit", "sample_Sleep", "Seconds=60", url=app.base).stdout.strip()
    wait_until(lambda: json.loads(bgops("status", started, "--json", url=app.base).stdout)["status"] == "In Progress",
               message="it to run")  # only a running operation pauses
    paused = bgops("pause", started, url=app.base)
    assert paused.returncode == 0 and ("Waiting" in paused.stdout or "Pausing" in paused.stdout), paused.stdout
    wait_until(lambda: json.loads(bgops("status", started, "--json", url=app.base).stdout)["stateCode"] == 1,
               message="it to stop at its next check")  # Pausing until the handler sees it
    assert bgops("resume", started, url=app.base).returncode == 0
    assert bgops("cancel", started, url=app.base).returncode == 0


def test_still_running_at_the_timeout_exits_8(app):
    started = bgops("submit", "sample_Sleep", "Seconds=60", url=app.base).stdout.strip()
    done = bgops("watch", started, "--timeout", "1", url=app.base)
    assert done.returncode == 8 and "had not finished" in _one_line_error(done)
    bgops("cancel", started, url=app.base)


def test_not_found_exits_4_refused_5_and_a_bad_value_2(app):
    missing = bgops("status", str(uuid.uuid4()), url=app.base)
    assert missing.returncode == 4 and "was not found" in _one_line_error(missing)
    assert bgops("submit", "sample_Nope", url=app.base).returncode == 4
    refused = bgops("submit", "sample_Sleep", url=app.base)  # Seconds is required
    assert refused.returncode == 5 and "Seconds" in _one_line_error(refused)
    bad = bgops("submit", "sample_Sleep", "Seconds=soon", url=app.base)
    assert bad.returncode == 2 and "Seconds takes a value of type number" in bad.stderr
    assert bgops("list", "--status", "Exploded", url=app.base).returncode == 2


def test_a_wrong_key_exits_6_and_the_right_one_works(keyed_app):
    wrong = bgops("operations", url=keyed_app.base, key="wrong")
    assert wrong.returncode == 6 and "function key" in _one_line_error(wrong)
    assert bgops("operations", url=keyed_app.base, key=keyed_app.key).returncode == 0


def test_a_server_that_is_down_or_not_the_app_exits_7_with_one_line(app):
    down = bgops("operations", url=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 7 and "Could not reach" in _one_line_error(down)
    not_app = bgops("operations", url=app.url("health"))  # a URL of the app's that is not its base
    assert not_app.returncode == 7 and "base URL" in _one_line_error(not_app)
    no_url = bgops("operations")
    assert no_url.returncode == 2 and "BGOPS_URL" in no_url.stderr
