"""Import ``function_app.py`` and describe its functions: the v2 programming model keeps all the host needs on
the ``FunctionApp`` object (``get_functions()``: each trigger, its other bindings and the user's callable)."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.functions.decorators.function_app import FunctionRegister

from .config import resolve_expression

HTTP, QUEUE, TIMER = "httpTrigger", "queueTrigger", "timerTrigger"


class AppLoadError(Exception):
    """function_app.py cannot be imported or declares something unsupported."""

CONTEXT = "context"  # the parameter the Python worker passes its Context as


@dataclass
class FunctionSpec:
    """One function of the app, with its binding expressions resolved."""

    name: str
    trigger_type: str
    trigger: Any  # the binding class's own attributes: route, methods, auth_level, queue_name, schedule...
    func: Callable[..., Any]
    queue_name: str | None = None  # queue trigger, %SETTING% resolved
    schedule: str | None = None  # timer trigger, %SETTING% resolved

    @property
    def takes_context(self) -> bool:
        """Whether it has a ``context`` parameter (the invocation's id, name and trace context)."""
        return CONTEXT in inspect.signature(self.func).parameters

    @property
    def trigger_param(self) -> str:
        """The parameter the trigger value is passed as."""
        return str(self.trigger.name)


def import_app(app_dir: Path) -> FunctionRegister:
    """Import ``function_app`` from ``app_dir``; its one FunctionApp."""
    app_dir = Path(app_dir).resolve()
    if not (app_dir / "function_app.py").is_file():
        raise AppLoadError(f"no function_app.py in {app_dir}")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    loaded = sys.modules.get("function_app")
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve().parent != app_dir:
        del sys.modules["function_app"]  # another app dir's module (tests)
    apps = [v for v in vars(importlib.import_module("function_app")).values() if isinstance(v, FunctionRegister)]
    if len(apps) != 1:
        raise AppLoadError(f"function_app.py must define exactly one FunctionApp at module level (found {len(apps)})")
    return apps[0]


def describe_functions(app: FunctionRegister, environ: MutableMapping[str, str]) -> list[FunctionSpec]:
    """A FunctionSpec per function; AppLoadError for an unknown ``%SETTING%`` and for what this host does not
    implement (the app uses no other trigger and no other binding; ``context`` is the worker's Context)."""
    specs = []
    for function in app.get_functions():
        name, trigger = str(function.get_function_name()), function.get_trigger()  # type: str, Any
        kind, where = trigger.get_binding_name() if trigger else None, f"function '{name}'"
        if trigger is None or kind not in (HTTP, QUEUE, TIMER):
            raise AppLoadError(f"{where}: trigger '{kind}' is not supported by the local host (HTTP, queue and "
                               "timer are)")
        spec = FunctionSpec(name=name, trigger_type=kind, trigger=trigger, func=function.get_user_function())
        if kind == QUEUE:
            spec.queue_name = resolve_expression(trigger.queue_name, environ, what=where).lower()
        elif kind == TIMER:
            spec.schedule = resolve_expression(trigger.schedule, environ, what=where)
        for binding in function.get_bindings():
            if binding is not trigger and not (binding.get_binding_name() == "http" and kind == HTTP):
                raise AppLoadError(f"{where}: binding '{binding.get_binding_name()}' ({binding.name}) is not "
                                   "supported by the local host (the app uses none)")
        if unbound := [p for p in inspect.signature(spec.func).parameters if p not in (spec.trigger_param, CONTEXT)]:
            raise AppLoadError(f"{where}: parameters {unbound} are not supported by the local host")
        specs.append(spec)
    return specs


def load(app_dir: Path, environ: MutableMapping[str, str]) -> list[FunctionSpec]:
    """Import the app in ``app_dir`` and describe its functions."""
    try:
        app = import_app(app_dir)
    except AppLoadError:
        raise
    except Exception as e:  # the app's own import-time error
        raise AppLoadError(f"importing function_app.py failed: {e!r}") from e
    return describe_functions(app, environ)
