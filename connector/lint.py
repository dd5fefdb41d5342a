"""The connector's strings, checked against Microsoft's connector string guidance and the certification
rules of its Swagger validator (learn.microsoft.com/connectors/custom-connectors/connector-string-guidance,
certification-submission, certification-swagger-validator-rules):

- the title: at most 30 characters, without "API" or "Connector"; the description: 30 to 500 characters;
- an operation's summary: sentence case, at most 80 characters, letters, digits, spaces and parentheses only,
  ending with a letter or a digit; its description: a sentence that says more than the summary;
- a trigger's summary: "When a ..."; its description: "This operation triggers when ...";
- every parameter and every property of a schema: an ``x-ms-summary`` in title case, at most 80 characters,
  and a description, a sentence ending with a period, that is not the summary again;
- no two properties of one schema whose names differ only in case;
- an internal parameter with a default is required (an optional one's default is never sent);
- no Power Platform product's name anywhere.

``problems(document)`` lists what breaks a rule, each naming where.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

PRODUCTS = ("Power Apps", "PowerApps", "Power Automate", "Microsoft Flow", "Power BI", "Power Pages",
            "Power Virtual Agents", "Copilot Studio", "Dataverse", "Common Data Service", "Power Platform",
            "Logic Apps")
MINOR_WORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to",
                         "with", "per", "via"})
SUMMARY = re.compile(r"[A-Z0-9][A-Za-z0-9 ()]*[A-Za-z0-9]")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def problems(document: dict[str, Any]) -> list[str]:
    """Every rule the document breaks, as "where: what"."""
    return [*_info(document.get("info", {})), *_operations(document), *_schemas(document),
            *_product_names(document)]


def _info(info: dict[str, Any]) -> Iterator[str]:
    title, description = info.get("title", ""), info.get("description", "")
    if len(title) > 30 or re.search(r"\b(API|Connector)\b", title, re.I):
        yield f"info.title: at most 30 characters, without API or Connector: {title!r}"
    if not 30 <= len(description) <= 500:
        yield f"info.description: 30 to 500 characters, not {len(description)}"


def _operations(document: dict[str, Any]) -> Iterator[str]:
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            if method in METHODS:
                where = f"{op.get('operationId', method + ' ' + path)}"
                yield from _operation(where, op)
                for parameter in op.get("parameters", []):
                    yield from _parameter(f"{where}.{parameter.get('name')}", parameter)


def _operation(where: str, op: dict[str, Any]) -> Iterator[str]:
    summary, description = op.get("summary", ""), op.get("description", "")
    if len(summary) > 80 or not SUMMARY.fullmatch(summary):
        yield (f"{where}: a summary in sentence case, at most 80 characters of letters, digits, spaces and "
               f"parentheses, ending with a letter or a digit: {summary!r}")
    if not _sentence(description) or _same(summary, description):
        yield f"{where}: a description, a sentence ending with a period that says more than the summary: " \
              f"{description!r}"
    if op.get("x-ms-trigger") and not (summary.startswith("When a") and
                                      description.startswith("This operation triggers when")):
        yield f"{where}: a trigger's summary reads 'When a ...', its description 'This operation triggers when ...'"


def _parameter(where: str, parameter: dict[str, Any]) -> Iterator[str]:
    yield from _labelled(where, parameter)
    if parameter.get("x-ms-visibility") == "internal" and "default" in parameter and not parameter.get("required"):
        yield f"{where}: internal with a default, so required (an optional one's default is never sent)"
    if "schema" in parameter:
        yield from _schema(f"{where}.schema", parameter["schema"])


def _labelled(where: str, item: dict[str, Any]) -> Iterator[str]:
    """An ``x-ms-summary`` in title case and a description that is a sentence and not the summary again."""
    summary, description = item.get("x-ms-summary", ""), item.get("description", "")
    if not summary or len(summary) > 80 or not _title_case(summary):
        yield f"{where}: an x-ms-summary in title case, at most 80 characters: {summary!r}"
    if not _sentence(description) or _same(summary, description):
        yield f"{where}: a description, a sentence ending with a period, not the x-ms-summary again: " \
              f"{description!r}"


def _schemas(document: dict[str, Any]) -> Iterator[str]:
    for name, schema in document.get("definitions", {}).items():
        yield from _schema(f"definitions.{name}", schema)
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            for status, response in (op.get("responses", {}).items() if method in METHODS else ()):
                if "schema" in response:
                    yield from _schema(f"{op.get('operationId')}.{status}", response["schema"])
        if "x-ms-notification-content" in item:
            yield from _schema(f"{path}.notification", item["x-ms-notification-content"].get("schema", {}))


def _schema(where: str, schema: dict[str, Any]) -> Iterator[str]:
    properties = schema.get("properties", {})
    seen: dict[str, str] = {}
    for name, prop in properties.items():
        if name.lower() in seen:
            yield f"{where}: {seen[name.lower()]!r} and {name!r} differ only in case: describe the property once"
        seen[name.lower()] = name
        yield from _labelled(f"{where}.{name}", prop)
        yield from _schema(f"{where}.{name}", prop)
    if isinstance(schema.get("items"), dict):
        yield from _schema(f"{where}[]", schema["items"])


def _product_names(document: dict[str, Any]) -> Iterator[str]:
    for where, text in _strings(document):
        for product in PRODUCTS:
            if product.lower() in text.lower():
                yield f"{where}: names {product}, a Power Platform product"


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every text a maker reads: titles, summaries and descriptions, wherever they are."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("title", "summary", "description", "x-ms-summary") and isinstance(item, str):
                yield f"{where}.{key}".lstrip("."), item
            else:
                yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _strings(item, f"{where}[{n}]")


def _title_case(text: str) -> bool:
    words = re.findall(r"[A-Za-z][\w'-]*", text)
    return bool(words) and all(w[0].isupper() or (n and w.lower() in MINOR_WORDS) for n, w in enumerate(words))


def _sentence(text: str) -> bool:
    return len(text) > 1 and (text[0].isupper() or text[0].isdigit()) and text.rstrip().endswith((".", "?", "!"))


def _same(summary: str, description: str) -> bool:
    return summary.strip(" .").lower() == description.strip(" .").lower()
