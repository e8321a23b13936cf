"""Errors the API answers with; each carries its HTTP status and a message naming the problem."""
from __future__ import annotations


class ApiError(Exception):
    status_code = 400

    def __init__(self, detail: str, **extra: object):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, object]:
        return {"detail": self.detail, **self.extra}

    def headers(self) -> dict[str, str]:
        rev = self.extra.get("current_revision")
        return {"ETag": f'"{rev}"'} if rev is not None else {}


class Unauthorized(ApiError):
    status_code = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    """The task is not in a state that allows this write (lease expired, submitted, not yours)."""

    status_code = 409


class PreconditionFailed(ApiError):
    """If-Match names a revision that is no longer the latest."""

    status_code = 412


class PreconditionRequired(ApiError):
    status_code = 428


class Invalid(ApiError):
    status_code = 422
