"""Errors the domain raises; the HTTP layer maps each to one status code and nothing else.

Pure Python on purpose: domain modules import these without importing any web framework.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "error"
    error: str | None = None
    """A machine-readable `error` for the body, where the contract names one (e.g.
    `no-capacity`); otherwise the status's generic code."""

    def __init__(
        self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class NotFound(DomainError):
    """Unknown id, or an id the caller may not see (the two are indistinguishable on purpose)."""

    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    """The caller's role or organisation may not do this."""

    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    """An illegal state change, or a duplicate."""

    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    """Well-formed input that names something that does not exist (e.g. an unknown provider)."""

    status_code = 422
    code = "validation_failed"
