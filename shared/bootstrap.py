"""Wiring, in one place: the app's settings and operations, checked when the host indexes ``function_app.py``
(``check_app``: a bad setting or a broken operation fails indexing, naming it, never a request), the thread
pools (``get_pools``), and the services built from them once per process, on first use (``get_services``:
storage is not reached at import).
Tests build theirs with ``build_services`` (Azurite), or ``assemble`` over the in-memory stores (tests/fakes.py)
with a fake clock."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient

from .operations import (
    APP_OPERATIONS,
    custom,  # noqa: F401 - registers your operations, at import
)
from .operations.maintenance import register_maintenance
from .operations.registry import OperationRegistry
from .operations.samples import register_samples
from .services import deferred
from .services.container import Services, utc_now
from .services.later import Later
from .services.maintenance import show_purge_job
from .services.pools import Pools, build_pools
from .services.subscription_cache import SubscriptionCache
from .settings import Settings, get_settings
from .storage.clients import build_blob_client, build_service_clients
from .storage.kept_events import TableKeptEvents
from .storage.metering import TransactionCounter
from .storage.payloads import BlobPayloads, container_name
from .storage.ports import KeptEvents, Lines, OperationStore, SubscriptionStore, WorkQueue
from .storage.subscription_store import TableSubscriptionStore
from .storage.table_lines import TableLines
from .storage.table_store import TableOperationStore
from .storage.work_queue import StorageWorkQueue
from .telemetry import logs, metrics, setup


def build_registry(*, enable_samples: bool) -> OperationRegistry:
    """Your operations, and the samples when enabled; ValueError when two share a name."""
    registry = OperationRegistry()
    register_maintenance(registry)
    for definition in APP_OPERATIONS:
        registry.register(definition)
    if enable_samples:
        register_samples(registry)
    return registry


def check_app() -> None:
    """Read every setting and build the registry: SettingsError or ValueError, naming what is wrong, when the host
    indexes the app (a broken custom.py has failed the import above already)."""
    _registry()
    get_pools()


@dataclass(frozen=True)
class Stores:
    """The adapters the services run on: Azure's (``build_services``), or the tests' in-memory ones."""

    store: OperationStore
    queue: WorkQueue
    subscriptions: SubscriptionStore
    lines: Lines
    kept: KeptEvents


def assemble(settings: Settings, stores: Stores, *, registry: OperationRegistry | None = None,
             pools: Pools | None = None, later_folder: Path | None = None, clock: Callable[[], datetime] = utc_now,
             table_service: TableServiceClient | None = None) -> Services:
    """The services over ``stores``, on ``pools`` (the process's, unless given) and ``clock``; the writes kept for
    when storage answers again go in ``later_folder`` (the setting's folder, unless given)."""
    services = Services(settings=settings, store=stores.store, queue=stores.queue,
                        registry=registry or build_registry(enable_samples=settings.enable_samples),
                        subscriptions=stores.subscriptions, subscription_cache=SubscriptionCache(
                            stores.subscriptions.list), lines=stores.lines, kept=stores.kept,
                        later=Later(later_folder or deferred.folder_of(settings),
                                    lambda item: deferred.carry_out(services, item), clock=clock),
                        pools=pools or get_pools(), table_service=table_service, clock=clock)
    return services


def build_services(settings: Settings, *, counter: TransactionCounter | None = None,
                   clients: tuple[Any, Any] | None = None, registry: OperationRegistry | None = None,
                   pools: Pools | None = None) -> Services:
    """Azure's adapters for ``settings`` (over ``clients`` when given), assembled; creates the table and queues
    if missing, and takes up the writes an earlier host kept for later."""
    pools = pools or get_pools()
    tables, queues = clients or build_service_clients(settings.storage, counter=counter)
    payloads = BlobPayloads(build_blob_client(settings.storage, counter=counter), container_name(settings.table_name))
    store, queue = TableOperationStore(tables, settings.table_name, payloads, pool=pools.shards), \
        StorageWorkQueue(queues, settings.queue_name)
    store.ensure_table()
    queue.ensure_queues()
    stores = Stores(store=store, queue=queue, subscriptions=TableSubscriptionStore(tables, settings.table_name),
                    lines=TableLines(tables, settings.table_name, pool=pools.shards),
                    kept=TableKeptEvents(tables, settings.table_name))
    services = assemble(settings, stores, registry=registry, pools=pools, table_service=tables)
    services.later.resume()
    return services


_lock = threading.Lock()
_state: dict[str, Any] = {}


def _registry() -> OperationRegistry:
    with _lock:
        if "registry" not in _state:
            _state["registry"] = build_registry(enable_samples=get_settings().enable_samples)
        registry: OperationRegistry = _state["registry"]
        return registry


def get_pools() -> Pools:
    """The process-wide thread pools (services.pools), built on first use."""
    with _lock:
        if "pools" not in _state:
            _state["pools"] = build_pools()
        pools: Pools = _state["pools"]
        return pools


@contextlib.contextmanager
def serving(services: Services) -> Iterator[None]:
    """Serve ``services`` (and their registry) to this process's HTTP endpoints for a while: for calling the
    endpoints in-process against stores of one's own, as the bench does at 100,000 rows."""
    with _lock:
        before = {key: _state.get(key) for key in ("services", "registry")}
        _state.update(services=services, registry=services.registry)
    try:
        yield
    finally:
        with _lock:
            for key, value in before.items():
                if value is None:
                    _state.pop(key, None)
                else:
                    _state[key] = value


def get_services() -> Services:
    """The process-wide services, built on first use with the registry ``check_app`` built, telemetry started
    then (``telemetry.setup``), and the purge's system job shown (``maintenance.show_purge_job``)."""
    registry, pools = _registry(), get_pools()
    with _lock:
        built = "services" not in _state
        if built:
            settings = get_settings()
            logs.install()
            telemetry = setup.configure(settings.telemetry)  # exporters, when the settings name any
            _state["services"] = build_services(settings, registry=registry, pools=pools)
            if telemetry:
                metrics.watch_queue(_state["services"].queue.oldest_waiting_seconds)
        services: Services = _state["services"]
    if built:
        show_purge_job(services)
    return services
