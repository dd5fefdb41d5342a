"""OData's ``$batch`` body, ``multipart/mixed`` (OData 4.0 Part 1 §11.7.7, RFC 2046), read and written (pure).

A batch is a list of parts: each one request (``application/http``) or a change set (``multipart/mixed`` of
its own, holding requests that change something). The whole body is read, and refused with a message naming
the part, before any request in it runs, so that a malformed batch changes nothing. Line breaks are CRLF as
the format has them, or LF alone as hand-written bodies often do.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

from ..domain.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

MAX_REQUESTS = 1000  # as Dataverse: "Batch requests can contain up to 1000 individual requests"
MAX_BATCH_BYTES = 16 * 1024 * 1024
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_BOUNDARY = re.compile(r";\s*boundary=(?:\"([^\"]{1,70})\"|([^\s;,\"]{1,70}))", re.IGNORECASE)


@dataclass(frozen=True)
class InnerRequest:
    """One request of a batch, as written: its URL may be absolute, a path, relative to the service root, or
    start with a Content-ID reference (``$1``) inside a change set."""

    method: str
    url: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """Requests that change something, sent together (``multipart/mixed`` inside the batch)."""

    requests: tuple[InnerRequest, ...]


@dataclass(frozen=True)
class InnerResponse:
    """What one request of a batch answered."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    content_id: str | None = None

    def header(self, name: str) -> str | None:
        """A header's value (the name in any case), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def boundary_of(content_type: str, what: str = "The $batch request's Content-Type") -> str:
    """The boundary of a ``multipart/mixed`` Content-Type; UnsupportedMediaType for another type."""
    if content_type.split(";")[0].strip().lower() != "multipart/mixed":
        raise UnsupportedMediaType(f"{what} must be multipart/mixed with a boundary, as "
                                   "'multipart/mixed; boundary=batch_1' (JSON batches are not supported).")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise InvalidRequest(f"{what} has no boundary: send 'multipart/mixed; boundary=batch_1' and start each "
                             "part with --batch_1.")
    return match.group(1) or match.group(2)


def read_batch(content_type: str, body: bytes) -> list[InnerRequest | ChangeSet]:
    """The requests and change sets of a batch, in order; InvalidRequest (or 413, 415) naming what is wrong."""
    if len(body) > MAX_BATCH_BYTES:
        raise PayloadTooLarge(f"The batch is larger than {MAX_BATCH_BYTES // 1024 // 1024} MiB; send fewer requests.")
    boundary = boundary_of(content_type)
    try:
        text = body.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise UnsupportedMediaType("The batch is not UTF-8; send its requests and their JSON in UTF-8.") from None
    items: list[InnerRequest | ChangeSet] = []
    for n, part in enumerate(_parts(text, boundary, "The batch"), start=1):
        items.append(_item(part, f"part {n}"))
        if sum(len(i.requests) if isinstance(i, ChangeSet) else 1 for i in items) > MAX_REQUESTS:
            raise InvalidRequest(f"The batch holds more than {MAX_REQUESTS} requests; split it.")
    if not items:
        raise InvalidRequest("The batch holds no requests.")
    ids = [r.content_id for i in items if isinstance(i, ChangeSet) for r in i.requests if r.content_id]
    if repeated := sorted({i for i in ids if ids.count(i) > 1}):
        raise InvalidRequest(f"Content-ID {repeated[0][:32]} is given to more than one request; give each its own.")
    return items


def _parts(text: str, boundary: str, what: str) -> list[str]:
    """The body parts between ``--boundary`` lines, up to ``--boundary--`` (the preamble and epilogue dropped)."""
    delimiter = f"--{boundary}"
    parts: list[str] = []
    current: list[str] | None = None
    for line in text.split("\n"):
        stripped = line.rstrip(" \t")  # RFC 2046's transport padding
        if stripped in (delimiter, f"{delimiter}--"):
            if current is not None:
                parts.append("\n".join(current))
            if stripped != delimiter:
                return parts
            current = []
        elif current is not None:
            current.append(line)
    if current is None:
        raise InvalidRequest(f"{what} has no line '--{boundary[:70]}' starting a part: is the boundary in the "
                             "Content-Type the one the body uses?")
    raise InvalidRequest(f"{what} does not end with '--{boundary[:70]}--': was it cut short?")


def _headers(text: str, what: str, *, content: bool = True) -> tuple[dict[str, str], str]:
    """Header lines up to the first empty line, and what follows it (without ``content``, the text may end
    after its headers: a request without a body)."""
    lines = text.split("\n")
    headers: dict[str, str] = {}
    for n, line in enumerate(lines):
        if not line.strip(" \t"):
            return headers, "\n".join(lines[n + 1:])
        name, colon, value = line.partition(":")
        if not colon or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise InvalidRequest(f"The batch's {what}: the header line '{line[:64]}' cannot be read as 'Name: value'.")
        headers[name.lower()] = value.strip(" \t")
    if not content:
        return headers, ""
    raise InvalidRequest(f"The batch's {what} has no empty line after its headers.")


def _item(part: str, what: str) -> InnerRequest | ChangeSet:
    headers, content = _headers(part, what)
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/mixed":
        boundary = boundary_of(headers["content-type"], f"The batch's {what} (a change set): its Content-Type")
        parts = _parts(content, boundary, f"The batch's {what} (a change set)")
        requests = tuple(_request(p, f"{what}, request {n}", change_set=True) for n, p in enumerate(parts, start=1))
        if not requests:
            raise InvalidRequest(f"The batch's {what} is a change set with no requests.")
        return ChangeSet(requests)
    return _request(part, what, change_set=False)


def _request(part: str, what: str, *, change_set: bool) -> InnerRequest:
    headers, content = _headers(part, what)
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/http":
        nested = " (change sets cannot nest)" if change_set and kind == "multipart/mixed" else ""
        raise InvalidRequest(f"The batch's {what} has Content-Type '{kind[:64]}'{nested}: each part is one request, "
                             "'Content-Type: application/http', or a change set, 'multipart/mixed'.")
    if headers.get("content-transfer-encoding", "binary").lower() != "binary":
        raise InvalidRequest(f"The batch's {what}: Content-Transfer-Encoding must be binary.")
    request_line, _, rest = content.lstrip("\n").partition("\n")
    method, url = _request_line(request_line, what)
    if change_set and method == "GET":
        raise InvalidRequest(f"The batch's {what} is a GET inside a change set: a change set holds changes; send "
                             "the GET as a part of its own.")
    inner_headers, body = _headers(rest, f"{what} ({method} {url[:64]})", content=False)
    return InnerRequest(method, url, inner_headers, body.strip("\n").encode(), headers.get("content-id"))


def _request_line(line: str, what: str) -> tuple[str, str]:
    """``METHOD URL HTTP/1.1``: the URL is everything between, spaces and all (clients send query strings
    unencoded)."""
    words = line.strip(" \t").split(" ")
    if len(words) < 3 or not words[-1].upper().startswith("HTTP/"):
        raise InvalidRequest(f"The batch's {what} does not start with a request line such as "
                             f"'GET backgroundoperations HTTP/1.1': '{line[:64]}'.")
    method, url = words[0].upper(), " ".join(words[1:-1]).strip(" ")
    if method not in METHODS:
        raise InvalidRequest(f"The batch's {what}: the method must be one of {', '.join(METHODS)}, not "
                             f"'{words[0][:16]}'.")
    if url.split("?")[0].rstrip("/").rpartition("/")[2].lower() == "$batch":
        raise InvalidRequest(f"The batch's {what} is a $batch request: batches cannot nest.")
    return method, url


def write_batch(answers: list[InnerResponse | list[InnerResponse]]) -> tuple[str, bytes]:
    """The batch response: its Content-Type (with the boundary) and body; a list is a change set's answers."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    lines: list[str] = []
    for answer in answers:
        lines.append(f"--{boundary}")
        if isinstance(answer, list):
            change_set = f"changesetresponse_{uuid.uuid4()}"
            lines += [f"Content-Type: multipart/mixed; boundary={change_set}", ""]
            for inner in answer:
                lines += [f"--{change_set}", *_response_part(inner)]
            lines += [f"--{change_set}--", ""]
        else:
            lines += _response_part(answer)
    lines.append(f"--{boundary}--")
    return f"multipart/mixed; boundary={boundary}", ("\r\n".join(lines) + "\r\n").encode()


def _response_part(answer: InnerResponse) -> list[str]:
    try:
        reason = HTTPStatus(answer.status).phrase
    except ValueError:  # a status with no standard phrase
        reason = ""
    return ["Content-Type: application/http", "Content-Transfer-Encoding: binary",
            *([f"Content-ID: {answer.content_id}"] if answer.content_id else []), "",
            f"HTTP/1.1 {answer.status} {reason}".rstrip(), *(f"{k}: {v}" for k, v in answer.headers), "",
            answer.body.decode("utf-8", "replace")]
