"""Errors a service raises for the caller to show; the API turns them into 4xx responses."""


class ServiceError(Exception):
    """A request the market refuses, with a message a person can act on."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **details):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InsufficientFunds(ServiceError):
    status_code = 402


class Conflict(ServiceError):
    status_code = 409


class PermissionDenied(ServiceError):
    status_code = 403


class Throttled(ServiceError):
    status_code = 429
