"""The background operation table as an OData resource (SPEC §3.3): the service document, ``$metadata``,
one row (GET, PATCH with If-Match) and the list (``$filter``, ``$select``, ``$top``, server-driven paging)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from ..domain.errors import OperationFinished, UnknownOperation
from ..domain.operation import Operation
from ..services import control
from ..services.container import Services
from ..storage.ports import ListQuery, Page
from . import metadata, odata, urls, views
from .changes import parse_change
from .errors import json_response
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
    return func.HttpResponse(metadata.csdl(), mimetype="application/xml", headers=ODATA_VERSION)


@api(overrides={OperationFinished: 400})
def entity(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET/PATCH backgroundoperations({id}): the row as a resource; PATCH changes its state (If-Match honoured)."""
    operation_id, caller = operation_id_of(req), caller_of(svc, req)
    if req.method.upper() == "PATCH":
        op = control.change(svc, operation_id, parse_change(json_body(req) or None, svc.clock()), caller,
                            if_match=req.headers.get("If-Match"))
        return func.HttpResponse(status_code=204, headers={**ODATA_VERSION, **_etag(op)})
    params = odata.check_options(req.params, odata.ENTITY_OPTIONS)
    select = odata.parse_select(params.get("$select"), views.SELECTABLE, default=views.COLUMNS)
    op = control.get_operation(svc, operation_id, caller)
    context = metadata.context(_root(svc, req), select if params.get("$select") else None, entity=True)
    return json_response({"@odata.context": context} | views.entity(op, select), headers=_etag(op))


def _etag(op: Operation) -> dict[str, str]:
    return {"ETag": op.version_tag}


@api()
def list_operations(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET backgroundoperations: newest first, with $filter, $select, $top (a cap) and pages with a nextLink."""
    params = odata.check_options(req.params, odata.LIST_OPTIONS)
    prefs, carried = parse_prefer(req.headers.get("Prefer")), urls.carried(req)
    select = odata.parse_select(params.get("$select"), views.SELECTABLE, default=views.COLUMNS)
    paging = odata.parse_paging(params.get("$top"), params.get("$skiptoken"), prefs.max_page_size)
    page = _read_page(svc, req, params.get("$filter"), paging)
    base = urls.public_base(req, svc.settings)
    body: dict[str, Any] = {
        "@odata.context": metadata.context(metadata.service_root(base, svc.settings.route_prefix),
                                           select if params.get("$select") else None),
        "value": [views.entity(op, select) for op in page.operations],
    }
    more = page.next_after and paging.next_link_options(len(page.operations), page.next_after)
    if more:
        kept = {k: v for k, v in params.items() if k in ("$filter", "$select") and v}
        body["@odata.nextLink"] = urls.with_query(base + urlsplit(req.url).path, {**kept, **more, **carried})
    applied = {"Preference-Applied": f"{PAGE_SIZE_PREFERENCE}={paging.page_size}"} if prefs.max_page_size else None
    return json_response(body, headers=applied)


def _read_page(svc: Services, req: func.HttpRequest, filter_text: str | None, paging: odata.Paging) -> Page:
    """The rows of this page ($top=0 reads nothing, once the filter is known to be good)."""
    caller = caller_of(svc, req)
    where = odata.parse_filter(filter_text, canonical_name=lambda name: _canonical(svc, name))
    if not paging.this_page:
        return Page([], None)
    return control.list_operations(svc, ListQuery(where=where, top=paging.this_page, after=paging.after), caller)


def _canonical(svc: Services, name: str) -> str:
    """The registered spelling of an operation name; names of unknown operations as given."""
    try:
        return svc.registry.get(name).name
    except UnknownOperation:
        return name
