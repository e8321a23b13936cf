"""Users and API tokens (admin), who-am-I, and token listing / revocation (anyone, their own)."""
from __future__ import annotations

from fastapi import APIRouter, Path
from sqlalchemy import select
from typing import Annotated

from annotation_ui.db import writing
from annotation_ui.deps import Admin, AnyUser, SessionDep, SettingsDep
from annotation_ui.models import User
from annotation_ui.schemas import Message, TokenCreate, TokenIssued, TokenPublic, UserCreate, UserPublic
from annotation_ui.services import accounts

router = APIRouter(tags=["users"])


@router.get("/users/me", response_model=UserPublic)
def me(user: AnyUser) -> User:
    return user


@router.get("/users", response_model=list[UserPublic])
def list_users(_: Admin, session: SessionDep) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


@router.post("/users", response_model=UserPublic, status_code=201, responses={409: {"model": Message}})
def create_user(admin: Admin, body: UserCreate, session: SessionDep) -> User:
    return accounts.add_user(session, body.name, body.role, actor=admin)


@router.post("/users/{name}/tokens", response_model=TokenIssued, status_code=201, responses={404: {"model": Message}})
def issue_token(admin: Admin, name: str, body: TokenCreate, session: SessionDep, settings: SettingsDep) -> TokenIssued:
    with writing(session):
        token_id, token = accounts.issue_token_row(session, name, settings.secret_key, body.label, actor=admin)
    return TokenIssued(id=token_id, user=name, token=token)


def _public(row, owner: str) -> TokenPublic:  # noqa: ANN001
    return TokenPublic(id=row.id, user=owner, label=row.label, created_at=row.created_at, revoked_at=row.revoked_at)


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(user: AnyUser, session: SessionDep) -> list[TokenPublic]:
    """API tokens (never their secret): an admin sees every user's, anyone else their own."""
    return [_public(row, owner) for row, owner in accounts.list_tokens(session, user)]


@router.delete("/tokens/{token_id}", response_model=TokenPublic,
               responses={403: {"model": Message}, 404: {"model": Message}, 409: {"model": Message}})
def revoke_token(user: AnyUser, token_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep) -> TokenPublic:
    """Revoke a token: an admin any token, anyone else their own. It is refused (401) from the next request on."""
    return _public(*accounts.revoke_token(session, token_id, user))
