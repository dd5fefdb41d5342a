"""Event subscriptions on Azure Table Storage: one partition of the operations table.

PartitionKey ``webhooks`` (never a shard digit, so listing and purging operations never read it),
RowKey = the subscription id. The list is small and read whole (and cached by the services).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from ..domain.errors import SubscriptionNotFound
from ..domain.subscriptions import Subscription
from .table_store import translated

PARTITION = "webhooks"


def _entity(sub: Subscription) -> dict[str, Any]:
    return {"PartitionKey": PARTITION, "RowKey": sub.id, "event": sub.event,
            "notificationurl": sub.notification_url, "operationname": sub.operation_name,
            "createdon": sub.createdon, "failures": sub.failures, "pauseduntil": sub.pauseduntil,
            "pausedsince": sub.pausedsince,
            "lasterror": sub.lasterror}


def _subscription(entity: Any) -> Subscription:
    return Subscription(id=entity["RowKey"], event=entity["event"], notification_url=entity["notificationurl"],
                        operation_name=entity.get("operationname") or "", createdon=entity.get("createdon"),
                        failures=entity.get("failures") or 0, pauseduntil=entity.get("pauseduntil"),
                        pausedsince=entity.get("pausedsince"),
                        lasterror=entity.get("lasterror") or "", etag=entity.metadata.get("etag"))


class TableSubscriptionStore:
    """Subscriptions to the app's events."""

    def __init__(self, service: TableServiceClient, table_name: str) -> None:
        self._table: TableClient = service.get_table_client(table_name)

    def create(self, sub: Subscription) -> Subscription:
        """Insert a new subscription."""
        with translated("store a subscription"):
            written = self._table.create_entity(_entity(sub))
        return dataclasses.replace(sub, etag=written.get("etag"))

    def replace(self, sub: Subscription) -> Subscription:
        """Write the subscription if it still has ``sub.etag``; ConcurrencyConflict or SubscriptionNotFound."""
        with translated("update a subscription", sub.id, missing=SubscriptionNotFound(sub.id)):
            written = self._table.update_entity(_entity(sub), mode=UpdateMode.REPLACE, etag=sub.etag,
                                                match_condition=MatchConditions.IfNotModified)
        return dataclasses.replace(sub, etag=written.get("etag"))

    def get(self, subscription_id: str) -> Subscription:
        """One subscription; raises SubscriptionNotFound."""
        with translated("read a subscription", missing=SubscriptionNotFound(subscription_id)):
            return _subscription(self._table.get_entity(PARTITION, subscription_id))

    def list(self) -> list[Subscription]:
        """Every subscription (one partition query)."""
        with translated("list subscriptions"):
            return [_subscription(e) for e in self._table.query_entities("PartitionKey eq @p",
                                                                         parameters={"p": PARTITION})]

    def delete(self, subscription_id: str) -> None:
        """Delete a subscription; raises SubscriptionNotFound when there is none."""
        self.get(subscription_id)
        with translated("delete a subscription"):
            self._table.delete_entity(PARTITION, subscription_id)
