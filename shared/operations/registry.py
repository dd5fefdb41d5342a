"""The registry of operations: names, display names, typed parameters, handlers (SPEC §5)."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..domain.errors import InvalidRequest, UnknownOperation
from ..domain.lines import operation_key
from ..domain.times import parse_time
from .context import OperationContext

Handler = Callable[[dict[str, Any], OperationContext], dict[str, Any]]


class ParamType(str, Enum):
    """The JSON types a parameter can declare."""

    STRING = "string"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    DATETIME = "datetime"  # an ISO 8601 string
    OBJECT = "object"
    ARRAY = "array"
    ANY = "any"


def is_datetime(value: Any) -> bool:
    """Whether ``value`` reads as an ISO 8601 date and time (what a datetime parameter takes)."""
    try:
        parse_time(value, "")
        return True
    except InvalidRequest:
        return False


_CHECKS: dict[ParamType, Callable[[Any], bool]] = {
    ParamType.STRING: lambda v: isinstance(v, str),
    ParamType.INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
    ParamType.NUMBER: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    ParamType.BOOL: lambda v: isinstance(v, bool),
    ParamType.DATETIME: is_datetime,
    ParamType.OBJECT: lambda v: isinstance(v, dict),
    ParamType.ARRAY: lambda v: isinstance(v, list),
    ParamType.ANY: lambda v: True,
}


class Kind(str, Enum):
    """How a custom API is called (Dataverse's Custom API "Is Function"): an action is POSTed, its parameters in
    the body; a function is read with GET, its parameters in the URL."""

    ACTION = "Action"
    FUNCTION = "Function"


@dataclass(frozen=True)
class Binding:
    """The table an operation is bound to (Dataverse's Custom API "Binding Type: Entity"): it is called on one
    row, ``{entity_set}({id})/Microsoft.Dynamics.CRM.{name}``, and gets that row as its ``Target`` input."""

    entity: str  # the table's logical name, as systemuser

    @property
    def entity_set(self) -> str:
        """The entity set the row is in (systemusers)."""
        return f"{self.entity}s"

    @property
    def key(self) -> str:
        """The row's key column (systemuserid)."""
        return f"{self.entity}id"

    def target(self, row_id: str) -> dict[str, str]:
        """The ``Target`` input: the row, as a plug-in's EntityReference has it (LogicalName, Id)."""
        return {"LogicalName": self.entity, "Id": row_id}


TARGET = "Target"


@dataclass(frozen=True)
class Parameter:
    """One declared input or output parameter."""

    name: str
    type: ParamType = ParamType.ANY
    required: bool = False
    description: str = ""

    def check(self, value: Any) -> None:
        """Raise InvalidRequest unless ``value`` has the declared type."""
        if value is None and not self.required:
            return
        if not _CHECKS[self.type](value):
            shown = "an ISO 8601 date and time" if self.type is ParamType.DATETIME else f"of type {self.type.value}"
            raise InvalidRequest(f"Parameter '{self.name}' must be {shown}, not {type(value).__name__} "
                                 f"{_short(value)}.")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class OperationDefinition:
    """A registered operation. ``open_inputs`` accepts parameters it did not declare."""

    name: str
    handler: Handler
    display_name: str = ""
    inputs: tuple[Parameter, ...] = ()
    outputs: tuple[Parameter, ...] = ()
    open_inputs: bool = False
    description: str = field(default="", repr=False)
    time_limit_seconds: float | None = None  # per attempt; None: BGOPS_ATTEMPT_TIME_LIMIT_SECONDS
    system_job: bool = False  # callers may not cancel, pause or resume it (Dataverse's restricted jobs)
    internal: bool = False  # the app's own (its maintenance): never submitted, never in the catalog
    concurrency_key: str | None = None  # runs one at a time with every operation of this key
    concurrency_key_input: str | None = None  # ... of the same value of this input parameter
    kind: Kind = Kind.ACTION
    bound: Binding | None = None  # None: unbound, called by name at the service root

    def line_of(self, inputs: dict[str, Any]) -> str:
        """The line (``domain.lines``) these inputs run in by the operation's own declaration, or ""."""
        value = inputs.get(self.concurrency_key_input) if self.concurrency_key_input else None
        if value is not None:
            return operation_key(f"{self.name}:{self.concurrency_key_input}={json.dumps(value, sort_keys=True)}")
        return operation_key(self.concurrency_key) if self.concurrency_key else ""

    def validate(self, inputs: Any) -> dict[str, Any]:
        """The inputs, checked against the declaration; InvalidRequest says what to fix."""
        if not isinstance(inputs, dict):
            raise InvalidRequest(f"The inputs of '{self.name}' must be a JSON object of parameters.")
        declared = {p.name: p for p in self.inputs}
        if self.bound is not None:  # its row, given by the URL it was called on
            declared[TARGET] = Parameter(TARGET, ParamType.OBJECT, required=True)
        for param in declared.values():
            if param.required and inputs.get(param.name) is None:
                raise InvalidRequest(f"'{self.name}' needs the parameter '{param.name}' ({param.type.value}).")
            if param.name in inputs:
                param.check(inputs[param.name])
        unknown = sorted(set(inputs) - set(declared))
        if unknown and not self.open_inputs:
            accepted = ", ".join(declared) or "none"
            raise InvalidRequest(f"'{self.name}' has no parameter {', '.join(repr(u) for u in unknown)}; "
                                 f"it accepts: {accepted}.")
        return dict(inputs)


class OperationRegistry:
    """Operations by name; names are unique regardless of case, and looked up regardless of case."""

    def __init__(self) -> None:
        self._by_key: dict[str, OperationDefinition] = {}

    def register(self, definition: OperationDefinition) -> OperationDefinition:
        """Add an operation; a second one with the same name is a programming error."""
        key = definition.name.lower()
        if key in self._by_key:
            raise ValueError(f"An operation named '{definition.name}' is already registered.")
        self._by_key[key] = definition
        return definition

    def operation(self, name: str, *, display_name: str = "", description: str = "",
                  inputs: Iterable[Parameter] = (), outputs: Iterable[Parameter] = (),
                  open_inputs: bool = False, time_limit_seconds: float | None = None,
                  system_job: bool = False, concurrency_key: str | None = None,
                  concurrency_key_input: str | None = None, kind: Kind = Kind.ACTION,
                  bound_to: str | None = None) -> Callable[[Handler], Handler]:
        """Decorator: register the function as the handler of operation ``name``.

        ``description`` (else the handler's docstring) is what the catalog and the connector show.
        ``time_limit_seconds`` is how long one attempt may run (else BGOPS_ATTEMPT_TIME_LIMIT_SECONDS).
        ``system_job`` keeps callers from cancelling, pausing or resuming it (they may still postpone it).
        ``concurrency_key`` runs it one at a time with every operation declaring the same key, in the order
        they were submitted; ``concurrency_key_input`` does that per value of one of its input parameters
        (operations without that value fall back to ``concurrency_key``).
        ``kind`` makes it a function (GET, parameters in the URL) rather than an action (POST, in the body);
        ``bound_to`` (a table's logical name) binds it to that table's rows, each call to one (its ``Target``).
        """
        if time_limit_seconds is not None and not time_limit_seconds > 0:
            raise ValueError(f"The time limit of '{name}' must be a positive number of seconds.")
        inputs = tuple(inputs)
        if bound_to is not None and not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", bound_to):
            raise ValueError(f"'{name}' is bound to '{bound_to}': a table's logical name is lower case, as systemuser.")
        if bound_to is not None and TARGET in {p.name for p in inputs}:
            raise ValueError(f"'{name}' is bound, so its row is its input '{TARGET}': declare no input of that name.")
        if concurrency_key_input is not None and concurrency_key_input not in {p.name for p in inputs}:
            raise ValueError(f"The concurrency key input '{concurrency_key_input}' of '{name}' is not one of its "
                             "declared inputs.")

        def decorate(handler: Handler) -> Handler:
            text = description or inspect.cleandoc(handler.__doc__ or "")
            self.register(OperationDefinition(name=name, handler=handler, display_name=display_name or name,
                                              inputs=tuple(inputs), outputs=tuple(outputs),
                                              open_inputs=open_inputs, description=text,
                                              time_limit_seconds=time_limit_seconds, system_job=system_job,
                                              concurrency_key=concurrency_key,
                                              concurrency_key_input=concurrency_key_input, kind=kind,
                                              bound=Binding(bound_to) if bound_to else None))
            return handler

        return decorate

    def get(self, name: str) -> OperationDefinition:
        """The operation called ``name``; raises UnknownOperation."""
        try:
            return self._by_key[name.lower()]
        except KeyError:
            raise UnknownOperation(name) from None

    def submittable(self, name: str) -> OperationDefinition:
        """The operation called ``name`` if callers may submit it (not the app's own); UnknownOperation."""
        definition = self.get(name)
        if definition.internal:
            raise UnknownOperation(name)
        return definition

    def public(self) -> Iterator[OperationDefinition]:
        """The operations callers may submit, as the catalog lists them."""
        return (definition for definition in self._by_key.values() if not definition.internal)

    def __iter__(self) -> Iterator[OperationDefinition]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)
