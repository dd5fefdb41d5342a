"""What a use case needs, passed explicitly: ``Services``. ``shared.bootstrap`` builds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from azure.data.tables import TableServiceClient

from ..operations.registry import OperationRegistry
from ..settings import Settings
from ..storage.ports import KeptEvents, Lines, OperationStore, SubscriptionStore, WorkQueue
from .finishes import Finishes
from .later import Later
from .pools import Pools
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
    pools: Pools  # the threads work runs on besides the caller's (services.pools)
    table_service: TableServiceClient | None = None  # for handlers that read other tables
    finishes: Finishes = field(default_factory=Finishes)  # requests waiting for an operation to finish
    clock: Callable[[], datetime] = field(default=utc_now)
