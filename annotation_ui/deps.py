"""Request dependencies: settings, database session, the current user and role checks.

Routes take `SessionDep` and a role dependency (`AnyUser`, `Annotator`, `Reviewer`, `Admin`),
each an `Annotated[User, Depends(Roles(...))]`: authentication (401) and authorisation (403)
are decided here, once, never inside a handler.

FastAPI runs every plain `def` dependency in a worker thread of its own (a thread hop, which on a
busy machine waits for the scheduler each time), so the dependencies that do no I/O are `async def`
and run on the event loop; only the token lookup and the handler itself take a thread.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from annotation_ui import db
from annotation_ui.errors import Forbidden, PreconditionFailed, PreconditionRequired, Unauthorized
from annotation_ui.models import ApiToken, User
from annotation_ui.security import hash_token
from annotation_ui.settings import Settings
from annotation_ui.store import BlobStore

_bearer = HTTPBearer(auto_error=False, description="an API token from `partverse users token NAME`")


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> BlobStore:
    return request.app.state.store


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for the request; creating one does no I/O, closing one does only if a transaction is open."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        if session.in_transaction():
            import anyio
            import anyio.to_thread

            # a rollback (database I/O) off the event loop, on a thread outside the handlers' limit: a
            # session waiting for a handler thread while handlers wait for its pooled connection would
            # deadlock (FastAPI runs the exit of plain `def` dependencies the same way); shielded, so a
            # client that went away cannot leak the connection
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
        else:
            session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[BlobStore, Depends(get_store)]
SessionDep = Annotated[Session, Depends(get_session)]


_TOKEN_USER = (select(User.id, User.name, User.role, User.created_at).join(ApiToken, ApiToken.user_id == User.id)
               .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None)))


def current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing API token: send 'Authorization: Bearer <token>'")
    digest = hash_token(credentials.credentials, settings.secret_key)
    # checked against the database on every request (one indexed lookup), so a revoked token is
    # refused at once by every server process; no per-process cache can outlive a revocation
    # the connection goes back to the pool at once: held while the request waits for a handler thread,
    # it could exhaust the pool with requests that cannot run
    row = db.read_once(session, _TOKEN_USER, {"digest": digest})
    if row is None:
        raise Unauthorized("invalid or revoked API token")
    # a detached user: services end transactions freely without expiring (and reloading) it
    return User(id=row[0], name=row[1], role=row[2], created_at=row[3])


CurrentUser = Annotated[User, Depends(current_user)]


class Roles:
    """Dependency allowing only users whose role is in `roles`; the tests read `.roles`."""

    def __init__(self, *roles: str):
        self.roles = frozenset(roles)

    async def __call__(self, user: CurrentUser) -> User:
        if user.role not in self.roles:
            raise Forbidden(f"role {user.role!r} may not do this; allowed: {', '.join(sorted(self.roles))}")
        return user


AnyUser = Annotated[User, Depends(Roles("admin", "annotator", "reviewer"))]
Annotator = Annotated[User, Depends(Roles("admin", "annotator"))]
Reviewer = Annotated[User, Depends(Roles("admin", "reviewer"))]
Admin = Annotated[User, Depends(Roles("admin"))]


async def base_revision(
    if_match: Annotated[
        str | None, Header(description='the revision the write is based on, the ETag of GET /tasks/{id}: "3"')
    ] = None,
) -> int:
    if if_match is None:
        raise PreconditionRequired("If-Match header required: send the ETag (revision) your change is based on")
    value = if_match.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit() or len(value) > 12:
        raise PreconditionFailed(f"If-Match {if_match[:40]!r} is not a revision ETag like '\"3\"'")
    return int(value)


BaseRevision = Annotated[int, Depends(base_revision)]


TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="task id")]
