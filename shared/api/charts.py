"""``GET throughput``: operations finished per interval of the last hour or day, by outcome, for the System Jobs
page's chart (``services.throughput``)."""

from __future__ import annotations

import re

import azure.functions as func

from ..domain.errors import InvalidRequest
from ..domain.throughput import OUTCOMES
from ..services.container import Services
from ..services.throughput import throughput as finished_per_interval
from . import grammar
from .errors import json_response
from .handling import api, caller_of
from .views import iso

OPTIONS = ("window", "name")


@api()
def throughput(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET throughput?window=hour|day&name=: each interval's Succeeded, Failed and Canceled counts, oldest
    first, and the totals."""
    unknown = sorted(set(req.params) - set(OPTIONS))
    if unknown:
        raise InvalidRequest(f"Unknown option {unknown[0][:40]!r}: this route takes window (hour or day) and name.")
    name = req.params.get("name") or None
    if name is not None and not re.fullmatch(grammar.OPERATION_NAME, name):
        raise InvalidRequest(f"name must be an operation's name, not {name[:80]!r}.")
    window, intervals = finished_per_interval(svc, caller_of(svc, req), req.params.get("window"), name)
    labels = {status: status.label.lower() for status in OUTCOMES}
    rows = [{"start": iso(i.start), **{labels[s]: n for s, n in i.counts.items()}} for i in intervals]
    return json_response({
        "window": window.name, "intervalSeconds": int(window.interval.total_seconds()),
        "from": iso(intervals[0].start), "to": iso(intervals[-1].start + window.interval),
        "name": name, "intervals": rows,
        "totals": {labels[s]: sum(i.counts[s] for i in intervals) for s in OUTCOMES}})
