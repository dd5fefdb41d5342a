"""Settings for the local host: ``local.settings.json``, ``host.json`` and ``%SETTING%`` binding expressions,
read from the mapping the host is given (``os.environ`` unless a test passes a dict); the command line's
``--port`` default ($PORT) is the one other read of the environment."""

from __future__ import annotations

import json
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.settings import HOST_MAX_DEQUEUE_COUNT, HOST_ROUTE_PREFIX, host_value, with_host_overrides

_EXPRESSION = re.compile(r"%([^%]+)%")
# .NET TimeSpan.Parse: "hh:mm", "hh:mm:ss", "d.hh:mm:ss", with an optional ".fffffff" fraction of seconds.
_TIMESPAN = re.compile(r"^(?P<neg>-)?(?:(?P<days>\d+)\.)?(?P<h>\d+):(?P<m>\d+)"
                       r"(?::(?P<s>\d+)(?:\.(?P<frac>\d{1,7}))?)?$")
LEASE_SETTING, KEY_SETTING = "DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS", "DEVHOST_FUNCTION_KEY"


class SettingError(Exception):
    """A setting, host.json value or binding expression is missing or invalid."""


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as e:
        raise SettingError(f"{path} is not valid JSON: {e}") from e


def load_local_settings(app_dir: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Copy the ``Values`` of ``local.settings.json`` into ``environ``, each unless already set (the process
    environment wins, as with Core Tools); returns the names applied."""
    path = Path(app_dir) / "local.settings.json"
    values = (_json(path).get("Values") or {}) if path.is_file() else {}
    if not isinstance(values, dict):
        raise SettingError(f"{path}: 'Values' must be an object")
    applied = [name for name in values if name not in environ]
    for name in applied:
        value = values[name]
        environ[name] = ("true" if value else "false") if isinstance(value, bool) else "" if value is None \
            else str(value)
    return applied


def load_host_config(app_dir: Path, environ: MutableMapping[str, str]) -> dict[str, Any]:
    """``host.json`` (empty if absent) with the ``AzureFunctionsJobHost__`` overrides in ``environ`` applied
    (as strings, as in the host's configuration: the readers below convert them)."""
    path = Path(app_dir) / "host.json"
    return with_host_overrides(_json(path) if path.is_file() else {}, environ)


def parse_timespan(value: Any) -> float:
    """A .NET TimeSpan string ("00:00:02", "1.00:00:00") in seconds."""
    text = str(value).strip()
    if text.isdigit():  # TimeSpan.Parse("2") is two days
        return int(text) * 86400.0
    if not (m := _TIMESPAN.match(text)):
        raise SettingError(f"{value!r} is not a TimeSpan (expected hh:mm:ss)")
    seconds = int(m["days"] or 0) * 86400 + int(m["h"]) * 3600 + int(m["m"]) * 60 + int(m["s"] or 0) \
        + int((m["frac"] or "0").ljust(7, "0")) / 1e7
    return -seconds if m["neg"] else seconds


def resolve_expression(value: str, environ: MutableMapping[str, str], *, what: str) -> str:
    """Each ``%NAME%`` replaced by the setting ``NAME``; an unknown one is an error naming it, as at start-up."""
    def substitute(match: re.Match[str]) -> str:
        if (name := match.group(1)) not in environ:
            raise SettingError(f"{what}: binding expression '%{name}%' refers to setting '{name}', which is not "
                               "defined")
        return environ[name]

    return _EXPRESSION.sub(substitute, value)


def _int(config: dict[str, Any], name: str, default: int, low: int, high: int = 1 << 31) -> int:
    value = host_value(config, "extensions", "queues", name, default=default)
    try:
        number = int(value)
    except (TypeError, ValueError) as e:
        raise SettingError(f"host.json extensions.queues.{name}: {value!r} is not an integer") from e
    if not low <= number <= high:
        raise SettingError(f"host.json extensions.queues.{name} must be {low}..{high}")
    return number


def _seconds(config: dict[str, Any], name: str, default: float) -> float:
    value = host_value(config, "extensions", "queues", name)
    return default if value is None else parse_timespan(value)


@dataclass(frozen=True)
class QueuesOptions:
    """``extensions.queues`` of host.json, with the WebJobs defaults (QueuesOptions.cs)."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval_seconds: float = 60.0
    visibility_timeout_seconds: float = 0.0
    max_dequeue_count: int = HOST_MAX_DEQUEUE_COUNT
    message_encoding: str = "base64"

    @classmethod
    def from_host_config(cls, config: dict[str, Any]) -> QueuesOptions:
        """Read and check the section, as QueuesOptions' setters do."""
        batch_size = _int(config, "batchSize", 16, 1, 32)  # the service returns at most 32
        # NewBatchThreshold defaults to (batchSize / 2) × the processor count.
        threshold = _int(config, "newBatchThreshold", (batch_size // 2) * (os.cpu_count() or 1), -(1 << 31))
        max_polling = _seconds(config, "maxPollingInterval", 60.0)
        if max_polling < 0.1:
            raise SettingError("host.json extensions.queues.maxPollingInterval must not be less than 00:00:00.1")
        encoding = str(host_value(config, "extensions", "queues", "messageEncoding", default="base64")).lower()
        if encoding not in ("base64", "none"):
            raise SettingError("host.json extensions.queues.messageEncoding must be base64 or none")
        return cls(batch_size=batch_size, new_batch_threshold=max(threshold, 0),
                   max_polling_interval_seconds=max_polling,
                   visibility_timeout_seconds=_seconds(config, "visibilityTimeout", 0.0),
                   max_dequeue_count=_int(config, "maxDequeueCount", HOST_MAX_DEQUEUE_COUNT, 1),
                   message_encoding=encoding)


def python_thread_count(environ: MutableMapping[str, str]) -> int | None:
    """``PYTHON_THREADPOOL_THREAD_COUNT``, as the Python worker reads it (None: its default)."""
    configured = environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else None


def disabled(environ: MutableMapping[str, str], function_name: str) -> bool:
    """``AzureWebJobs.<name>.Disabled`` is true (read as .NET's ``bool.TryParse`` reads it): the host starts no
    listener for the function's trigger. An HTTP function still answers, as under Core Tools."""
    return environ.get(f"AzureWebJobs.{function_name}.Disabled", "").strip().lower() == "true"


def message_lease_seconds(environ: MutableMapping[str, str], default: float) -> float:
    """How long a received message stays invisible before it is renewed (the host's fixed 10 minutes). Not a
    host setting: tests shorten it, to see a host die mid-run without waiting ten minutes for its message."""
    if not (text := environ.get(LEASE_SETTING)):
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{LEASE_SETTING} must be a number of seconds, not {text!r}") from None
    if value < 2:
        raise SettingError(f"{LEASE_SETTING} must be at least 2 seconds")
    return value


def http_route_prefix(config: dict[str, Any]) -> str:
    """``extensions.http.routePrefix`` (default ``api``; empty means none)."""
    return str(host_value(config, "extensions", "http", "routePrefix", default=HOST_ROUTE_PREFIX)).strip("/")


def function_key(environ: MutableMapping[str, str]) -> str | None:
    """The key function-level routes require, or None: nothing is checked, as with Core Tools. Not a host
    setting: in Azure the host keeps its keys itself."""
    return environ.get(KEY_SETTING) or None
