"""``python -m connector``: write apiDefinition.swagger.json from the app's OpenAPI document."""

from shared.api.openapi import document
from shared.settings import HOST_ROUTE_PREFIX

from . import API_DEFINITION, PLACEHOLDER_HOST, render

API_DEFINITION.write_text(render(document(PLACEHOLDER_HOST, "https", HOST_ROUTE_PREFIX)))
print(f"wrote {API_DEFINITION}")
