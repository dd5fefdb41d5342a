"""OData metadata: the service document, the CSDL ``$metadata`` document and ``@odata.context`` URLs.

The names follow Dataverse's Web API (namespace ``Microsoft.Dynamics.CRM``,
entity types ``backgroundoperation`` and ``asyncoperation``, entity sets
``backgroundoperations`` and ``asyncoperations``: the same rows, two views), so
a client that knows Dataverse finds what it expects; the columns and their
Edm types come from ``views.COLUMN_TYPES`` and ``systemjobs.COLUMN_TYPES``.
"""

from __future__ import annotations

import functools
from typing import Any
from xml.sax.saxutils import quoteattr

from ..operations.registry import Kind, OperationDefinition, ParamType
from ..services.locations import api_url
from . import systemjobs
from .views import COLUMN_TYPES, KEY

NAMESPACE, ALIAS = "Microsoft.Dynamics.CRM", "mscrm"
ENTITY_TYPE, ENTITY_SET, CONTAINER = "backgroundoperation", "backgroundoperations", "System"
SERVICE_PATH = "data/v9.2"
NOT_NULL = (KEY, "name", "backgroundoperationstatecode", "backgroundoperationstatuscode", "createdon")


def service_root(base: str, route_prefix: str) -> str:
    """``<base>/api/data/v9.2/``: where the service document is, and what entity set URLs are relative to."""
    return api_url(base, route_prefix, f"{SERVICE_PATH}/")


def context(root: str, select: tuple[str, ...] | None = None, *, entity: bool = False,
            entity_set: str = ENTITY_SET) -> str:
    """``@odata.context`` of a collection, or of one entity; ``select`` names the columns when narrowed."""
    columns = f"({','.join(select)})" if select else ""
    return f"{root}$metadata#{entity_set}{columns}{'/$entity' if entity else ''}"


ENTITY_SETS = (ENTITY_SET, systemjobs.ENTITY_SET)


def service_document(root: str) -> dict[str, Any]:
    """The OData service document: the entity sets."""
    return {"@odata.context": f"{root}$metadata",
            "value": [{"name": name, "kind": "EntitySet", "url": name} for name in ENTITY_SETS]}


def _property(name: str, edm_type: str, not_null: tuple[str, ...]) -> str:
    nullable = ' Nullable="false"' if name in not_null else ""
    return f"        <Property Name={quoteattr(name)} Type={quoteattr(edm_type)}{nullable}/>"


def _entity_type(name: str, key: str, columns: dict[str, str], not_null: tuple[str, ...]) -> str:
    properties = "\n".join(_property(column, edm, not_null) for column, edm in columns.items())
    return f"""      <EntityType Name="{name}">
        <Key><PropertyRef Name="{key}"/></Key>
{properties}
      </EntityType>"""


EDM_TYPES = {ParamType.STRING: "Edm.String", ParamType.INT: "Edm.Int64", ParamType.NUMBER: "Edm.Double",
             ParamType.BOOL: "Edm.Boolean", ParamType.DATETIME: "Edm.DateTimeOffset"}
UNTYPED = "Edm.Untyped"  # an object, an array or any JSON: what OData 4.01 calls it


def _parameter(name: str, edm_type: str, nullable: bool) -> str:
    return f'        <Parameter Name={quoteattr(name)} Type="{edm_type}" Nullable="{str(nullable).lower()}"/>'


def _operation(definition: OperationDefinition) -> str:
    """An operation as Dataverse declares a custom API: a Function or an Action, bound to its table's entity
    type by the parameter ``entity``, returning ``<name>Response`` (its outputs)."""
    element = "Function" if definition.kind is Kind.FUNCTION else "Action"
    bound = definition.bound
    parameters = [_parameter("entity", f"{ALIAS}.{bound.entity}", False)] if bound else []
    parameters += [_parameter(p.name, EDM_TYPES.get(p.type, UNTYPED), not p.required) for p in definition.inputs]
    return "\n".join([f'      <{element} Name={quoteattr(definition.name)} IsBound="{str(bool(bound)).lower()}">',
                      *parameters,
                      f'        <ReturnType Type="{ALIAS}.{definition.name}Response" Nullable="false"/>',
                      f"      </{element}>"])


def _response_type(definition: OperationDefinition) -> str:
    properties = [f'        <Property Name={quoteattr(p.name)} Type="{EDM_TYPES.get(p.type, UNTYPED)}"/>'
                  for p in definition.outputs]
    return "\n".join([f'      <ComplexType Name={quoteattr(definition.name + "Response")} OpenType="true">',
                      *properties, "      </ComplexType>"])


def _bound_entity(entity: str) -> str:
    """A table an operation is bound to, with its key alone: its rows are not served here."""
    return f"""      <EntityType Name="{entity}">
        <Key><PropertyRef Name="{entity}id"/></Key>
        <Property Name="{entity}id" Type="Edm.Guid" Nullable="false"/>
      </EntityType>"""


@functools.cache
def csdl(operations: tuple[OperationDefinition, ...] = ()) -> str:
    """The CSDL XML ``$metadata`` document (OData 4.0), with ``operations`` as Functions and Actions."""
    tables = sorted({d.bound.entity for d in operations if d.bound} - {ENTITY_TYPE, systemjobs.ENTITY_TYPE})
    declared = "\n".join([*(_bound_entity(t) for t in tables), *(_response_type(d) for d in operations),
                          *(_operation(d) for d in operations)])
    return f"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="{NAMESPACE}" Alias="{ALIAS}" xmlns="http://docs.oasis-open.org/odata/ns/edm">
{_entity_type(ENTITY_TYPE, KEY, COLUMN_TYPES, NOT_NULL)}
{_entity_type(systemjobs.ENTITY_TYPE, systemjobs.ASYNC_KEY, systemjobs.COLUMN_TYPES, systemjobs.NOT_NULL)}
{declared}
      <EntityContainer Name="{CONTAINER}">
        <EntitySet Name="{ENTITY_SET}" EntityType="{NAMESPACE}.{ENTITY_TYPE}"/>
        <EntitySet Name="{systemjobs.ENTITY_SET}" EntityType="{NAMESPACE}.{systemjobs.ENTITY_TYPE}"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""
