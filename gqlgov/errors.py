"""The one error type of the API: a stable code, a message and optional details.

Every non-2xx answer on /api/ has the shape
``{"error": {"code": "...", "message": "...", "details": {...}}}``.
"""

from typing import Any


class ApiError(Exception):
    """An error the API reports to its caller; `status` is the HTTP status."""

    status = 400

    def __init__(self, code: str, message: str, *, status: int | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def first_line(error: BaseException) -> str:
    """An expected failure (the database or Redis away) as one log line: its message's first line."""
    return next(iter(str(error).strip().splitlines()), type(error).__name__)


class NotFound(ApiError):
    status = 404

    def __init__(self, what: str = "resource") -> None:
        super().__init__("NOT_FOUND", f"No such {what}.")


class PermissionDenied(ApiError):
    status = 403

    def __init__(self, message: str = "You may not do this.") -> None:
        super().__init__("PERMISSION_DENIED", message)
