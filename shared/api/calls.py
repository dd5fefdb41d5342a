"""A custom API called in a URL, as the Dataverse Web API takes it (OData 4.0 Part 2 §4.5, §5.1.1.13): the
operation's segment, ``name`` or ``Microsoft.Dynamics.CRM.name`` (a bound one is always so qualified), and a
function's parameters inline, ``name(P1=@p1,P2=5)``, with parameter aliases in the query (``?@p1='text'``).
Each literal is read as the operation declares the parameter; a parameter it does not declare, as JSON or a
quoted string. Anything else is refused with the form to use (pure).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.errors import InvalidRequest, MethodNotAllowed
from ..operations.registry import Kind, OperationDefinition, Parameter, ParamType, is_datetime
from .handling import INT64_MAX, INT64_MIN, check_shape

NAMESPACES = ("Microsoft.Dynamics.CRM.", "mscrm.")
MAX_ARGUMENTS = 64
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")  # a parameter's
_ALIAS = re.compile(r"@[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Call:
    """The operation a URL segment names and the arguments written in it, as text (aliases not yet read)."""

    name: str
    arguments: dict[str, str] = field(default_factory=dict)
    parenthesized: bool = False  # written name(...), as a function is


def parse_segment(segment: str) -> Call:
    """``[Microsoft.Dynamics.CRM.]name[(P=value,...)]``; InvalidRequest when the parentheses cannot be read. The
    name is not checked here: the registry says whether there is such an operation (404 if not)."""
    text = next((segment[len(ns):] for ns in NAMESPACES if segment.lower().startswith(ns.lower())), segment)
    name, paren, rest = text.partition("(")
    if paren and (not name or not rest.endswith(")")):
        raise InvalidRequest(f"'{segment[:128]}' cannot be read as an operation call: write name, or name(P1=@p1) "
                             "for a function, with ?@p1=value in the query.")
    arguments: dict[str, str] = {}
    for item in _split(rest[:-1]) if paren and rest[:-1].strip() else []:
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not _NAME.fullmatch(key):
            raise InvalidRequest(f"In '{segment[:128]}', '{item[:64]}' is not Parameter=value.")
        if key in arguments:
            raise InvalidRequest(f"In '{segment[:128]}', the parameter {key} is given twice.")
        arguments[key] = value.strip()
    if len(arguments) > MAX_ARGUMENTS:
        raise InvalidRequest(f"A call takes at most {MAX_ARGUMENTS} parameters.")
    return Call(name, arguments, bool(paren))


def _split(text: str) -> list[str]:
    """Split at commas outside single quotes and brackets (a JSON literal may hold commas)."""
    items: list[str] = []
    current: list[str] = []
    quoted, depth = False, 0
    for ch in text:
        if ch == "'":
            quoted = not quoted  # '' inside a string flips twice: still quoted
        elif not quoted and ch in "[{":
            depth += 1
        elif not quoted and ch in "]}":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    return [*items, "".join(current)]


def function_inputs(call: Call, declared: tuple[Parameter, ...], query: Mapping[str, str]) -> dict[str, Any]:
    """The inputs a function call gives: each argument, or the alias it names, read as its parameter's type."""
    by_name = {p.name: p for p in declared}
    inputs: dict[str, Any] = {}
    for name, text in call.arguments.items():
        if _ALIAS.fullmatch(text):
            if text not in query:
                raise InvalidRequest(f"The parameter {name} is {text}, which the query string gives no value: "
                                     f"add ?{text}=value.")
            text = query[text]
        parameter = by_name.get(name, Parameter(name))
        inputs[name] = literal(text, parameter)
    return inputs


def _quoted(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1].replace("''", ""):
        return text[1:-1].replace("''", "'")
    return None


def _finite(text: str) -> float:
    if not math.isfinite(value := float(text)):
        raise ValueError(f"{text} is out of range")
    return value


def _json(text: str) -> Any:
    try:  # JSON as json_body reads it: no NaN or Infinity, no number beyond a double
        return json.loads(text, parse_float=_finite, parse_constant=_finite)
    except ValueError:
        return _NOT_READ


_NOT_READ = object()
_READERS: dict[ParamType, Callable[[str], Any]] = {
    ParamType.STRING: _quoted,
    ParamType.INT: lambda t: v if re.fullmatch(r"-?[0-9]{1,19}", t) and INT64_MIN <= (v := int(t)) <= INT64_MAX
    else None,
    ParamType.NUMBER: lambda t: v if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", t)
    and math.isfinite(v := float(t)) else None,
    ParamType.BOOL: lambda t: {"true": True, "false": False}.get(t.lower()),
    ParamType.DATETIME: lambda t: (_quoted(t) or t) if is_datetime(_quoted(t) or t) else None,
    ParamType.OBJECT: lambda t: v if isinstance(v := _json(t), dict) else None,
    ParamType.ARRAY: lambda t: v if isinstance(v := _json(t), list) else None,
}
_FORMS = {ParamType.STRING: "a string in single quotes ('text', '' for a quote)", ParamType.INT: "a whole number",
          ParamType.NUMBER: "a number", ParamType.BOOL: "true or false",
          ParamType.DATETIME: "a date and time, as 2031-06-01T00:00:00Z", ParamType.OBJECT: "a JSON object",
          ParamType.ARRAY: "a JSON array"}


def literal(text: str, parameter: Parameter) -> Any:
    """A URL literal as ``parameter`` declares it (``null`` for none); InvalidRequest naming the form."""
    if text == "null":
        return None
    if parameter.type is ParamType.ANY:
        quoted = _quoted(text)
        value = quoted if quoted is not None else _json(text)
        if value is not _NOT_READ:
            check_shape(value)  # as in a body: no whole number beyond 64 bits, no nesting beyond 32 levels
            return value
        raise InvalidRequest(f"The parameter {parameter.name} is '{text[:64]}': write a string in single quotes, "
                             "or a number, true, false or JSON.")
    value = _READERS[parameter.type](text)
    if parameter.type in (ParamType.OBJECT, ParamType.ARRAY) and value is not None:
        check_shape(value)
    if value is None:
        raise InvalidRequest(f"The parameter {parameter.name} is '{text[:64]}': write "
                             f"{_FORMS[parameter.type]}.")
    return value


def how_to_call(definition: OperationDefinition, prefix: str = "/api/data/v9.2") -> str:
    """The form an operation is called in, for a message that names it."""
    name = definition.name
    if definition.kind is Kind.FUNCTION:
        names = [p.name for p in definition.inputs]
        shown = f"{name}({','.join(f'{n}=@{n}' for n in names)})" + (
            f"?{'&'.join(f'@{n}=value' for n in names)}" if names else "")
        verb, body = "GET", ""
    else:
        shown, verb, body = name, "POST", " with its parameters in a JSON body"
    if definition.bound is not None:
        shown = f"{definition.bound.entity_set}(<{definition.bound.key}>)/{NAMESPACES[0]}{shown}"
    return f"{verb} {prefix}/{shown}{body}"


def check_form(definition: OperationDefinition, method: str, entity_set: str | None) -> None:
    """Refuse a call in a form the operation does not have: bound or not (400), GET or POST (405); the message
    names the form to use."""
    name, verb = definition.name, "GET" if definition.kind is Kind.FUNCTION else "POST"
    if definition.bound is None and entity_set is not None:
        raise InvalidRequest(f"'{name}' is not bound to a table: call it as {how_to_call(definition)}.")
    if definition.bound is not None and (entity_set or "").lower() != definition.bound.entity_set:
        raise InvalidRequest(f"'{name}' is bound to {definition.bound.entity_set}: call it on one of its rows, "
                             f"as {how_to_call(definition)}.")
    if method.upper() != verb:
        kind = "a function" if definition.kind is Kind.FUNCTION else "an action"
        raise MethodNotAllowed(f"'{name}' is {kind}: call it as {how_to_call(definition)}.", (verb,))
