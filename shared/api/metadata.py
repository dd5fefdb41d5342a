"""OData metadata: the service document, the CSDL ``$metadata`` document and ``@odata.context`` URLs.

The names follow Dataverse's Web API (namespace ``Microsoft.Dynamics.CRM``,
entity type ``backgroundoperation``, entity set ``backgroundoperations``), so
a client that knows Dataverse finds what it expects; the columns and their
Edm types come from ``views.COLUMN_TYPES``, the one list of them.
"""

from __future__ import annotations

import functools
from typing import Any
from xml.sax.saxutils import quoteattr

from ..services.locations import api_url
from .views import COLUMN_TYPES, KEY

NAMESPACE, ALIAS = "Microsoft.Dynamics.CRM", "mscrm"
ENTITY_TYPE, ENTITY_SET, CONTAINER = "backgroundoperation", "backgroundoperations", "System"
SERVICE_PATH = "data/v9.2"
NOT_NULL = (KEY, "name", "backgroundoperationstatecode", "backgroundoperationstatuscode", "createdon")


def service_root(base: str, route_prefix: str) -> str:
    """``<base>/api/data/v9.2/``: where the service document is, and what entity set URLs are relative to."""
    return api_url(base, route_prefix, f"{SERVICE_PATH}/")


def context(root: str, select: tuple[str, ...] | None = None, *, entity: bool = False) -> str:
    """``@odata.context`` of a collection, or of one entity; ``select`` names the columns when narrowed."""
    columns = f"({','.join(select)})" if select else ""
    return f"{root}$metadata#{ENTITY_SET}{columns}{'/$entity' if entity else ''}"


def service_document(root: str) -> dict[str, Any]:
    """The OData service document: the one entity set."""
    return {"@odata.context": f"{root}$metadata",
            "value": [{"name": ENTITY_SET, "kind": "EntitySet", "url": ENTITY_SET}]}


def _property(name: str, edm_type: str) -> str:
    nullable = ' Nullable="false"' if name in NOT_NULL else ""
    return f"        <Property Name={quoteattr(name)} Type={quoteattr(edm_type)}{nullable}/>"


@functools.cache
def csdl() -> str:
    """The CSDL XML ``$metadata`` document (OData 4.0)."""
    properties = "\n".join(_property(name, edm) for name, edm in COLUMN_TYPES.items())
    return f"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="{NAMESPACE}" Alias="{ALIAS}" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="{ENTITY_TYPE}">
        <Key><PropertyRef Name="{KEY}"/></Key>
{properties}
      </EntityType>
      <EntityContainer Name="{CONTAINER}">
        <EntitySet Name="{ENTITY_SET}" EntityType="{NAMESPACE}.{ENTITY_TYPE}"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""
