"""Settings for the local host: ``local.settings.json``, ``host.json`` and
``%SETTING%`` binding expressions.

Settings are read here from the mapping the host is given (``os.environ``
unless a test passes a plain dict); the CLI's ``--port`` default ($PORT) is
the one other read of the environment.
"""

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
# .NET TimeSpan.Parse forms: "d", "hh:mm", "hh:mm:ss", "d.hh:mm:ss", with an
# optional ".fffffff" fraction of seconds.
_TIMESPAN = re.compile(
    r"^(?P<neg>-)?(?:(?P<days>\d+)\.)?(?P<h>\d+):(?P<m>\d+)"
    r"(?::(?P<s>\d+)(?:\.(?P<frac>\d{1,7}))?)?$"
)


class SettingError(Exception):
    """A setting, host.json value or binding expression is missing or invalid."""


def load_local_settings(app_dir: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Copy ``Values`` of ``local.settings.json`` into ``environ``.

    As with Core Tools, the process environment wins: a value is applied only
    when the variable is not already set. Returns the names that were applied.
    """
    path = Path(app_dir) / "local.settings.json"
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as e:
        raise SettingError(f"{path} is not valid JSON: {e}") from e
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise SettingError(f"{path}: 'Values' must be an object")
    applied = []
    for name, value in values.items():
        if name in environ:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        environ[name] = "" if value is None else str(value)
        applied.append(name)
    return applied


def load_host_config(app_dir: Path, environ: MutableMapping[str, str]) -> dict[str, Any]:
    """Read ``host.json`` (empty if absent) and apply ``AzureFunctionsJobHost__``
    overrides from ``environ``. Overridden values stay strings, as they are in
    the real host's configuration; the typed readers below convert them."""
    path = Path(app_dir) / "host.json"
    config: dict[str, Any] = {}
    if path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError as e:
            raise SettingError(f"{path} is not valid JSON: {e}") from e
    return with_host_overrides(config, environ)


def parse_timespan(value: Any) -> float:
    """Parse a .NET TimeSpan string ("00:00:02", "1.00:00:00") into seconds."""
    text = str(value).strip()
    if text.isdigit():  # TimeSpan.Parse("2") is two days
        return int(text) * 86400.0
    m = _TIMESPAN.match(text)
    if not m:
        raise SettingError(f"{value!r} is not a TimeSpan (expected hh:mm:ss)")
    seconds = (
        int(m["days"] or 0) * 86400 + int(m["h"]) * 3600 + int(m["m"]) * 60
        + int(m["s"] or 0) + int((m["frac"] or "0").ljust(7, "0")) / 1e7
    )
    return -seconds if m["neg"] else seconds


def resolve_expression(value: str, environ: MutableMapping[str, str], *, what: str) -> str:
    """Replace each ``%NAME%`` in a binding property by the setting ``NAME``.

    An unknown setting is an error naming it, as at real host start-up.
    """
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise SettingError(
                f"{what}: binding expression '%{name}%' refers to setting "
                f"'{name}', which is not defined")
        return environ[name]

    return _EXPRESSION.sub(substitute, value)


def _int(config: dict[str, Any], path: tuple[str, ...], default: int) -> int:
    value = host_value(config, *path, default=default)
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise SettingError(f"host.json {'.'.join(path)}: {value!r} is not an integer") from e


def _seconds(config: dict[str, Any], path: tuple[str, ...], default: float) -> float:
    value = host_value(config, *path)
    return default if value is None else parse_timespan(value)


@dataclass(frozen=True)
class QueuesOptions:
    """``extensions.queues`` of host.json, with the WebJobs defaults
    (QueuesOptions.cs in Microsoft.Azure.WebJobs.Extensions.Storage.Queues)."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval_seconds: float = 60.0
    visibility_timeout_seconds: float = 0.0
    max_dequeue_count: int = HOST_MAX_DEQUEUE_COUNT
    message_encoding: str = "base64"

    @classmethod
    def from_host_config(cls, config: dict[str, Any]) -> QueuesOptions:
        """Read and validate the queues section, as QueuesOptions' setters do."""
        section = ("extensions", "queues")
        batch_size = _int(config, section + ("batchSize",), 16)
        if not 1 <= batch_size <= 32:  # the service returns at most 32
            raise SettingError("host.json extensions.queues.batchSize must be 1..32")
        # Default NewBatchThreshold is (batchSize / 2) * processor count.
        threshold = _int(config, section + ("newBatchThreshold",),
                         (batch_size // 2) * (os.cpu_count() or 1))
        max_polling = _seconds(config, section + ("maxPollingInterval",), 60.0)
        if max_polling < 0.1:
            raise SettingError("host.json extensions.queues.maxPollingInterval "
                               "must not be less than 00:00:00.1")
        max_dequeue = _int(config, section + ("maxDequeueCount",), HOST_MAX_DEQUEUE_COUNT)
        if max_dequeue < 1:
            raise SettingError("host.json extensions.queues.maxDequeueCount must be >= 1")
        encoding = str(host_value(config, *section, "messageEncoding", default="base64")).lower()
        if encoding not in ("base64", "none"):
            raise SettingError("host.json extensions.queues.messageEncoding must be base64 or none")
        return cls(
            batch_size=batch_size,
            new_batch_threshold=max(threshold, 0),
            max_polling_interval_seconds=max_polling,
            visibility_timeout_seconds=_seconds(config, section + ("visibilityTimeout",), 0.0),
            max_dequeue_count=max_dequeue,
            message_encoding=encoding,
        )


def python_thread_count(environ: MutableMapping[str, str]) -> int | None:
    """``PYTHON_THREADPOOL_THREAD_COUNT``, as the Python worker reads it (None: its default)."""
    configured = environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else None


LEASE_SETTING = "DEVHOST_QUEUE_MESSAGE_LEASE_SECONDS"


def message_lease_seconds(environ: MutableMapping[str, str], default: float) -> float:
    """How long a received message stays invisible before renewal (the host's fixed 10 minutes).

    A devhost-only knob, not a host setting: tests shorten it to see what happens
    when a host dies mid-run without waiting ten minutes for the message to return.
    """
    text = environ.get(LEASE_SETTING)
    if not text:
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
    prefix = host_value(config, "extensions", "http", "routePrefix", default=HOST_ROUTE_PREFIX)
    return str(prefix).strip("/")


KEY_SETTING = "DEVHOST_FUNCTION_KEY"


def function_key(environ: MutableMapping[str, str]) -> str | None:
    """The key function-level HTTP routes require, or None for no checks (as Core Tools).

    A devhost-only setting: in Azure the host keeps the keys itself.
    """
    return environ.get(KEY_SETTING) or None
