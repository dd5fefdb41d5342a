"""Index function_app.py as the Python worker does when the Functions host loads the app; print its functions.

With ``azure-functions-runtime`` installed (the worker Azure runs on Python 3.13 and later), its loader finds
the app and its registry checks each function's bindings and parameter types, as at start-up in Azure;
without it, the ``azure-functions`` library's own indexing, which that loader calls. Exits 1 naming what
failed. ``make deps-check`` runs it in each environment it builds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
# One function of each trigger the app must have: the API, the queue worker and its poison queue, the
# events, and the purge.
EXPECTED = {"worker": "queueTrigger", "poison": "queueTrigger", "notify": "queueTrigger",
            "purge": "timerTrigger", "health": "httpTrigger"}
# The values of the host's BindingInfo enums (FunctionRpc.proto) that the worker's registry compares with.
PROTOS = SimpleNamespace(BindingInfo=SimpleNamespace(out=1, inout=2, undefined=0))


def index() -> dict[str, str]:
    """Each function's name and trigger type, indexed as the worker does."""
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    try:
        from azure_functions_runtime import functions, loader  # type: ignore[import-not-found]
        from azure_functions_runtime.bindings import meta  # type: ignore[import-not-found]
    except ImportError:
        import function_app
        indexed = function_app.app.get_functions()
        worker = "the azure-functions library"
    else:
        meta.load_binding_registry()  # as the worker does when the host initializes it
        indexed = loader.index_function_app(str(REPO / "function_app.py"))
        registry = functions.Registry()
        for function in indexed:
            info = registry.add_indexed_function(function=function, protos=PROTOS)
            loader.get_fx_raw_bindings(indexed_function=function, function_info=info)
        worker = "azure-functions-runtime"
    triggers = {}
    for function in indexed:
        bindings = [json.loads(raw) for raw in function.get_raw_bindings()]
        triggers[function.get_function_name()] = next(b["type"] for b in bindings if b["type"].endswith("Trigger"))
    print(f"Indexed {len(triggers)} functions with {worker} on Python {sys.version.split()[0]}.")
    return triggers


def main() -> int:
    os.environ.setdefault("BGOPS_QUEUE_NAME", "backgroundoperations")
    os.environ.setdefault("AzureWebJobsStorage", "UseDevelopmentStorage=true")  # the app checks its settings
    triggers = index()
    wrong = {name: kind for name, kind in EXPECTED.items() if triggers.get(name) != kind}
    if wrong:
        print(f"Missing or with another trigger: {wrong}; indexed: {triggers}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
