"""Entity group transactions, written and read without azure-core's multipart machinery.

The write that ends every attempt is one entity group transaction (the row, its expiry marker and its finish
marker: ``table_store``). Through ``TableClient.submit_transaction`` it cost 6.0 ms of CPU against 1.3 ms for a
plain merge (``bench/README.md``, section 10): azure-core builds the multipart body with the ``email``
package's generator and reads the answer with its parser. This module sends the same request, byte for byte
(``tests/integration/test_entity_batch.py`` compares the two), built as text, through the table client's own
pipeline (its credential, retries, headers and this app's metering and tracing policies), and reads the answer
with a few regular expressions. A failed part raises ``TableTransactionError`` with the part's status and error
code, as the SDK does, so that ``table_store.translated`` reads it the same way.

It uses two things the SDK does not document: the generated client behind ``TableClient`` (``_client``, whose
``send_request`` the SDK's own transactions use) and its entity serializer (``_add_entity_properties``). The
tests fail if either changes; ``make deps-check`` runs them against the newest SDK too.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.data.tables import TableClient, TableTransactionError, UpdateMode
from azure.data.tables._serialize import _add_entity_properties

_PART = re.compile(r"^HTTP/1\.1 (\d{3})[^\r\n]*\r?\n((?:[^\r\n]+\r?\n)*)\r?\n", re.M)
_ETAG = re.compile(r"^ETag:[ \t]*(\S[^\r\n]*)", re.I | re.M)


def submit_transaction(table: TableClient, actions: Sequence[tuple[Any, ...]]) -> list[dict[str, str]]:
    """What ``table.submit_transaction(actions)`` does, for the actions this app sends: ``("create", entity)``,
    ``("upsert", entity[, {"mode": ...}])``, ``("update", entity[, {"mode": ..., "etag": ...,
    "match_condition": ...}])`` and ``("delete", entity[, {"etag": ..., "match_condition": ...}])``. Returns
    each part's ``{"etag": ...}``."""
    base, date = table.url.split("?", 1)[0], formatdate(usegmt=True)
    changeset, batch = f"changeset_{uuid.uuid4()}", f"batch_{uuid.uuid4()}"
    parts = "".join(f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                    f"Content-ID: {index}\r\n\r\n{_part(base, table.table_name, table.api_version, date, action)}\r\n"
                    for index, action in enumerate(actions))
    body = (f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n{parts}--{changeset}--\r\n"
            f"\r\n--{batch}--\r\n").encode()
    request = HttpRequest("POST", f"{base}/$batch", content=body, headers={
        "x-ms-version": table.api_version, "DataServiceVersion": "3.0", "MaxDataServiceVersion": "3.0;NetFx",
        "Content-Type": f"multipart/mixed; boundary={batch}", "Accept": "application/json"})
    # the SDK's own route for its transactions; streamed, so that no policy tries to decode a multipart body
    response = table._client.send_request(request, stream=True)
    response.read()
    if response.status_code != 202:  # the transaction as a whole: the table is missing, the body too large...
        error_type = {404: ResourceNotFoundError, 413: TableTransactionError}.get(response.status_code,
                                                                                   HttpResponseError)
        raise error_type(response=response)
    return _answers(response.text(), response)


def _part(base: str, table_name: str, version: str, date: str, action: tuple[Any, ...]) -> str:
    """One operation of the changeset: its request line, headers and JSON body."""
    kind, entity = action[0], action[1]
    options: Mapping[str, Any] = action[2] if len(action) > 2 else {}
    table = f"{base}/{quote(table_name, safe='')}"
    address = f"{table}(PartitionKey='{_key(entity['PartitionKey'])}',RowKey='{_key(entity['RowKey'])}')"
    accept, if_match = "application/json", None
    conditional = options.get("etag") if options.get("match_condition") is MatchConditions.IfNotModified else "*"
    if kind == "create":
        method, address, accept = "POST", table, "application/json;odata=minimalmetadata"
    elif kind == "delete":
        method, if_match, accept = "DELETE", conditional, "application/json;odata=minimalmetadata"
    else:
        method = "PUT" if options.get("mode", UpdateMode.MERGE) is UpdateMode.REPLACE else "PATCH"
        if kind == "update":
            if_match = conditional
    content = "" if kind == "delete" else json.dumps(_add_entity_properties(entity))
    headers = ([] if kind == "delete" else ["Content-Type: application/json",
                                            f"Content-Length: {len(content.encode('utf-8'))}"])
    headers += [f"x-ms-version: {version}", "DataServiceVersion: 3.0", f"Accept: {accept}"]
    headers += [f"If-Match: {if_match}"] if if_match else []
    headers += [f"x-ms-date: {date}", f"Date: {date}"]  # as the SDK's header policy stamps each part
    return f"{method} {address} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in headers) + f"\r\n{content}"


def _key(value: str) -> str:
    """A PartitionKey or RowKey as it goes in an address: a quote doubled, then percent-encoded."""
    return quote(value.replace("'", "''"), safe="")


def _answers(text: str, response: Any) -> list[dict[str, str]]:
    """Each part's ETag; a part that failed is raised as the SDK raises it (its status and error code)."""
    answers = []
    for part in _PART.finditer(text):
        status, headers = int(part.group(1)), part.group(2)
        if not 200 <= status < 300:
            raise _failed(status, text[part.end():], response)
        etag = _ETAG.search(headers)
        answers.append({"etag": etag.group(1).strip() if etag else ""})
    if not answers:
        raise HttpResponseError(message="Table storage answered an entity group transaction with no parts.",
                                response=response)
    return answers


def _failed(status: int, rest: str, response: Any) -> TableTransactionError:
    """The error of a failed part, from its OData error body (``{"odata.error": {"code", "message"}}``)."""
    code, message = "", f"An operation of the transaction failed ({status})."
    match = re.search(r"\{.*\}", rest.split("\r\n--", 1)[0], re.S)
    try:
        error = json.loads(match.group(0))["odata.error"] if match else {}
        code, message = error.get("code", code), error.get("message", {}).get("value", message)
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    failure = TableTransactionError(message=f"{message}\nErrorCode:{code}", response=response)
    failure.status_code = status
    failure.error_code = code  # type: ignore[attr-defined]  # read by table_store._error_code, as the SDK's is
    return failure
