"""The composition root: the registry, checked when the app loads; the storage adapters, built once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..operations import (
    APP_OPERATIONS,
    custom,  # noqa: F401 - registers your operations, at import
)
from ..operations.maintenance import register_maintenance
from ..operations.registry import OperationRegistry
from ..operations.samples import register_samples
from ..settings import Settings, get_settings
from ..storage.clients import build_blob_client, build_service_clients
from ..storage.kept_events import TableKeptEvents
from ..storage.metering import TransactionCounter
from ..storage.payloads import BlobPayloads, container_name
from ..storage.ports import KeptEvents, Lines, OperationStore, SubscriptionStore, WorkQueue
from ..storage.subscription_store import TableSubscriptionStore
from ..storage.table_lines import TableLines
from ..storage.table_store import TableOperationStore
from ..storage.work_queue import StorageWorkQueue
from .later import Later
from .subscription_cache import SubscriptionCache


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a use case needs, passed explicitly."""

    settings: Settings
    store: OperationStore
    queue: WorkQueue
    registry: OperationRegistry
    subscriptions: SubscriptionStore
    subscription_cache: SubscriptionCache
    lines: Lines
    kept: KeptEvents  # events kept for paused subscribers (services.events)
    later: Later  # writes to make once storage answers again (services.deferred)
    table_service: Any = None  # for handlers that read other tables
    clock: Callable[[], datetime] = field(default=utc_now)


def build_registry(*, enable_samples: bool) -> OperationRegistry:
    """Your operations, and the samples when enabled; ValueError when two share a name."""
    registry = OperationRegistry()
    register_maintenance(registry)
    for definition in APP_OPERATIONS:
        registry.register(definition)
    if enable_samples:
        register_samples(registry)
    return registry


# At import (when the host indexes function_app.py), not on the first request: a broken
# custom.py has already failed the import above, and a name clash fails here.
build_registry(enable_samples=True)


def build_services(settings: Settings, *, counter: TransactionCounter | None = None,
                   clients: tuple[Any, Any] | None = None) -> Services:
    """Real adapters for ``settings`` (over ``clients`` when given); creates the table and queues if missing."""
    tables, queues = clients or build_service_clients(settings.storage, counter=counter)
    payloads = BlobPayloads(build_blob_client(settings.storage, counter=counter), container_name(settings.table_name))
    store = TableOperationStore(tables, settings.table_name, payloads)
    queue = StorageWorkQueue(queues, settings.queue_name)
    store.ensure_table()
    queue.ensure_queues()
    subscriptions = TableSubscriptionStore(tables, settings.table_name)
    from . import deferred  # its writes need the services being built here

    services = Services(settings=settings, store=store, queue=queue,
                        registry=build_registry(enable_samples=settings.enable_samples), subscriptions=subscriptions,
                        subscription_cache=SubscriptionCache(subscriptions.list),
                        lines=TableLines(tables, settings.table_name),
                        kept=TableKeptEvents(tables, settings.table_name),
                        later=Later(deferred.folder_of(settings), lambda item: deferred.carry_out(services, item)),
                        table_service=tables)
    services.later.resume()
    return services


_lock = threading.Lock()
_services: Services | None = None


def get_services() -> Services:
    """The process-wide services, built on first use (not at import: the host imports first)."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services(get_settings())
        return _services
