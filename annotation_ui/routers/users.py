"""Users and API tokens (admin), and who-am-I (anyone)."""
from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from annotation_ui.deps import Admin, AnyUser, SessionDep, SettingsDep
from annotation_ui.models import User
from annotation_ui.schemas import Message, TokenCreate, TokenIssued, UserCreate, UserPublic
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
    token = accounts.issue_token(session, name, settings.secret_key, body.label, actor=admin)
    return TokenIssued(user=name, token=token)
