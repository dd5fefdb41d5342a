"""The composition root: builds the storage adapters, registry and sender once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..operations.registry import OperationRegistry
from ..settings import Settings, get_settings
from ..storage.metering import TransactionCounter
from ..storage.ports import OperationStore, SubscriptionStore, WorkQueue
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
    table_service: Any = None  # for handlers that read other tables
    clock: Callable[[], datetime] = field(default=utc_now)


def build_services(settings: Settings, *, counter: TransactionCounter | None = None,
                   clients: tuple[Any, Any] | None = None) -> Services:
    """Real adapters for ``settings`` (over ``clients`` when given); creates the table and queues if missing."""
    from ..operations.custom import registry as app_registry
    from ..operations.samples import register_samples
    from ..storage.clients import build_service_clients
    from ..storage.subscription_store import TableSubscriptionStore
    from ..storage.table_store import TableOperationStore
    from ..storage.work_queue import StorageWorkQueue

    tables, queues = clients or build_service_clients(settings.storage, counter=counter)
    store, queue = TableOperationStore(tables, settings.table_name), StorageWorkQueue(queues, settings.queue_name)
    store.ensure_table()
    queue.ensure_queues()
    registry = OperationRegistry()
    for definition in app_registry:
        registry.register(definition)
    if settings.enable_samples:
        register_samples(registry)
    subscriptions = TableSubscriptionStore(tables, settings.table_name)
    return Services(settings=settings, store=store, queue=queue, registry=registry, subscriptions=subscriptions,
                    subscription_cache=SubscriptionCache(subscriptions.list), table_service=tables)


_lock = threading.Lock()
_services: Services | None = None


def get_services() -> Services:
    """The process-wide services, built on first use (not at import: the host imports first)."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services(get_settings())
        return _services
