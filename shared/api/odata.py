"""The OData query options the list endpoint accepts: ``$filter``, ``$select``, ``$top``, ``$skiptoken``,
``$orderby`` (the natural order, ``createdon desc``) and ``$format=json``, and how they page.

An option OData defines that a route does not implement (``$orderby`` on another column, ``$skip``,
``$count``, ``$expand``...) answers 501, as OData's minimal conformance asks, so that clients can tell
it from a mistake; a ``$`` option OData does not define answers 400.

Paging as OData defines it: ``$top`` caps the total (at most N rows, no
``@odata.nextLink`` past them); the page size is ``Prefer: odata.maxpagesize``
when asked, else ``$top`` (up to a page's maximum), else 50. A nextLink
carries what is left of ``$top`` and the page size, so a client that follows
it with no headers at all still gets the same pages.

``$filter`` is parsed and checked against the columns it may name, into typed
comparisons the storage adapter renders (with its values as parameters, never
spliced in as text). Anything unsupported is refused with a message, never
answered wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.errors import InvalidRequest, NotAcceptable, NotSupported
from ..domain.ids import parse_operation_id
from ..domain.times import parse_time
from ..storage.ports import Comparison
from .views import KEY

FILTERABLE = {
    KEY: "guid",
    "backgroundoperationstatecode": "int",
    "backgroundoperationstatuscode": "int",
    "name": "string",
    "createdon": "datetime",
}
OPERATORS = ("eq", "ne", "ge", "le", "gt", "lt")
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
MAX_TOP = 2**31 - 1
_TOKEN = re.compile(r" *('(?:[^']|'')*'|\(|\)|[^ ()]+)")  # tokens part at spaces (grammar.filter_expression)
_DATETIME_LITERAL = re.compile(r"^(?:datetime)?'?([0-9]{4}-[0-9]{2}-[0-9]{2}T[^']*)'?$", re.IGNORECASE)
ROW_FILTERS = {column: column for column in FILTERABLE}  # the row's own names: themselves


def _how(columns: Mapping[str, str]) -> str:
    names = list(columns)
    state = next(name for name, logical in columns.items() if logical == "backgroundoperationstatecode")
    return (f"Filters compare {', '.join(names[:-1])} or {names[-1]} with eq, ne, ge, le, gt or lt, joined by "
            f"'and'; for example \"{state} eq 3 and name eq 'sample_Echo'\".")



def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or not match.group(1):
            break
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _literal(column: str, token: str, named: str, how: str) -> Any:
    kind = FILTERABLE[column]
    if kind == "int":
        if re.fullmatch(r"-?[0-9]{1,9}", token):
            return int(token)
    elif kind == "guid":
        try:
            return parse_operation_id(token.strip("'"))
        except InvalidRequest:
            pass
    elif kind == "string":
        if len(token) >= 2 and token[0] == token[-1] == "'":
            return token[1:-1].replace("''", "'")
    else:
        match = _DATETIME_LITERAL.match(token)
        if match:
            try:
                return parse_time(match.group(1), f"$filter: {named}")
            except InvalidRequest as e:
                raise InvalidRequest(f"{e} {how}") from None
    raise InvalidRequest(f"$filter: {token} is not a valid {kind} value for {named}. {how}")


def _comparisons(tokens: list[str], text: str, how: str) -> list[list[str]]:
    """``a op x and (b op y)`` -> ``[[a, op, x], [b, op, y]]``: comparisons joined by 'and', each group in
    balanced parentheses; anything else is refused. Read in one pass, without recursion, however deep."""
    groups: list[list[str]] = []
    depth, position, expect_comparison = 0, 0, True
    while position < len(tokens):
        token = tokens[position]
        if expect_comparison and token == "(":
            depth += 1
        elif expect_comparison and not {"(", ")"} & set(tokens[position:position + 3]):
            groups.append(tokens[position:position + 3])
            position, expect_comparison = position + 2, False
        elif not expect_comparison and token == ")":
            if depth == 0:
                raise InvalidRequest(f"$filter: a ')' closes no '('; balance the parentheses. {how}")
            depth -= 1
        elif not expect_comparison and token.lower() == "and":
            expect_comparison = True
        else:
            break
        position += 1
    if position < len(tokens) or expect_comparison or any(len(g) != 3 for g in groups):
        raise InvalidRequest(f"$filter: cannot read '{text[:200]}'. {how}")
    if depth:
        raise InvalidRequest(f"$filter: a '(' is never closed; balance the parentheses. {how}")
    return groups


def parse_filter(text: str | None, *, canonical_name: Callable[[str], str] = lambda name: name,
                 columns: Mapping[str, str] = ROW_FILTERS) -> tuple[Comparison, ...]:
    """``$filter`` as comparisons that must all hold, or InvalidRequest naming what is unsupported.

    ``canonical_name`` maps an operation name to the spelling rows store, since
    operation names are matched regardless of case everywhere else. ``columns`` are the
    names the filter may use, each with the logical column it compares (another view's names).
    """
    if text is None or not text.strip(" "):
        return ()
    # Parentheses only group, and with 'and' alone grouping changes nothing: they need only be balanced.
    comparisons = []
    how = _how(columns)
    for named, operator, value in _comparisons(_tokens(text), text, how):
        named, operator = named.lower(), operator.lower()
        if named not in columns:
            raise InvalidRequest(f"$filter: cannot filter on '{named[:64]}'. {how}")
        if operator not in OPERATORS:
            raise InvalidRequest(f"$filter: unsupported operator '{operator[:64]}'. {how}")
        column = columns[named]
        literal = _literal(column, value, named, how)
        comparisons.append(Comparison(column, operator, canonical_name(literal) if column == "name" else literal))
    return tuple(comparisons)


LIST_OPTIONS = ("$filter", "$select", "$top", "$skiptoken", "$orderby", "$format")
ENTITY_OPTIONS = ("$select", "$format")
# OData 4.01's system query options (Part 2, §5): what a client may expect a service to know of.
SYSTEM_OPTIONS = frozenset({"$apply", "$compute", "$count", "$deltatoken", "$expand", "$filter", "$format", "$id",
                            "$index", "$levels", "$orderby", "$schemaversion", "$search", "$select", "$skip",
                            "$skiptoken", "$top"})
# The unimplemented options whose values are checked: (form, the value that asks for nothing, the rule).
UNIMPLEMENTED_VALUES = {"$count": (re.compile(r"true|false", re.IGNORECASE), "false", "must be true or false."),
                        "$skip": (re.compile(r"[0-9]{1,10}"), "0", "must be a whole number from 0.")}
COUNT_NOT_IMPLEMENTED = ("Counting is not implemented: Table Storage keeps no count, so every row would be read. "
                         "List the rows ($select the key alone) and count them.")
# Dataverse's own ways to query an entity set (FetchXML, SQL, saved and user views), which would otherwise be read
# as parameters the route ignores: listing every row for a query that asked for some would answer it wrongly.
DATAVERSE_QUERIES = frozenset({"fetchxml", "sql", "savedquery", "userquery"})
NATURAL_ORDER = "createdon desc"  # the order rows are stored and listed in (ids sort newest first)
JSON_FORMATS = ("json", "application/json")


def check_options(params: Mapping[str, str], supported: tuple[str, ...], *, odata: bool = False
                  ) -> Mapping[str, str]:
    """The query string, unless it has a ``$`` option this route does not support (never ignored): 400, or on an
    OData resource (``odata``) 501 for an option OData defines; and ``$format``, where supported, asks for JSON."""
    if odata and (queries := sorted(k[:16] for k in params if k.lower() in DATAVERSE_QUERIES)):
        raise NotSupported(f"{', '.join(queries)}: FetchXML, SQL and saved or user queries are Dataverse's own and "
                           f"not served here; use the OData query options: {', '.join(supported)}.")
    unsupported = sorted(k for k in params if k.startswith("$") and k not in supported)
    if unknown := [k for k in unsupported if not odata or k not in SYSTEM_OPTIONS]:
        raise InvalidRequest(f"Unsupported query option(s) {', '.join(u[:32] for u in unknown)}; "
                             f"this route supports {', '.join(supported)} (names are case-sensitive).")
    if unsupported := [k for k in unsupported if not _asks_for_nothing(k, params[k])]:
        raise NotSupported(f"This service does not implement {', '.join(unsupported)}; this route supports "
                           f"{', '.join(supported)}.")
    if "$format" in params and params["$format"].partition(";")[0].strip(" ").lower() not in JSON_FORMATS:
        raise NotAcceptable(f"$format={params['$format'][:32]}: this service answers in JSON only ($format=json).")
    return params


def _asks_for_nothing(option: str, value: str) -> bool:
    """Whether an unimplemented option's value asks for nothing (``$count=false``, ``$skip=0``); InvalidRequest
    for a value the option cannot take, so that a mistake is told from a request the app cannot serve."""
    if option not in UNIMPLEMENTED_VALUES:
        return False
    form, nothing, rule = UNIMPLEMENTED_VALUES[option]
    if not form.fullmatch(value):
        raise InvalidRequest(f"{option} {rule}")
    return value.lower() == nothing


def check_orderby(text: str | None, columns: tuple[str, ...]) -> None:
    """``$orderby``: the natural order, ``createdon desc``, is the one served; InvalidRequest for a column the rows
    do not have, NotSupported for any other order of known columns."""
    if text is None or not text.strip(" "):
        return
    items = [" ".join(item.split()).lower() for item in text.split(",")]
    if unknown := [c for c in (item.partition(" ")[0] for item in items) if c not in columns]:
        raise InvalidRequest(f"$orderby: unknown column(s) {', '.join(u[:64] for u in unknown[:10])}; "
                             f"known: {', '.join(columns)}.")
    if items != [NATURAL_ORDER] and any(item.partition(" ")[2] not in ("", "asc", "desc") for item in items):
        raise InvalidRequest("$orderby: each item is a column, then asc or desc.")
    if items != [NATURAL_ORDER]:
        raise NotSupported(f"$orderby: only '{NATURAL_ORDER}' is implemented (the order rows are listed in, newest "
                           "first); sort other ways on your side.")


def parse_top(text: str | None) -> int | None:
    """``$top``: a whole number from 0 (None when absent): the most rows the caller wants in all."""
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or int(text) > MAX_TOP:
        raise InvalidRequest(f"$top must be a whole number from 0 to {MAX_TOP}.")
    return int(text)


@dataclass(frozen=True)
class Paging:
    """Where a list request stands: how many rows this page holds, how many may follow, where to go on."""

    page_size: int
    remaining: int | None  # what is left of $top, or None for no cap
    after: str | None = None  # the last id the previous page ended with

    @property
    def this_page(self) -> int:
        """Rows to read for this page."""
        return self.page_size if self.remaining is None else min(self.page_size, self.remaining)

    def next_link_options(self, served: int, last_id: str) -> dict[str, str] | None:
        """The options of the nextLink after ``served`` rows ending at ``last_id``; None when done."""
        left = None if self.remaining is None else self.remaining - served
        if left is not None and left <= 0:
            return None
        options = {"$skiptoken": f"{last_id}:{self.page_size}"}
        if left is not None:
            options["$top"] = str(left)
        return options


def parse_paging(top: str | None, skiptoken: str | None, max_page_size: int | None) -> Paging:
    """The paging a list request asks for (``$top``, ``$skiptoken``, ``Prefer: odata.maxpagesize``)."""
    remaining = parse_top(top)
    after, token_size = _parse_skiptoken(skiptoken)
    asked = max_page_size or token_size or (remaining if remaining else None) or DEFAULT_PAGE_SIZE
    return Paging(page_size=min(asked, MAX_PAGE_SIZE), remaining=remaining, after=after)


def _parse_skiptoken(token: str | None) -> tuple[str | None, int | None]:
    """``<last id>:<page size>`` as a nextLink carries it (or a bare id)."""
    if not token:
        return None, None
    after, _, size = token.partition(":")
    try:
        if size and not (re.fullmatch(r"[0-9]{1,4}", size) and 1 <= int(size) <= MAX_PAGE_SIZE):
            raise InvalidRequest("bad page size")
        return parse_operation_id(after), int(size) if size else None
    except InvalidRequest:
        raise InvalidRequest("$skiptoken is not one this service handed out; follow @odata.nextLink as it is.") \
            from None


def parse_select(text: str | None, columns: tuple[str, ...], default: tuple[str, ...] | None = None,
                 key: str = KEY) -> tuple[str, ...]:
    """``$select``: the chosen ``columns``, the key always among them; ``default`` (else all) when absent."""
    if text is None or not text.strip(" "):
        return columns if default is None else default
    chosen = tuple(dict.fromkeys(c.strip(" ").lower() for c in text.split(",") if c.strip(" ")))
    unknown = [c for c in chosen if c not in columns]
    if unknown:
        raise InvalidRequest(f"$select: unknown column(s) {', '.join(u[:64] for u in unknown[:10])}; "
                             f"known: {', '.join(columns)}.")
    return chosen if key in chosen or key not in columns else (key, *chosen)
