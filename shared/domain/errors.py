"""The errors the domain and services raise; the HTTP layer maps each to a status code."""

from __future__ import annotations


class BackgroundOperationError(Exception):
    """Base of every error this app raises on purpose."""


class InvalidRequest(BackgroundOperationError):
    """The caller sent something we cannot accept; the message says what to fix."""


class PayloadTooLarge(InvalidRequest):
    """The request body is larger than an operation row can hold."""


class UnsupportedMediaType(InvalidRequest):
    """The request body is not in UTF-8, the one encoding the API reads; the message says so."""


class Unauthenticated(BackgroundOperationError):
    """App Service Authentication is on and the request has no signed-in principal."""


class Forbidden(BackgroundOperationError):
    """The caller is signed in but its role does not allow this; the message names the role it needs."""


class UnknownOperation(BackgroundOperationError):
    """No handler is registered under the requested name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No operation named '{name[:64]}' is registered.")
        self.name = name


class OperationNotFound(BackgroundOperationError):
    """No background operation row has this id (never created, or purged)."""

    def __init__(self, operation_id: str) -> None:
        super().__init__(f"Background operation {operation_id} was not found.")
        self.operation_id = operation_id


class SubscriptionNotFound(BackgroundOperationError):
    """No event subscription has this id (never created, or deleted)."""

    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"Subscription {subscription_id[:64]} was not found.")


class AttemptSuperseded(BackgroundOperationError):
    """An attempt that ran late finds its row moved on (another message or a later attempt owns it):
    what it has to say no longer counts."""


class ServiceBusy(BackgroundOperationError):
    """This instance runs as many operations inside requests as it allows; try again shortly."""


class ConcurrencyConflict(BackgroundOperationError):
    """The row changed since it was read (HTTP 412 from Table Storage); read it again."""


class IdempotencyKeyReused(BackgroundOperationError):
    """An Idempotency-Key was sent before with a different request (``domain.idempotency``): 422, naming the key."""


class IdempotencyKeyInUse(BackgroundOperationError):
    """The request that first sent an Idempotency-Key is still being processed: 409, with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PreconditionFailed(BackgroundOperationError):
    """The caller's If-Match ETag is not the row's any more: it changed since the caller read it."""

    def __init__(self, operation_id: str) -> None:
        super().__init__(f"Background operation {operation_id} changed since you read it (If-Match does not "
                         "match its ETag); read it again and decide again.")


class LimitReached(BackgroundOperationError):
    """Something the app keeps a bounded number of (subscriptions) is at its limit; the message names it."""


class NotFound(BackgroundOperationError):
    """What the request names does not exist (a table of EntityDefinitions, say); the message says what does."""


class MethodNotAllowed(BackgroundOperationError):
    """The resource exists but takes no such method (EntityDefinitions is read-only; a function is not POSTed):
    405, with Allow naming the methods it takes."""

    def __init__(self, message: str, allow: tuple[str, ...] = ("GET",)) -> None:
        super().__init__(message)
        self.allow = allow


class NotSupported(BackgroundOperationError):
    """A request OData defines but this service does not implement (a query option, an order): 501, as OData's
    minimal conformance asks, with a message naming what is implemented."""


class NotAcceptable(BackgroundOperationError):
    """The caller asked for a response format this service does not produce ($format other than JSON)."""


class StorageUnavailable(BackgroundOperationError):
    """Table or queue storage could not be reached or failed the request."""


class PerhapsWritten(StorageUnavailable):
    """Storage failed once the request had been sent (its answer was lost, or it timed out): the write
    may have been made all the same."""


class HandlerFailed(BackgroundOperationError):
    """A handler run inside the request failed; carries its error code and message.

    A 4xx, as Dataverse answers a plug-in's error: a caller's retry policy
    re-sends 5xx answers, which would repeat the handler's side effects."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OperationError(Exception):
    """Raise from a handler to fail this attempt with your own error code; it is retried."""

    retryable = True

    def __init__(self, message: str, *, code: int | None = None) -> None:
        from .error_codes import as_int32

        super().__init__(message)
        self.code = None if code is None else as_int32(code)


class NonRetryableError(OperationError):
    """Raise from a handler to fail the operation at once, with no retry."""

    retryable = False


class OperationInterrupted(Exception):
    """Raise from a handler to honour a cancel or pause request (``context.raise_if_interrupted``)."""
