"""What each OData query option costs at 1,000 rows and at 100,000: the list endpoint itself, called in-process
(``bootstrap.serving``) on the scale bench's two tables, its storage requests counted by the app's own
TransactionCounter and its time taken, per option. An option the app does not implement answers 501 before
it reads anything; one that asks for nothing, or for the natural order, reads what the plain list reads.

Beside them, one view of the System Jobs page's chart (``GET throughput``) for the last hour and the last day:
it reads every finish marker of its window, one query per partition and a page per 1,000 markers. The scale
bench's rows finished one a second back from now, so the 1,000-row table has about 1,000 in each window and the
100,000-row one 3,600 in the hour and 86,400 in the day.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import azure.functions as func

from shared.api import charts, resources
from shared.api.handling import handler_of
from shared.bootstrap import serving
from shared.services.container import Services
from shared.storage.metering import TransactionCounter

from .stats import percentile

CALLS = 20
LIST, COUNT, CHART = "backgroundoperations", "backgroundoperations/$count", "throughput"
OPTIONS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("no option (the first page, 50 rows)", LIST, {}),
    ("$orderby=createdon desc", LIST, {"$orderby": "createdon desc"}),
    ("$format=json", LIST, {"$format": "json"}),
    ("$count=false", LIST, {"$count": "false"}),
    ("$skip=0", LIST, {"$skip": "0"}),
    ("$count=true", LIST, {"$count": "true"}),
    ("$skip=10", LIST, {"$skip": "10"}),
    ("$orderby=name", LIST, {"$orderby": "name"}),
    ("/$count", COUNT, {}),
    ("fetchXml", LIST, {"fetchXml": "<fetch/>"}),
    ("the chart, last hour (GET throughput)", CHART, {"window": "hour"}),
    ("the chart, last day (GET throughput)", CHART, {"window": "day"}),
)
ENDPOINTS = {LIST: resources.list_operations, COUNT: resources.count_operations, CHART: charts.throughput}


def _request(path: str, options: dict[str, str]) -> func.HttpRequest:
    query = f"?{urlencode(options)}" if options else ""
    return func.HttpRequest("GET", f"http://bench.invalid/api/data/v9.2/{path}{query}", params=options,
                            headers={}, route_params={}, body=b"")


def _measure(svc: Services, counter: TransactionCounter, path: str, options: dict[str, str]) -> dict[str, Any]:
    serve, spent, statuses = handler_of(ENDPOINTS[path]), [], set()
    before = counter.total
    with serving(svc):
        for _ in range(CALLS):
            started = time.perf_counter()
            statuses.add(serve(_request(path, options)).status_code)
            spent.append(time.perf_counter() - started)
    return {"status": "/".join(map(str, sorted(statuses))), "requests": (counter.total - before) / CALLS,
            "p50_ms": round(percentile(spent, 50) * 1000, 2)}


def measure_query_options(tables: list[tuple[int, Services, TransactionCounter]]) -> dict[str, Any]:
    """For each option, at each table size (rows): its status, storage requests per call and p50."""
    return {label: {str(rows): _measure(svc, counter, path, options) for rows, svc, counter in tables}
            for label, path, options in OPTIONS}
