"""Every setting the app reads (SPEC §8), read here and nowhere else.

App settings arrive as environment variables (in Azure, and locally from
``local.settings.json`` through the host). ``host.json`` supplies the two
host values the app must agree with: the route prefix and maxDequeueCount.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .domain.addresses import OutboundPolicy
from .domain.callbacks import DeliveryPolicy
from .domain.signing import parse_signing_key

APP_ROOT = Path(__file__).resolve().parent.parent
STORAGE_SETTING = "AzureWebJobsStorage"

# The host's own defaults, for a host.json that does not say (QueuesOptions, HttpOptions).
HOST_MAX_DEQUEUE_COUNT = 5
HOST_ROUTE_PREFIX = "api"

# The storage connection settings the app (and the host) read, besides BGOPS_*.
STORAGE_SETTINGS = (STORAGE_SETTING, *(f"{STORAGE_SETTING}__{suffix}" for suffix in (
    "accountName", "tableServiceUri", "queueServiceUri", "blobServiceUri", "credential", "clientId")))
# Read by the Functions host and the Python worker, not by this app; named here so
# the deployment checks can tell a known setting from a typo.
HOST_SETTINGS = ("FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags", "APPLICATIONINSIGHTS_CONNECTION_STRING",
                 "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "PYTHON_ENABLE_OPENTELEMETRY",
                 "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY")
# OpenTelemetry's standard settings, read by its SDK and exporters (shared/telemetry): the ones the app's own
# files name.
OTEL_SETTINGS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
                 "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
                 "OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG")
# Set by the platform in Azure (never in app settings): the app's default host name.
WEBSITE_HOSTNAME = "WEBSITE_HOSTNAME"
# "True" when App Service Authentication (Easy Auth) is on: only then does the platform put the
# caller's identity in X-MS-CLIENT-PRINCIPAL* (and strip any a client sent).
WEBSITE_AUTH_ENABLED = "WEBSITE_AUTH_ENABLED"


def known_settings() -> frozenset[str]:
    """Every app setting name that means something to the app or its host."""
    return frozenset((*DEFAULTS, *STORAGE_SETTINGS, *HOST_SETTINGS, *OTEL_SETTINGS))


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise SettingsError(f"{name} must be true or false, not '{text}'.")


def _number(name: str, text: str, kind: type[int] | type[float] = int, minimum: float = 0) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not '{text}'.") from None
    if not math.isfinite(value) or value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}.")
    return value


def _base_url(name: str, text: str) -> str:
    text = text.strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment or parts.path:
        raise SettingsError(f"{name} must be an absolute http(s) URL with no path or query, such as "
                            f"https://ops.contoso.com, not '{text}'.")
    return text


def _signing_key(name: str, text: str) -> bytes | None:
    try:
        return parse_signing_key(text)
    except ValueError as e:
        raise SettingsError(f"{name} {e}.") from None  # never echoes the value: it is a secret


def _limit(name: str, text: str) -> float:
    value = float(_number(name, text, float))
    if value <= 0:
        raise SettingsError(f"{name} must be a positive number of seconds, not {text}.")
    return value


def _role(name: str, text: str) -> str:
    if not text.strip():
        raise SettingsError(f"{name} must name an app role (the value of a role in the app registration).")
    return text.strip()


def _hosts(text: str) -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".") for h in text.split(",") if h.strip())


@dataclass(frozen=True)
class AppSetting:
    """One BGOPS_* app setting: the ``Settings`` field it fills (None: read by the host only), its
    name, its default as the app settings would spell it, and how its text becomes the value."""

    field: str | None
    name: str
    default: str
    parse: Callable[[str, str], Any] = lambda name, text: text


def _at_most(name: str, value: int, most: int) -> int:
    if value > most:
        raise SettingsError(f"{name} can be at most {most}, not {value}.")
    return value


def _at_least(name: str, value: float, least: float) -> float:
    if value < least:
        raise SettingsError(f"{name} must be at least {least:g}, not {value:g}.")
    return value


def _whole(minimum: int) -> Callable[[str, str], int]:
    return lambda name, text: _number(name, text, int, minimum)


def _seconds(name: str, text: str) -> float:
    return float(_number(name, text, float))


# Every BGOPS_* setting, read in load_settings and listed by the deployment checks.
# BGOPS_QUEUE_NAME and BGOPS_PURGE_SCHEDULE are also read by the host, for the bindings
# (%BGOPS_QUEUE_NAME%, %BGOPS_PURGE_SCHEDULE%), which have no defaults: set them in the app
# settings (the sample settings and the Bicep do).
APP_SETTINGS = (
    AppSetting("queue_name", "BGOPS_QUEUE_NAME", "backgroundoperations"),
    AppSetting("table_name", "BGOPS_TABLE_NAME", "backgroundoperations"),
    AppSetting("retry_base_seconds", "BGOPS_RETRY_BASE_SECONDS", "30", _seconds),
    AppSetting("retry_after_seconds", "BGOPS_RETRY_AFTER_SECONDS", "10", _whole(0)),
    AppSetting("default_ttl_seconds", "BGOPS_DEFAULT_TTL_SECONDS", "7776000", _whole(1)),
    AppSetting("purge_schedule", "BGOPS_PURGE_SCHEDULE", "0 0 * * * *"),
    AppSetting("allow_http_callbacks", "BGOPS_ALLOW_HTTP_CALLBACKS", "false", lambda n, t: _bool(n, t)),
    AppSetting("enable_samples", "BGOPS_ENABLE_SAMPLES", "false", lambda n, t: _bool(n, t)),
    AppSetting("callback_retry_base_seconds", "BGOPS_CALLBACK_RETRY_BASE_SECONDS", "2", _seconds),
    AppSetting("public_base_url", "BGOPS_PUBLIC_BASE_URL", "", lambda n, t: _base_url(n, t)),
    AppSetting("callback_allowed_hosts", "BGOPS_CALLBACK_ALLOWED_HOSTS", "", lambda n, t: _hosts(t)),
    AppSetting("callback_signing_key", "BGOPS_CALLBACK_SIGNING_KEY", "", lambda n, t: _signing_key(n, t)),
    AppSetting("attempt_time_limit_seconds", "BGOPS_ATTEMPT_TIME_LIMIT_SECONDS", "600", _limit),
    AppSetting("line_recheck_seconds", "BGOPS_LINE_RECHECK_SECONDS", "300", _seconds),
    AppSetting("admin_role", "BGOPS_ADMIN_ROLE", "BackgroundOperations.Admin", lambda n, t: _role(n, t)),
    # At most 200: an event kept for paused subscribers is one table row with a column for each of them
    # (storage.kept_events), and a row has at most 252.
    AppSetting("max_subscriptions", "BGOPS_MAX_SUBSCRIPTIONS", "100", lambda n, t: _at_most(n, _whole(0)(n, t), 200)),
    AppSetting("event_retention_seconds", "BGOPS_EVENT_RETENTION_SECONDS", "86400", _whole(1)),
    # How long a request may wait for its operation to finish (Prefer: wait): at most 220 s, within the 230 s
    # after which Azure's front end drops a request, and the host's functionTimeout (host.json) must be longer.
    AppSetting("max_wait_seconds", "BGOPS_MAX_WAIT_SECONDS", "60", lambda n, t: _at_most(n, _whole(0)(n, t), 220)),
    # How often a waiting request reads its row, for an operation another instance runs (one on this instance
    # tells it when it finishes, at no cost).
    AppSetting("wait_poll_seconds", "BGOPS_WAIT_POLL_SECONDS", "5", lambda n, t: _at_least(n, _seconds(n, t), 1)),
    # Read when the app is indexed (the HTTP functions' authLevel), by http_auth_anonymous: no Settings field.
    AppSetting(None, "BGOPS_SIGN_IN_REPLACES_KEYS", "false", lambda n, t: _bool(n, t)),
)
DEFAULTS = {setting.name: setting.default for setting in APP_SETTINGS}


def _default(field_name: str) -> Any:
    """A ``Settings`` field's default: its setting's default, parsed."""
    setting = next(s for s in APP_SETTINGS if s.field == field_name)
    return setting.parse(setting.name, setting.default)


@dataclass(frozen=True)
class StorageSettings:
    """How to reach the storage account: a connection string, or identity-based.

    Exactly one of ``connection_string``, ``account_name`` or the three service
    URIs is set. ``client_id`` picks a user-assigned managed identity.
    """

    connection_string: str | None = field(default=None, repr=False)
    account_name: str | None = None
    table_service_uri: str | None = None
    queue_service_uri: str | None = None
    blob_service_uri: str | None = None  # large inputs and outputs (storage/payloads.py)
    credential: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class TelemetrySettings:
    """Where traces, metrics and logs go (shared/telemetry): the platform's own settings, not BGOPS_* ones.

    ``azure_monitor``: APPLICATIONINSIGHTS_CONNECTION_STRING (a secret: kept out of repr), for the Azure Monitor
    distro; ``otlp``: an OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set, for the SDK's OTLP exporters,
    which read the OTEL_* settings themselves; ``worker_configures``: PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY,
    with which the Python worker sets the distro up itself, so the app must not do it again. Neither destination:
    the OpenTelemetry API's no-op tracer, no exporter, no thread."""

    azure_monitor: str | None = field(default=None, repr=False)
    otlp: bool = False
    worker_configures: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.azure_monitor) or self.otlp


def telemetry_settings(env: Mapping[str, str]) -> TelemetrySettings:
    """The telemetry destinations the environment names."""
    otlp = any(env.get(name, "").strip() for name in ("OTEL_EXPORTER_OTLP_ENDPOINT",
                                                      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    worker = env.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").strip().lower() == "true"
    return TelemetrySettings(azure_monitor=env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip() or None,
                             otlp=otlp, worker_configures=worker)


@dataclass(frozen=True)
class Settings:
    """The app's settings, typed, with units in the names."""

    storage: StorageSettings
    queue_name: str = _default("queue_name")
    table_name: str = _default("table_name")
    retry_base_seconds: float = _default("retry_base_seconds")
    retry_after_seconds: int = _default("retry_after_seconds")
    default_ttl_seconds: int = _default("default_ttl_seconds")
    allow_http_callbacks: bool = _default("allow_http_callbacks")
    enable_samples: bool = _default("enable_samples")
    callback_retry_base_seconds: float = _default("callback_retry_base_seconds")
    # How long one attempt may run unless its operation says (the host's functionTimeout must be longer).
    attempt_time_limit_seconds: float = _default("attempt_time_limit_seconds")
    # How often an operation waiting for its turn in a line looks again, should the wake it is owed be lost.
    line_recheck_seconds: float = _default("line_recheck_seconds")
    # The purge timer's schedule (the host reads it for the binding); the purge's system job shows its next run.
    purge_schedule: str = _default("purge_schedule")
    max_attempts: int = HOST_MAX_DEQUEUE_COUNT  # host.json extensions.queues.maxDequeueCount
    route_prefix: str = HOST_ROUTE_PREFIX  # host.json extensions.http.routePrefix
    # Where clients reach the app, for the URLs handed back to them: BGOPS_PUBLIC_BASE_URL
    # (scheme://host[:port]) when set, else the platform's host name (Azure), else the request's.
    public_base_url: str = _default("public_base_url")
    # Hosts callbacks and webhooks may reach although they are not public (a private ERP, say).
    callback_allowed_hosts: frozenset[str] = _default("callback_allowed_hosts")
    # Signs every callback and webhook (Standard Webhooks) when set. A secret: kept out of repr and logs.
    callback_signing_key: bytes | None = field(default=None, repr=False)
    # The app role that sees and steers every caller's operations when App Service Authentication is on.
    admin_role: str = _default("admin_role")
    # How many event subscriptions there may be; each is sent every completion it matches.
    max_subscriptions: int = _default("max_subscriptions")
    # How long an event is kept and tried again while its subscriber fails or is paused.
    event_retention_seconds: int = _default("event_retention_seconds")
    # Prefer: wait (RFC 7240): the longest a request is held for its operation to finish, and how often it reads
    # the row meanwhile when another instance runs it.
    max_wait_seconds: int = _default("max_wait_seconds")
    wait_poll_seconds: float = _default("wait_poll_seconds")
    public_host_name: str = ""  # WEBSITE_HOSTNAME
    platform_authentication: bool = False  # WEBSITE_AUTH_ENABLED: principal headers are the platform's
    telemetry: TelemetrySettings = TelemetrySettings()

    @property
    def outbound(self) -> OutboundPolicy:
        """Where callbacks and webhooks may go: anywhere in development, else public hosts and the allowed ones."""
        return OutboundPolicy(open=self.allow_http_callbacks, allowed_hosts=self.callback_allowed_hosts)

    @property
    def callback_delivery(self) -> DeliveryPolicy:
        """How callbacks and events are POSTed: pauses between attempts grow from BGOPS_CALLBACK_RETRY_BASE_SECONDS."""
        return DeliveryPolicy(base_seconds=self.callback_retry_base_seconds)

    @property
    def poison_queue_name(self) -> str:
        """The queue the host moves a message to after maxDequeueCount attempts."""
        return poison_queue_name(self.queue_name)


def poison_queue_name(queue_name: str) -> str:
    """``<queue>-poison``, as the Functions host names it."""
    return f"{queue_name}-poison"


def events_queue_name(queue_name: str) -> str:
    """``<queue>-events``: completion events on their way to subscribers (the notify function's trigger)."""
    return f"{queue_name}-events"


def storage_settings(env: Mapping[str, str], prefix: str = STORAGE_SETTING) -> StorageSettings:
    """The storage connection named ``prefix``, as the Functions host reads it."""
    conn = env.get(prefix, "").strip()
    if conn:
        return StorageSettings(connection_string=conn)
    account = env.get(f"{prefix}__accountName")
    tables, queues = env.get(f"{prefix}__tableServiceUri"), env.get(f"{prefix}__queueServiceUri")
    blobs = env.get(f"{prefix}__blobServiceUri")
    if not account and not (tables and queues and blobs):
        raise SettingsError(
            f"Set {prefix} to a storage connection string (UseDevelopmentStorage=true for Azurite), "
            f"or {prefix}__accountName, or all of {prefix}__tableServiceUri, {prefix}__queueServiceUri "
            f"and {prefix}__blobServiceUri."
        )
    return StorageSettings(account_name=account, table_service_uri=tables, queue_service_uri=queues,
                           blob_service_uri=blobs, credential=env.get(f"{prefix}__credential"),
                           client_id=env.get(f"{prefix}__clientId"))


HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def with_host_overrides(host: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """host.json with the environment's ``AzureFunctionsJobHost__a__b`` overrides applied, as the
    host reads it (learn.microsoft.com/azure/azure-functions/functions-host-json, "Override host.json
    values"). Keys match regardless of case, as .NET configuration keys do; overrides stay strings."""
    config = copy.deepcopy(host)
    prefix = HOST_OVERRIDE_PREFIX.lower()
    for name, value in env.items():
        if name.lower().startswith(prefix) and len(name) > len(prefix):
            node = config
            *parents, leaf = name[len(prefix):].split("__")
            for key in parents:
                existing = next((k for k in node if k.lower() == key.lower()), key)
                if not isinstance(node.get(existing), dict):
                    node[existing] = {}
                node = node[existing]
            node[next((k for k in node if k.lower() == leaf.lower()), leaf)] = value
    return config


def host_value(config: dict[str, Any], *path: str, default: Any = None) -> Any:
    """A host.json value by its path, matched regardless of case (``default`` when absent)."""
    node: Any = config
    for key in path:
        match = next((k for k in node if k.lower() == key.lower()), None) if isinstance(node, dict) else None
        if match is None:
            return default
        node = node[match]
    return node


def load_settings(env: Mapping[str, str] | None = None, host_json: Path = APP_ROOT / "host.json") -> Settings:
    """Read and check every setting; raise SettingsError naming the first bad one."""
    env = os.environ if env is None else env
    app = {setting.field: setting.parse(setting.name, env.get(setting.name, setting.default))
           for setting in APP_SETTINGS if setting.field}
    host = with_host_overrides(json.loads(host_json.read_text()) if host_json.exists() else {}, env)
    max_attempts = host_value(host, "extensions", "queues", "maxDequeueCount")
    route_prefix = host_value(host, "extensions", "http", "routePrefix")
    return Settings(
        storage=storage_settings(env),
        **app,
        max_attempts=HOST_MAX_DEQUEUE_COUNT if max_attempts is None
        else _number("maxDequeueCount", str(max_attempts), int, 1),
        route_prefix=(HOST_ROUTE_PREFIX if route_prefix is None else str(route_prefix)).strip("/"),
        public_host_name=env.get(WEBSITE_HOSTNAME, "").strip(),
        platform_authentication=platform_authentication(env),
        telemetry=telemetry_settings(env),
    )


def platform_authentication(env: Mapping[str, str]) -> bool:
    """Whether App Service Authentication is on (the platform sets WEBSITE_AUTH_ENABLED)."""
    return env.get(WEBSITE_AUTH_ENABLED, "").strip().lower() == "true"


def http_auth_anonymous(env: Mapping[str, str] | None = None) -> bool:
    """Whether the API's HTTP functions take no function key (authLevel anonymous) because App Service
    Authentication checks every caller instead: BGOPS_SIGN_IN_REPLACES_KEYS=true, which is refused unless the
    platform's authentication is on, since the API would then answer anyone. Clients that cannot send a key
    (the Dataverse SDK for Python) need it. Read when the functions are indexed."""
    env = os.environ if env is None else env
    anonymous = _bool("BGOPS_SIGN_IN_REPLACES_KEYS", env.get("BGOPS_SIGN_IN_REPLACES_KEYS", "false"))
    if anonymous and not platform_authentication(env):
        raise SettingsError("BGOPS_SIGN_IN_REPLACES_KEYS=true needs App Service Authentication on, requiring a "
                            "signed-in caller (WEBSITE_AUTH_ENABLED=true): without it the API would answer anyone. "
                            "Turn authentication on, or set it to false.")
    return anonymous


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
