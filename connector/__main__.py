"""``python -m connector``: write apiDefinition.swagger.json from the app's OpenAPI document."""

import argparse

from shared.api.openapi import document
from shared.settings import HOST_ROUTE_PREFIX

from . import API_DEFINITION, PLACEHOLDER_HOST, render

parser = argparse.ArgumentParser(
    prog="python -m connector",
    description=f"Write {API_DEFINITION.name} (the Power Platform custom connector's definition) from the app's "
                f"OpenAPI document, with the host left as {PLACEHOLDER_HOST}. Run it from the repository root.")
parser.parse_args()  # no options: --help prints this and exits, and anything else is refused, before writing
API_DEFINITION.write_text(render(document(PLACEHOLDER_HOST, "https", HOST_ROUTE_PREFIX)))
print(f"wrote {API_DEFINITION}")
