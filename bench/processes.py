"""The app under devhost for a bench run, and the facts of the machine it runs on.

Both processes are the tests' own: ``tests/helpers.AppProcess`` and ``tests/helpers.Azurite``."""

from __future__ import annotations

import os
import platform
import subprocess
import time
import uuid
from importlib import metadata
from pathlib import Path

from helpers import AppProcess, azurite_command  # tests/, on sys.path (bench/__init__)


class AppHost(AppProcess):
    """The app under devhost for the bench: samples on, the purge timer out of the numbers, and
    host.json's maxPollingInterval overridden by ``polling`` (None: host.json's own)."""

    def __init__(self, connection_string: str, log_path: Path, *, polling: str | None = "00:00:00.2",
                 **more: str) -> None:
        settings = {"BGOPS_ENABLE_SAMPLES": "true", "BGOPS_PURGE_SCHEDULE": "0 0 0 1 1 *", **more}
        if polling:
            settings["AzureFunctionsJobHost__extensions__queues__maxPollingInterval"] = polling
        super().__init__(connection_string, log_path, name=f"bench{uuid.uuid4().hex[:8]}", settings=settings)


def cpu_seconds(pid: int | None = None) -> float | None:
    """CPU time (user + system) a process has used so far: ``pid``'s from /proc, or this process's own."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    return _stat_cpu(Path(f"/proc/{pid}/stat"))  # None: not Linux, or gone


def _stat_cpu(stat: Path) -> float | None:
    """utime + stime of a /proc ``stat`` file, in seconds; None if it cannot be read."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) each of a process's threads has used so far, by thread id, from /proc (empty where
    there is none). A thread that ended is no longer there: what it used counts only in ``cpu_seconds``."""
    found: dict[str, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        if (seconds := _stat_cpu(Path(f"/proc/{pid}/task/{tid}/stat"))) is not None:
            found[tid] = seconds
    return found


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
