"""The background operation table as an OData resource (SPEC §3.3): the service document, ``$metadata``,
one row (GET, PATCH with If-Match) and the list (``$filter``, ``$select``, ``$top``, server-driven paging);
the same rows as System Jobs (``asyncoperations``) through the same code, another ``View``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from ..domain.errors import NotSupported, UnknownOperation
from ..domain.operation import Operation
from ..domain.states import OperationFinished
from ..services import control, lines
from ..services.container import Services
from ..storage.ports import ListQuery, Page
from . import metadata, odata, systemjobs, urls, views
from .changes import UnsupportedChange, parse_change
from .errors import json_response, no_content
from .handling import api, caller_of, json_body, operation_id_of
from .prefer import PAGE_SIZE_PREFERENCE, parse_prefer

ODATA_VERSION = {"OData-Version": "4.0"}


def _root(svc: Services, req: func.HttpRequest) -> str:
    return metadata.service_root(urls.public_base(req, svc.settings), svc.settings.route_prefix)


@api()
def service_document(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET data/v9.2/: the OData service document."""
    odata.check_options(req.params, ())
    return json_response(metadata.service_document(_root(svc, req)))


@api()
def metadata_document(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET data/v9.2/$metadata: the CSDL document describing backgroundoperation."""
    odata.check_options(req.params, ())
    operations = tuple(sorted(svc.registry.public(), key=lambda d: d.name.lower()))
    return func.HttpResponse(metadata.csdl(operations), mimetype="application/xml", headers=ODATA_VERSION)


@dataclass(frozen=True)
class View:
    """One entity set over the rows: its names, its columns and how a row and a PATCH body read in it."""

    entity_set: str
    key: str
    selectable: tuple[str, ...]
    default: tuple[str, ...]
    filters: Mapping[str, str]
    render: Callable[..., dict[str, Any]]  # (row, columns, **what only a single row's read adds)
    row_change: Callable[[Any], Any] = lambda body: body


ROWS = View(metadata.ENTITY_SET, views.KEY, views.SELECTABLE, views.COLUMNS, odata.ROW_FILTERS, views.entity)
SYSTEM_JOBS = View(systemjobs.ENTITY_SET, systemjobs.ASYNC_KEY, systemjobs.COLUMNS, systemjobs.COLUMNS,
                   systemjobs.FILTERS, systemjobs.entity, systemjobs.row_change)


@api(overrides={OperationFinished: 400})
def entity(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET/PATCH backgroundoperations({id}): the row as a resource; PATCH changes its state (If-Match honoured)."""
    return _entity(svc, req, ROWS)


@api(overrides={OperationFinished: 400})
def system_job(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET/PATCH asyncoperations({id}): the row as a System Job; PATCH takes statecode, statuscode and
    postponeuntil only (Dataverse's asynchronous operation states)."""
    return _entity(svc, req, SYSTEM_JOBS)


def _entity(svc: Services, req: func.HttpRequest, view: View) -> func.HttpResponse:
    operation_id, caller = operation_id_of(req), caller_of(svc, req)
    if req.method.upper() == "PATCH":
        try:
            change = parse_change(view.row_change(json_body(req) or None), svc.clock())
        except UnsupportedChange as unsupported:  # said beside the row's state: read it (404 if it is not there)
            raise unsupported.of(control.get_operation(svc, operation_id, caller)) from None
        op = control.change(svc, operation_id, change, caller, if_match=req.headers.get("If-Match"))
        return no_content(_etag(op))
    params = odata.check_options(req.params, odata.ENTITY_OPTIONS, odata=True)
    select = odata.parse_select(params.get("$select"), view.selectable, default=view.default, key=view.key)
    op = control.get_operation(svc, operation_id, caller)
    context = metadata.context(_root(svc, req), select if params.get("$select") else None, entity=True,
                               entity_set=view.entity_set)
    extra = {"behind": lines.waiting_behind(svc, op)} if view is ROWS and "waitingbehind" in select else {}
    return json_response({"@odata.context": context} | view.render(op, select, **extra), headers=_etag(op))


def _etag(op: Operation) -> dict[str, str]:
    return {"ETag": op.version_tag}


@api()
def list_operations(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET backgroundoperations: newest first, with $filter, $select, $top (a cap) and pages with a nextLink."""
    return _list(svc, req, ROWS)


@api()
def list_system_jobs(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET asyncoperations: the same rows as System Jobs, with the same options."""
    return _list(svc, req, SYSTEM_JOBS)


@api()
def count_operations(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET backgroundoperations/$count: 501 (not implemented), once the filter is known to be good."""
    return _count(req, ROWS)


@api()
def count_system_jobs(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET asyncoperations/$count: the same."""
    return _count(req, SYSTEM_JOBS)


def _count(req: func.HttpRequest, view: View) -> func.HttpResponse:
    params = odata.check_options(req.params, ("$filter",), odata=True)
    odata.parse_filter(params.get("$filter"), columns=view.filters)
    raise NotSupported(odata.COUNT_NOT_IMPLEMENTED)


def _list(svc: Services, req: func.HttpRequest, view: View) -> func.HttpResponse:
    params = odata.check_options(req.params, odata.LIST_OPTIONS, odata=True)
    odata.check_orderby(params.get("$orderby"), view.selectable)
    prefs, carried = parse_prefer(req.headers.get("Prefer")), urls.carried(req)
    select = odata.parse_select(params.get("$select"), view.selectable, default=view.default, key=view.key)
    paging = odata.parse_paging(params.get("$top"), params.get("$skiptoken"), prefs.max_page_size)
    page = _read_page(svc, req, params.get("$filter"), paging, view)
    base = urls.public_base(req, svc.settings)
    body: dict[str, Any] = {
        "@odata.context": metadata.context(metadata.service_root(base, svc.settings.route_prefix),
                                           select if params.get("$select") else None, entity_set=view.entity_set),
        "value": [view.render(op, select) for op in page.operations],
    }
    more = page.next_after and paging.next_link_options(len(page.operations), page.next_after)
    if more:
        kept = {k: v for k, v in params.items() if k in ("$filter", "$select", "$orderby", "$format") and v}
        body["@odata.nextLink"] = urls.with_query(base + urlsplit(req.url).path, {**kept, **more, **carried})
    applied = {"Preference-Applied": f"{PAGE_SIZE_PREFERENCE}={paging.page_size}"} if prefs.max_page_size else None
    return json_response(body, headers=applied)


def _read_page(svc: Services, req: func.HttpRequest, filter_text: str | None, paging: odata.Paging,
               view: View) -> Page:
    """The rows of this page ($top=0 reads nothing, once the filter is known to be good)."""
    caller = caller_of(svc, req)
    where = odata.parse_filter(filter_text, canonical_name=lambda name: _canonical(svc, name), columns=view.filters)
    if not paging.this_page:
        return Page([], None)
    return control.list_operations(svc, ListQuery(where=where, top=paging.this_page, after=paging.after), caller)


def _canonical(svc: Services, name: str) -> str:
    """The registered spelling of an operation name; names of unknown operations as given."""
    try:
        return svc.registry.get(name).name
    except UnknownOperation:
        return name
