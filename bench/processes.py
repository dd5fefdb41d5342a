"""The app under devhost for a bench run (it always stops), and the facts of the machine it runs on.

Azurite is ``tests/helpers.Azurite``, the same private Azurite the tests use."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Self

import requests
from helpers import azurite_command, free_port, stop_process, wait_until  # tests/, on sys.path (bench/__init__)

from . import REPO

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


class AppHost:
    """``python -m devhost`` serving this repo's app (samples on, its own queue and table)."""

    def __init__(self, connection_string: str, log_path: Path, *, polling: str | None = "00:00:00.2") -> None:
        """``polling`` overrides host.json's maxPollingInterval (None: keep host.json's)."""
        self.polling = polling
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        suffix = uuid.uuid4().hex[:8]
        self.queue_name = self.table_name = f"bench{suffix}"
        self.connection_string, self.log_path = connection_string, log_path
        self.process: subprocess.Popen | None = None

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BGOPS_", "AzureFunctionsJobHost__"))}
        env.update({
            "AzureWebJobsStorage": self.connection_string,
            "BGOPS_QUEUE_NAME": self.queue_name,
            "BGOPS_TABLE_NAME": self.table_name,
            "BGOPS_ENABLE_SAMPLES": "true",
            "BGOPS_PURGE_SCHEDULE": "0 0 0 1 1 *",  # keep the purge timer out of the numbers
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        if self.polling:
            env["AzureFunctionsJobHost__extensions__queues__maxPollingInterval"] = self.polling
        return env

    def __enter__(self) -> Self:
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devhost", "--app-dir", str(REPO), "--port", str(self.port)],
                cwd=REPO, env=self._environment(), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._answers, timeout=START_TIMEOUT_SECONDS, message="the app to answer /api/health")
        except BaseException:
            stop_process(self.process, STOP_TIMEOUT_SECONDS)
            raise
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"devhost exited:\n{self.log_path.read_text()[-4000:]}")
        try:
            return requests.get(f"{self.base}/api/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def url(self, path: str) -> str:
        """An absolute URL under the app's ``/api`` prefix."""
        return f"{self.base}/api/{path.lstrip('/')}"

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            stop_process(self.process, STOP_TIMEOUT_SECONDS)


def cpu_seconds(pid: int | None = None) -> float | None:
    """CPU time (user + system) a process has used so far: ``pid``'s from /proc, or this process's own."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # not Linux, or gone
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def azurite_version() -> str:
    """What ``azurite --version`` prints."""
    try:
        out = subprocess.run(azurite_command() + ["--version"], check=False, capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({type(e).__name__})"


def machine_facts() -> dict[str, object]:
    """Cores, Python, OS, and the storage SDK and Azurite versions the numbers were taken with."""
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "-"

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "azurite": azurite_version(),
        "azure-data-tables": version("azure-data-tables"),
        "azure-storage-queue": version("azure-storage-queue"),
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
