"""The spans of an operation's trace, on the OpenTelemetry API (a no-op until ``setup`` starts an SDK).

* ``submit <name>`` (producer): where the operation entered, under the host's invocation span (in Azure,
  a child of the caller's ``traceparent``), or the caller's header, or a new trace. Its position is recorded on
  the row (``Operation.traceparent``), so that everything later joins this trace however it is reached.
* ``run <name>`` (consumer): each attempt, a child of the submit, linked to the queue invocation that ran it
  (the host starts a new trace for each queue message: it carries no context across the queue).
* ``callback`` (client): each callback POST, which carries ``traceparent`` too, so that a receiver joins the trace.

With no SDK configured, nothing is recorded, but the row still gets a position in the caller's trace (or a new
one): the ids travel on in callbacks and log lines all the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from ..domain.attempts import Outcome
from ..domain.operation import Operation
from ..domain.tracecontext import TraceParent, child_of, parse

tracer = trace.get_tracer("bgops")
PREFIX = "bgops."  # the app's own attributes (OpenTelemetry's where a convention has one)


@dataclass(frozen=True)
class Started:
    """A span begun, and its position in the trace (what the row or an outbound request records)."""

    span: Span
    position: TraceParent

    def set(self, attributes: Mapping[str, Any]) -> None:
        """Set ``bgops.<name>`` attributes (None values left out)."""
        self.span.set_attributes({PREFIX + k: v for k, v in attributes.items() if v is not None})

    def failed(self, description: str) -> None:
        self.span.set_status(Status(StatusCode.ERROR, description))


def span_context(position: TraceParent) -> SpanContext:
    return SpanContext(int(position.trace_id, 16), int(position.span_id, 16), is_remote=True,
                       trace_flags=TraceFlags(position.flags))


def _position(span: Span, parent: TraceParent | None) -> TraceParent:
    found = span.get_span_context()
    if span.is_recording() and found.is_valid:
        return TraceParent(format(found.trace_id, "032x"), format(found.span_id, "016x"), int(found.trace_flags))
    return child_of(parent)


@contextmanager
def started(name: str, parent: TraceParent | None, *, kind: SpanKind = SpanKind.INTERNAL,
            links: Sequence[TraceParent | None] = (), attributes: Mapping[str, Any] | None = None) -> Iterator[Started]:
    """A span under ``parent`` (None: the root of a new trace), current while the block runs; an exception
    leaving the block is recorded on it."""
    context = trace.set_span_in_context(NonRecordingSpan(span_context(parent))) if parent is not None \
        else otel_context.Context()
    linked = [Link(span_context(link)) for link in links if link is not None]
    with tracer.start_as_current_span(name, context=context, kind=kind, links=linked) as span:
        begun = Started(span, _position(span, parent))
        begun.set(attributes or {})
        yield begun


def operation_attributes(op: Operation, attempt: int | None = None) -> dict[str, Any]:
    return {"operation.id": op.id, "operation.name": op.name, "attempt": attempt}


def current_parent() -> TraceParent | None:
    """The position of the current span (the request's, in an HTTP function: ``in_trace``), if there is one."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return TraceParent(format(found.trace_id, "032x"), format(found.span_id, "016x"), int(found.trace_flags))


@contextmanager
def in_trace(parent: TraceParent | None) -> Iterator[None]:
    """Run the block with ``parent`` as its current span (what ``current_parent`` finds): an HTTP function's
    invocation, in the thread that serves it."""
    if parent is None:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(span_context(parent))))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def submitting() -> Iterator[Started]:
    """An operation's submit, under the current request: name it (``submitted``) once its row is made."""
    with started("submit", current_parent(), kind=SpanKind.PRODUCER) as begun:
        yield begun


def submitted(begun: Started, op: Operation) -> None:
    begun.span.update_name(f"submit {op.name}")
    begun.set(operation_attributes(op))


@contextmanager
def attempting(op: Operation, attempt: int, invocation: str, message_id: str) -> Iterator[Started]:
    """An attempt at ``op``, in its trace, linked to the queue invocation that runs it."""
    with started(f"run {op.name}", parse(op.traceparent), kind=SpanKind.CONSUMER, links=[parse(invocation)],
                 attributes=operation_attributes(op, attempt)) as begun:
        begun.span.set_attributes({"messaging.operation.type": "process", "messaging.message.id": message_id})
        yield begun


@contextmanager
def steering(op: Operation, event: str) -> Iterator[Started]:
    """A caller's change to ``op`` (cancel, pause, resume, postpone), in its trace, linked to the request's."""
    with started(f"{event} {op.name}", parse(op.traceparent), links=[current_parent()],
                 attributes=operation_attributes(op)) as begun:
        yield begun


@contextmanager
def poisoned(op: Operation) -> Iterator[Started]:
    """The poison queue's handling of ``op``: failed once its message was tried as often as it may be."""
    with started(f"poisoned {op.name}", parse(op.traceparent), kind=SpanKind.CONSUMER,
                 attributes=operation_attributes(op)) as begun:
        yield begun


@contextmanager
def purging(invocation: str) -> Iterator[Started]:
    """A run of the purge, under the timer's invocation span (the host starts a trace for each)."""
    with started("purge", parse(invocation)) as begun:
        yield begun


def ran(begun: Started, outcome: Outcome) -> None:
    """How an attempt ended, on its span: failures (those that will be retried too) are errors."""
    begun.set({"outcome": outcome.ending.value, "error.code": outcome.errorcode})
    if outcome.errormessage:
        begun.failed(outcome.errormessage)


@contextmanager
def calling_back(op: Operation, attempt: int) -> Iterator[Started]:
    """A callback POST of ``op``: under the current span (the attempt that ended it) or its submit."""
    parent = current_parent() or parse(op.traceparent)
    with started("callback", parent, kind=SpanKind.CLIENT,
                 attributes={**operation_attributes(op), "callback.attempt": attempt}) as begun:
        yield begun


def invocation_parent(trace_context: Any, headers: Mapping[str, str] | None = None) -> TraceParent | None:
    """Where a function's invocation sits: the host's ``context.trace_context`` (in Azure, its own span, a child
    of the caller's ``traceparent``), else the request's ``traceparent`` header; None if neither is valid."""
    found = parse(getattr(trace_context, "trace_parent", None) or None)
    if found is None and headers is not None:
        found = parse(headers.get("traceparent"))
    return found


@contextmanager
def sending_event(trace: str, operation_id: str, subscription_id: str, attempt: int) -> Iterator[Started]:
    """A completion event's POST to one subscriber, in its operation's trace (``trace``: its traceparent)."""
    with started("event", parse(trace), kind=SpanKind.CLIENT,
                 attributes={"operation.id": operation_id, "subscription.id": subscription_id,
                             "event.attempt": attempt}) as begun:
        yield begun


def delivered(begun: Started, ok: bool, detail: str) -> None:
    """How a POST ended, on its span (a status code or an error type, never the URL)."""
    begun.set({"delivery.result": detail})
    if not ok:
        begun.failed(detail)


def invocation_of(context: Any) -> str:
    """A function's ``context.trace_context.trace_parent`` (the host's invocation span), or ""."""
    return str(getattr(getattr(context, "trace_context", None), "trace_parent", "") or "")


def outbound_headers(fallback: str) -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) for a request the app sends: the current span's, when one is
    recording; else a new position under ``fallback`` (an operation's recorded traceparent)."""
    current = trace.get_current_span()
    if current.is_recording() and current.get_span_context().is_valid:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier
    parent = parse(fallback)
    return {"traceparent": child_of(parent).header} if parent is not None else {}
