"""The processes a run needs: one private Azurite and the app under devhost. Both always stop."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Self

import requests
from helpers import ACCOUNT_KEY, LISTENING, azurite_command, free_port  # tests/, put on sys.path by bench/__init__

from . import REPO
from .stats import wait_for

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal a child we started, wait for it, kill it if it lingers."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class PrivateAzurite:
    """An Azurite on free ports with its own data folder; a context manager that always stops it.

    Like ``tests/helpers.py``'s ``Azurite``, but it stops the process even when
    start-up fails or is interrupted, and raises ordinary exceptions.
    """

    def __init__(self, data_dir: Path, log_path: Path, *, debug_log: Path | None = None) -> None:
        self.data_dir, self.log_path, self.debug_log = data_dir, log_path, debug_log
        self.process: subprocess.Popen | None = None
        self.connection_string = ""

    def __enter__(self) -> Self:
        with open(self.log_path, "w") as log:  # a file, so Azurite never blocks on a full pipe
            self.process = subprocess.Popen(
                azurite_command() + ["--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry",
                                     "--location", str(self.data_dir), "--blobPort", "0", "--queuePort", "0",
                                     "--tablePort", "0"]
                + (["--debug", str(self.debug_log)] if self.debug_log else []),
                stdout=log, stderr=subprocess.STDOUT)
        try:
            ports = wait_for(self._listening, timeout=START_TIMEOUT_SECONDS, interval=0.1, what="Azurite")
        except BaseException:
            _stop(self.process)
            raise
        self.connection_string = (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{ports['Blob']}/devstoreaccount1;"
            f"QueueEndpoint=http://127.0.0.1:{ports['Queue']}/devstoreaccount1;"
            f"TableEndpoint=http://127.0.0.1:{ports['Table']}/devstoreaccount1")
        return self

    def _listening(self) -> dict | None:
        if self.process.poll() is not None:
            raise RuntimeError(f"Azurite exited:\n{self.log_path.read_text()}")
        found = dict(LISTENING.findall(self.log_path.read_text()))
        return found if len(found) == 3 else None

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            _stop(self.process)


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
            wait_for(self._answers, timeout=START_TIMEOUT_SECONDS, what="the app to answer /api/health")
        except BaseException:
            _stop(self.process)
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
            _stop(self.process)


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
