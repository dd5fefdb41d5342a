"""What can go wrong, as typed exceptions: each says what to fix in one line (``str(error)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Status


class BgopsError(Exception):
    """Anything the client raises."""


class ConnectionFailed(BgopsError):
    """The app could not be reached (down, a wrong host or port, or the connection dropped)."""


class NotTheApp(BgopsError):
    """Something answered, but not as this app does: the base URL is probably not the app's."""


class Unauthorized(BgopsError):
    """401 or 403: a missing or wrong function key, or a sign-in the app does not accept."""


class RequestRefused(BgopsError):
    """The app refused the request (a 4xx): ``code`` and ``message`` are its error's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({status} {code})")
        self.status, self.code, self.message = status, code, message


class NotFound(RequestRefused):
    """404: no such operation (or it was purged), or no operation of that name."""


class ServiceError(BgopsError):
    """The app failed (a 5xx) and did not recover within the client's retries."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({status} {code})")
        self.status, self.code, self.message = status, code, message


class OperationFailed(BgopsError):
    """The operation ended Failed: ``error_code`` (the app's, as 0x8004...) and ``message``; ``status`` is its
    final status."""

    def __init__(self, status: Status) -> None:
        self.status = status
        self.error_code = status.error_code_hex
        self.message = status.error_message or "The operation failed."
        super().__init__(f"Operation {status.id} failed: {self.message} ({self.error_code})")


class OperationCanceled(OperationFailed):
    """The operation ended Canceled."""

    def __init__(self, status: Status) -> None:
        super().__init__(status)
        self.message = status.error_message or "The operation was canceled."
        self.args = (f"Operation {status.id} was canceled: {self.message}",)


class WaitTimedOut(BgopsError, TimeoutError):
    """The operation had not finished when the time given to wait for it was up."""
