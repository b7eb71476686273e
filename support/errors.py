"""One error type for domain rules, mapped to HTTP by one handler in api/."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; `message` is meant for a person, `code` for machines."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class NotFoundInScope(DomainError):
    status = 404
    code = "not_found"


class ServiceUnavailable(DomainError):
    """Something the request needs (the task queue, say) cannot be reached right now; nothing was lost."""

    status = 503
    code = "unavailable"
