"""Errors of the add-on core; operators turn them into `self.report({'ERROR'}, str(exc))`."""
from __future__ import annotations


class AnnotatorError(Exception):
    """Base class: the message is shown to the annotator as is."""


class LabelOpError(AnnotatorError):
    """A label operation cannot run on this input (e.g. merge with fewer than two segments)."""


class ServerError(AnnotatorError):
    """The server answered an error, or could not be reached. `status` is 0 when unreachable."""

    def __init__(self, message: str, status: int = 0, body: object = None):
        super().__init__(message)
        self.status = status
        self.body = body


class AuthError(ServerError):
    """401 / 403: the token in the preferences is missing, wrong, or lacks the annotator role."""


class StaleTaskError(ServerError):
    """412 (someone else wrote a newer revision) or 409 (the lease expired or the task is closed).
    Nothing was overwritten; the annotator reloads the task (their local edit stays in the draft)."""


class GlbError(AnnotatorError):
    """The task's mesh is not a GLB this add-on can read; the message names the problem."""
