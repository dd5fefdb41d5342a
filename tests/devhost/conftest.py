"""Fixtures for the devhost tests: a private Azurite and the fixture app
served by ``python -m devhost`` in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from helpers import REPO, free_port, wait_until

FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"

class RunningHost:
    """A ``python -m devhost`` subprocess serving a copy of the fixture app."""

    def __init__(self, app_dir: Path, env: dict[str, str], record_dir: Path, args: tuple[str, ...] = ()):
        self.app_dir, self.record_dir = app_dir, record_dir
        self.port = free_port()
        self.https = "--use-https" in args
        self.base = f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"
        self.ca = app_dir / ".devhost" / "devhost-ca.pem"  # made by --use-https
        self.log_path = app_dir / "host.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--app-dir", str(app_dir), "--port", str(self.port), *args],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> RunningHost:
        def answering():
            if self.process.poll() is not None:
                pytest.fail(f"devhost exited with {self.process.returncode}:\n{self.log()}")
            try:
                # 401: up, with DEVHOST_FUNCTION_KEY set
                verify = str(self.ca) if self.https else True
                return requests.get(f"{self.base}/api/plain", timeout=1, verify=verify).status_code in (200, 401)
            except (requests.ConnectionError, OSError):  # not listening yet, or (HTTPS) its authority not made yet
                return False
        wait_until(answering, message="devhost to answer HTTP")
        return self

    def records(self, key: str) -> list[dict]:
        path = self.record_dir / f"{key}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def log(self) -> str:
        """Everything the host wrote so far (it writes to the file directly)."""
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def make_host(azurite, tmp_path_factory):
    """Factory: ``make_host(settings=..., env=...)`` copies the fixture app,
    writes its local.settings.json and starts devhost on it."""
    started: list[RunningHost] = []

    def make(settings: dict | None = None, env: dict | None = None, wait: bool = True, args: tuple[str, ...] = ()):
        app_dir = tmp_path_factory.mktemp("app")
        shutil.copytree(FIXTURE_APP, app_dir, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        record_dir = app_dir / "records"
        record_dir.mkdir()
        values = {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",  # the env wins
            "FIXTURE_QUEUE": f"work-{uuid.uuid4().hex[:8]}",
            "FIXTURE_SCHEDULE": "0 0 0 1 1 *",
            "FIXTURE_FROM_FILE": "file",
            "FIXTURE_OVERRIDDEN": "file",
            "FIXTURE_RECORD_DIR": str(record_dir),
        }
        values.update(settings or {})
        values = {k: v for k, v in values.items() if v is not None}
        (app_dir / "local.settings.json").write_text(json.dumps({"Values": values}))
        process_env = {k: v for k, v in os.environ.items()
                       if not k.startswith(("FIXTURE_", "AzureFunctionsJobHost__"))}
        process_env.update({
            "AzureWebJobsStorage": azurite,
            "FIXTURE_OVERRIDDEN": "env",
            # Short polling for fast tests, through the host.json override path.
            "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        process_env.update(env or {})
        host = RunningHost(app_dir, process_env, record_dir, args)
        host.queue_name = values.get("FIXTURE_QUEUE")
        started.append(host)
        return host.wait_ready() if wait else host

    yield make
    for host in started:
        host.stop()


@pytest.fixture(scope="session")
def host(make_host):
    """The fixture app served by devhost, shared by the integration tests."""
    return make_host()
