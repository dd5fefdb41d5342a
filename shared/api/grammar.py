"""The shapes of the text the API reads, as regular expressions the OpenAPI document publishes (``pattern``).

Each is the syntax its parser reads, or the part of it a client needs: a value the pattern allows
is one the server takes, and the server refuses a value outside it (a few spellings the parsers also take,
such as a column name in capitals or a GUID in braces, are left out). What no pattern can say (a time still
to come, a name someone registered, one field needing another) the document says in words.

They are written in what Python's ``re``, ECMA-262 (JSON Schema) and Hypothesis read alike: no flags, no
``\\d`` or ``\\s`` (which differ between them), ASCII spaces only where a parser skips spaces.
"""

from __future__ import annotations

from collections.abc import Iterable

GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# The names operations are registered under (Dataverse's Custom API unique names: letters, digits, _).
OPERATION_NAME = "[A-Za-z0-9_]{1,128}"

# Times Table Storage can hold (the years 1601 to 9999), UTC with a Z; days to 28, so every month has them.
_YEAR = "(?:16(?:0[1-9]|[1-9][0-9])|1[7-9][0-9]{2}|[2-9][0-9]{3})"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
UTC_TIME = f"{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T{_TIME}Z"
# A JSON date-time field: ``format: date-time`` says the rest; this keeps its year where storage has one.
STORABLE_YEAR = f"^{_YEAR}-"


def anchored(pattern: str) -> str:
    """``pattern`` as the whole value."""
    return f"^(?:{pattern})$"


def _one_of(words: Iterable[str]) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


def select(columns: Iterable[str]) -> str:
    """``$select``: columns separated by commas, spaces around them allowed, empty items skipped."""
    column = _one_of(columns)
    return anchored(f" *(?:{column} *)?(?:, *(?:{column} *)?)*")


OPERATORS = ("eq", "ne", "ge", "le", "gt", "lt")
_INT32 = "-?[0-9]{1,9}"
# A string literal: in single quotes, a quote doubled; no control characters (the URL may not hold them).
STRING = "'(?:[^'\\u0000-\\u001f\\u007f-\\u009f]|'')*'"


def filter_expression(*, key: str, codes: tuple[str, str], name: str = "name", created: str = "createdon") -> str:
    """``$filter``: comparisons of the key (a GUID), the two codes (whole numbers), the name (a string) and
    the creation time (a UTC time), joined by ``and``. The parser also takes parentheses around them and
    the names in capitals; the document shows the plain form."""
    compare = f" +{_one_of(OPERATORS)} +"
    comparison = (f"(?:{key}{compare}(?:{GUID}|'{GUID}')|{_one_of(codes)}{compare}{_INT32}|{name}{compare}{STRING}"
                  f"|{created}{compare}{UTC_TIME})")
    return anchored(f" *(?:{comparison}(?: +and +{comparison})*)? *")


_PAGE_SIZE = "(?:0{0,3}[1-9]|0{0,2}[1-9][0-9]|0?[1-9][0-9]{2}|1000)"  # 1 to odata.MAX_PAGE_SIZE in 4 digits
SKIPTOKEN = anchored(f"(?:{GUID}(?::{_PAGE_SIZE})?)?")

# An https URL the app will call back: a host name (labels of letters, digits and hyphens, the first up to 63
# characters and up to six more of 20, 253 in all, and a top-level domain of letters other than localhost: so
# never an address literal), an optional port, and a path and query without spaces or escaped control
# characters. It takes other URLs too (the rules are in domain.callbacks); these it always takes.
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SHORT_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,18}[A-Za-z0-9])?"
_TOP_LEVEL = "(?![Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt](?![A-Za-z]))[A-Za-z]{2,63}"
_URL_CHARACTER = "(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%(?:[2-6][0-9A-Fa-f]|7[0-9A-Ea-e]))"
HTTPS_URL = anchored(f"https://{_LABEL}\\.(?:{_SHORT_LABEL}\\.){{0,6}}{_TOP_LEVEL}(?::[0-9]{{1,4}})?"
                     f"(?:[/?]{_URL_CHARACTER}{{0,1800}})?")

# RecurrencePattern (domain.recurrence): FREQ first, then the optional parts in this order, COUNT or UNTIL.
# BYHOUR and BYDAY only where each period holds every hour or day they name (every 5 hours at 2 o'clock, or
# every 7 days on Tuesdays, may never come: the parser takes those, and says when they never do).
_DAY = "(?:MO|TU|WE|TH|FR|SA|SU)"
_HOUR = "(?:[01]?[0-9]|2[0-3])"
_INTERVAL = "(?:;INTERVAL=(?:[1-9][0-9]{0,2}|1000))?"
_BY_HOUR = f"(?:;BYHOUR={_HOUR}(?:,{_HOUR}){{0,23}})?"
_UNTIL = "[2-9][0-9]{3}(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]Z"
RECURRENCE = anchored(f"FREQ=(?:(?:MINUTELY|HOURLY){_INTERVAL}|DAILY{_INTERVAL}{_BY_HOUR}"
                      f"|(?:WEEKLY|MONTHLY){_INTERVAL}(?:;BYDAY={_DAY}(?:,{_DAY}){{0,6}})?{_BY_HOUR})"
                      f"(?:;COUNT=(?:[1-9][0-9]{{0,4}}|100000)|;UNTIL={_UNTIL})?")

# A RequestName of ExecuteMultiple: anything but ExecuteMultiple itself (in any case), which cannot nest.
NOT_EXECUTE_MULTIPLE = "^(?![Ee][Xx][Ee][Cc][Uu][Tt][Ee][Mm][Uu][Ll][Tt][Ii][Pp][Ll][Ee]$)"
