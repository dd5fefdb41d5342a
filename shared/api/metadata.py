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


@functools.cache
def csdl() -> str:
    """The CSDL XML ``$metadata`` document (OData 4.0)."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="{NAMESPACE}" Alias="{ALIAS}" xmlns="http://docs.oasis-open.org/odata/ns/edm">
{_entity_type(ENTITY_TYPE, KEY, COLUMN_TYPES, NOT_NULL)}
{_entity_type(systemjobs.ENTITY_TYPE, systemjobs.ASYNC_KEY, systemjobs.COLUMN_TYPES, systemjobs.NOT_NULL)}
      <EntityContainer Name="{CONTAINER}">
        <EntitySet Name="{ENTITY_SET}" EntityType="{NAMESPACE}.{ENTITY_TYPE}"/>
        <EntitySet Name="{systemjobs.ENTITY_SET}" EntityType="{NAMESPACE}.{systemjobs.ENTITY_TYPE}"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""
