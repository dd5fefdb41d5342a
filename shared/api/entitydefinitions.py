"""``EntityDefinitions``: the app's two tables as Dataverse's metadata Web API shows a table, read-only. It is
what Dataverse's own clients ask first: the Dataverse SDK for Python resolves a table's entity set with
``EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute&$filter=LogicalName eq '<table>'``
(docs/dataverse-sdk-wire.md). The same columns and types as ``$metadata``; MetadataIds are stable GUIDs."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from ..domain.errors import InvalidRequest, MethodNotAllowed, NotFound
from ..services.container import Services
from . import grammar, metadata, odata, systemjobs, urls, views
from .errors import json_response
from .handling import api

_IDS = uuid.UUID("7d3c2b7e-5d8a-4f0e-9c61-6a1f4b2e8d90")  # the namespace every MetadataId is made in
PROPERTIES = ("MetadataId", "LogicalName", "SchemaName", "EntitySetName", "PrimaryIdAttribute", "PrimaryNameAttribute",
              "LogicalCollectionName", "IsCustomEntity")
ATTRIBUTE_PROPERTIES = ("MetadataId", "LogicalName", "SchemaName", "AttributeType", "AttributeTypeName",
                        "EntityLogicalName", "IsPrimaryId", "IsPrimaryName")
# Dataverse's AttributeTypeCode for each Edm type of $metadata; a state and a status column have their own.
ATTRIBUTE_TYPES = {"Edm.Guid": "Uniqueidentifier", "Edm.String": "String", "Edm.Int32": "Integer",
                   "Edm.Double": "Double", "Edm.DateTimeOffset": "DateTime"}
# The metadata type a path may cast the attributes to, and the AttributeType of those it keeps.
CASTS = {f"Microsoft.Dynamics.CRM.{kind}AttributeMetadata": {"UniqueIdentifier": "Uniqueidentifier"}.get(kind, kind)
         for kind in ("Picklist", "String", "Integer", "Double", "DateTime", "UniqueIdentifier", "State", "Status",
                      "Memo", "Boolean", "Lookup", "Money", "Decimal", "BigInt", "MultiSelectPicklist", "Image",
                      "File")}
DEFINITION_FILTERS = ("LogicalName", "EntitySetName", "SchemaName", "MetadataId")
ATTRIBUTE_FILTERS = ("LogicalName", "SchemaName", "MetadataId")
_STRING = "'((?:[^'\\u0000-\\u001f\\u007f-\\u009f]|'')*)'"  # a string literal, its text captured
KEY_PATTERN = grammar.anchored(f"LogicalName={grammar.STRING}|{grammar.GUID}")
EXPAND_PATTERN = grammar.anchored("(?:(?:Global)?OptionSet(?:\\([^\\u0000-\\u001f\\u007f-\\u009f]*\\))?)?")
_KEY = re.compile(f"^LogicalName={_STRING}$")


def filter_pattern(properties: tuple[str, ...], *, capture: bool = False) -> str:
    """``$filter`` here: one comparison, ``<property> eq '<text>'`` or ``eq <GUID>``, spaces at its ends allowed."""
    name = f"({'|'.join(properties)})" if capture else f"(?:{'|'.join(properties)})"
    text, guid = (_STRING, f"({grammar.GUID})") if capture else (grammar.STRING, grammar.GUID)
    return grammar.anchored(f" *(?:{name} eq (?:{text}|{guid}) *)?")
READ_ONLY = ("EntityDefinitions is read-only here: the app's two tables, backgroundoperation and asyncoperation, "
             "are fixed; use GET.")


@dataclass(frozen=True)
class Table:
    """One of the app's tables, as its definition shows it."""

    logical_name: str
    schema_name: str
    entity_set: str
    primary_id: str
    columns: dict[str, str]  # column -> Edm type, as $metadata has them
    states: tuple[str, str] = ("", "")  # its state and status columns

    def metadata_id(self, column: str = "") -> str:
        return str(uuid.uuid5(_IDS, f"{self.logical_name}/{column}"))

    def definition(self) -> dict[str, Any]:
        return {"MetadataId": self.metadata_id(), "LogicalName": self.logical_name, "SchemaName": self.schema_name,
                "EntitySetName": self.entity_set, "PrimaryIdAttribute": self.primary_id,
                "PrimaryNameAttribute": "name", "LogicalCollectionName": self.entity_set, "IsCustomEntity": False}

    def attributes(self) -> list[dict[str, Any]]:
        return [{"MetadataId": self.metadata_id(column), "LogicalName": column, "SchemaName": column,
                 "AttributeType": kind, "AttributeTypeName": {"Value": f"{kind}Type"},
                 "EntityLogicalName": self.logical_name, "IsPrimaryId": column == self.primary_id,
                 "IsPrimaryName": column == "name"} for column, kind in self._types().items()]

    def _types(self) -> dict[str, str]:
        state, status = self.states
        return {c: "State" if c == state else "Status" if c == status else ATTRIBUTE_TYPES[t]
                for c, t in self.columns.items()}


TABLES = (
    Table("backgroundoperation", "backgroundoperation", metadata.ENTITY_SET, views.KEY, views.COLUMN_TYPES),
    Table(systemjobs.ENTITY_TYPE, "AsyncOperation", systemjobs.ENTITY_SET, systemjobs.ASYNC_KEY,
          systemjobs.COLUMN_TYPES, ("statecode", "statuscode")),
)


def _table(key: str) -> Table:
    """The table ``key`` names: ``LogicalName='...'`` or its MetadataId; NotFound otherwise."""
    match = _KEY.match(key)
    found = next((t for t in TABLES if (match and t.logical_name == match[1].replace("''", "'"))
                  or t.metadata_id() == key.lower()), None)
    if found is None:
        raise NotFound(f"No table {key[:100]!r}: this app has backgroundoperation and asyncoperation.")
    return found


def _matching(items: list[dict[str, Any]], text: str | None, properties: tuple[str, ...]) -> list[dict[str, Any]]:
    """``$filter``: one comparison of one of ``properties`` with eq (the form clients send); InvalidRequest for
    any other."""
    if text is None or not text.strip(" "):
        return items
    match = re.match(filter_pattern(properties, capture=True), text)
    if not match:
        raise InvalidRequest(f"$filter: this service reads one comparison here, such as LogicalName eq "
                             f"'asyncoperation' ({', '.join(properties)}, with eq).")
    value = match[2].replace("''", "'") if match[2] is not None else match[3]
    return [item for item in items if str(item.get(match[1], "")).lower() == value.lower()]


def _selection(text: str | None, properties: tuple[str, ...]) -> tuple[str, ...] | None:
    """``$select``: the named properties (None for all); InvalidRequest naming any this shape does not have,
    whether or not any item is answered."""
    if text is None or not text.strip(" "):
        return None
    names = tuple(n.strip(" ") for n in text.split(",") if n.strip(" "))
    if unknown := [n for n in names if n not in properties]:
        raise InvalidRequest(f"$select: unknown propert{'y' if len(unknown) == 1 else 'ies'} "
                             f"{', '.join(u[:64] for u in unknown[:10])}; known: {', '.join(properties)}.")
    return names


def _answer(svc: Services, req: func.HttpRequest, context: str, items: list[dict[str, Any]],
            properties: tuple[str, ...], *, single: bool = False) -> func.HttpResponse:
    names = _selection(req.params.get("$select"), properties)
    chosen = items if names is None else [{k: v for k, v in item.items() if k in names or k == "MetadataId"}
                                          for item in items]
    root = metadata.service_root(urls.public_base(req, svc.settings), svc.settings.route_prefix)
    body = {"@odata.context": f"{root}/$metadata#{context}", **(chosen[0] if single else {"value": chosen})}
    return json_response(body)


def _read_only(req: func.HttpRequest) -> None:
    if req.method.upper() != "GET":
        raise MethodNotAllowed(READ_ONLY)


@api()
def definitions(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET data/v9.2/EntityDefinitions: the app's tables, with $filter (one eq) and $select."""
    _read_only(req)
    params = odata.check_options(req.params, ("$select", "$filter"), odata=True)
    items = _matching([t.definition() for t in TABLES], params.get("$filter"), DEFINITION_FILTERS)
    return _answer(svc, req, "EntityDefinitions", items, PROPERTIES)


@api()
def definition(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET data/v9.2/EntityDefinitions(LogicalName='...') or (MetadataId): one table."""
    _read_only(req)
    odata.check_options(req.params, ("$select",), odata=True)
    table = _table(req.route_params.get("key", ""))
    return _answer(svc, req, "EntityDefinitions/$entity", [table.definition()], PROPERTIES, single=True)


@api()
def attributes(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET data/v9.2/EntityDefinitions(...)/Attributes: a table's columns, with $filter (one eq) and $select."""
    _read_only(req)
    params = odata.check_options(req.params, ("$select", "$filter"), odata=True)
    table = _table(req.route_params.get("key", ""))
    items = _matching(table.attributes(), params.get("$filter"), ATTRIBUTE_FILTERS)
    return _answer(svc, req, f"EntityDefinitions({table.metadata_id()})/Attributes", items, ATTRIBUTE_PROPERTIES)


@api()
def attributes_of_type(svc: Services, req: func.HttpRequest) -> func.HttpResponse:
    """GET data/v9.2/EntityDefinitions(...)/Attributes/Microsoft.Dynamics.CRM.<Type>AttributeMetadata: a table's
    columns of that type (none are picklists: the SDK's look for option labels finds nothing to map)."""
    odata.check_options(req.params, ("$select", "$expand"), odata=True)
    table, cast = _table(req.route_params.get("key", "")), req.route_params.get("cast", "")
    if cast not in CASTS:
        raise NotFound(f"No attribute type {cast[:100]!r}; known: Microsoft.Dynamics.CRM.<Type>AttributeMetadata.")
    expand = req.params.get("$expand", "")
    if not re.match(EXPAND_PATTERN, expand):
        raise InvalidRequest("$expand: only OptionSet (or GlobalOptionSet) can be expanded here.")
    items = [a for a in table.attributes() if a["AttributeType"] == CASTS[cast]]
    return _answer(svc, req, f"EntityDefinitions({table.metadata_id()})/Attributes/{cast}", items,
                   ATTRIBUTE_PROPERTIES)
