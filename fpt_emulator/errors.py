"""Errors the emulator answers with, shaped like FPT's api3 error payloads.

FPT reports application errors with HTTP 200 and a body
``{"exception": true, "message": ..., "error_code": N}``; the client turns that
into ``shotgun_api3.Fault`` (or ``AuthenticationFault`` for code 102).
"""

from __future__ import annotations

from typing import Any

#: Authentication failed (the client raises ``AuthenticationFault``).
ERR_AUTH = 102
#: A read/validation problem: unknown entity type or field, bad filter, bad request.
ERR_READ = 103
#: A create/update/delete ("CRUD") problem: bad value, missing entity, rollback.
ERR_CRUD = 104


class ApiError(Exception):
    """An error the emulator returns to the caller as an FPT exception payload."""

    def __init__(self, message: str, error_code: int = ERR_READ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    def payload(self) -> dict[str, Any]:
        """The JSON body FPT sends for this error."""
        return {"exception": True, "message": self.message, "error_code": self.error_code}


class AuthError(ApiError):
    """A failed authentication (error code 102)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ERR_AUTH)
