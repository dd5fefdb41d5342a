"""Subscriptions to OnBackgroundOperationComplete (Power Automate's webhook-trigger contract).

``POST webhooks/{event}`` subscribes (201 with ``Location``), ``GET webhooks`` and ``GET webhooks/{id}``
read, ``DELETE webhooks/{id}`` unsubscribes (what a flow calls when it is turned off or deleted).
The notification URL is a secret: shown masked, never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.functions as func

from ..domain.subscriptions import Subscription, mask_url
from ..services import events
from ..services.container import Services
from ..services.locations import api_url
from . import odata, urls
from .errors import json_response, no_content
from .handling import admin_of, api, json_body
from .views import iso


def view(sub: Subscription, now: datetime) -> dict[str, Any]:
    """A subscription as the API shows it, its URL masked, and whether it is paused (its breaker)."""
    return {"id": sub.id, "eventName": sub.event, "notificationUrl": mask_url(sub.notification_url),
            "filter": {"name": sub.operation_name} if sub.operation_name else None,
            "createdOn": iso(sub.createdon), "status": "Paused" if sub.paused(now) else "Active",
            "pausedUntil": iso(sub.pauseduntil) if sub.paused(now) else None,
            "consecutiveFailures": sub.failures, "lastError": sub.lasterror}


def _location(svc: Services, req: func.HttpRequest, sub: Subscription) -> str:
    url = api_url(urls.public_base(req, svc.settings), svc.settings.route_prefix, f"webhooks/{sub.id}")
    return urls.with_query(url, urls.carried(req))


@api()
def subscribe(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """POST webhooks/{event}: subscribe a notification URL to an event."""
    odata.check_options(req.params, ())
    admin_of(svc, req, "A subscription hears about")
    sub = events.subscribe(svc, req.route_params.get("event", ""), json_body(req), svc.clock())
    return json_response(view(sub, svc.clock()), 201, {"Location": _location(svc, req, sub)})


@api()
def list_subscriptions(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET webhooks: every subscription."""
    odata.check_options(req.params, ())
    admin_of(svc, req, "Subscriptions hear about")
    now = svc.clock()
    return json_response({"value": [view(s, now) for s in sorted(svc.subscriptions.list(), key=lambda s: s.id)]})


@api()
def subscription(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET webhooks/{id}: one subscription. DELETE: unsubscribe (204; 404 when there is none)."""
    sub_id = events.subscription_id(req.route_params.get("id", ""))
    admin_of(svc, req, "A subscription hears about")
    if req.method.upper() == "DELETE":
        events.unsubscribe(svc, sub_id)
        return no_content()
    odata.check_options(req.params, ())
    return json_response(view(svc.subscriptions.get(sub_id), svc.clock()))
