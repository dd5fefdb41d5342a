"""The Power Platform custom connector: the app's OpenAPI document, as ``paconn`` imports it.

``python -m connector`` writes ``apiDefinition.swagger.json`` from the same code that serves
``/api/openapi.json``; a test fails when the committed file and the served document differ.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
API_DEFINITION = FOLDER / "apiDefinition.swagger.json"
PLACEHOLDER_HOST = "your-function-app.azurewebsites.net"  # replace with your app's host before paconn create
SECURITY = "functionKeyHeader"  # the connection's API key goes in x-functions-key


def definition(document: dict) -> dict:
    """The served document as the connector ships it: the placeholder host, https, the key in a header, and each
    internal parameter with a default required, as certified connectors make them: the designer sends an
    optional one's default never, so the action would run inside the request (no Prefer: respond-async). The
    served document keeps them optional, as the server takes them."""
    shipped = copy.deepcopy(document)
    shipped.update(host=PLACEHOLDER_HOST, schemes=["https"],
                   securityDefinitions={SECURITY: document["securityDefinitions"][SECURITY]},
                   security=[{SECURITY: []}])
    for item in shipped["paths"].values():
        for op in item.values():
            for parameter in op.get("parameters", []) if isinstance(op, dict) else ():
                if parameter.get("x-ms-visibility") == "internal" and "default" in parameter:
                    parameter["required"] = True
    return shipped


def render(document: dict) -> str:
    """The file's text: stable key order and indentation, so that a diff shows real changes."""
    return json.dumps(definition(document), indent=2, sort_keys=True) + "\n"
