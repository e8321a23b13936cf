"""Users and their API tokens (used by the API and by `partverse users`)."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annotation_ui.db import transaction

from annotation_ui.errors import Conflict, Forbidden, Invalid, NotFound
from annotation_ui.models import ROLES, ApiToken, User, utcnow
from annotation_ui.security import hash_token, new_token
from annotation_ui.services import audit, lookup


@transaction
def add_user(session: Session, name: str, role: str, actor: User | None = None) -> User:
    if role not in ROLES:
        raise Invalid(f"role={role!r} is not one of {ROLES}")
    user = User(name=name, role=role, created_at=utcnow())
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"user {name!r} already exists") from None
    audit.record(session, actor, "user.create", name=name, role=role)
    session.commit()
    return user


@transaction
def issue_token(session: Session, name: str, secret_key: str, label: str = "", actor: User | None = None) -> str:
    """A new token for user `name`; only its keyed hash is stored, the token itself is returned once."""
    return issue_token_row(session, name, secret_key, label, actor)[1]


def issue_token_row(session: Session, name: str, secret_key: str, label: str = "",
                    actor: User | None = None) -> tuple[int, str]:
    """Like `issue_token` inside the caller's transaction; returns (token id, token)."""
    user = lookup.user(session, name)
    token = new_token()
    row = ApiToken(user_id=user.id, token_hash=hash_token(token, secret_key), label=label, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.issue", user=name, label=label, token_id=row.id)
    session.commit()
    return row.id, token


def list_tokens(session: Session, actor: User, user_name: str | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (without secrets) with their owner's name: an admin sees everyone's, others their own."""
    query = select(ApiToken, User.name).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if actor.role != "admin":
        query = query.where(ApiToken.user_id == actor.id)
    if user_name is not None:
        query = query.where(User.name == user_name)
    return list(session.execute(query).tuples())


@transaction
def revoke_token(session: Session, token_id: int, actor: User | None) -> tuple[ApiToken, str]:
    """Revoke token `token_id` (an admin any token, anyone else only their own); audited.

    `actor=None` is the command line working on the database directly. The next request with the
    token gets 401 in every server process: tokens are checked against the database on each request.
    """
    found = session.execute(
        select(ApiToken, User.name).join(User, User.id == ApiToken.user_id).where(ApiToken.id == token_id)
    ).first()
    if found is None or (actor is not None and actor.role != "admin" and found[0].user_id != actor.id):
        if found is not None:
            raise Forbidden(f"token {token_id} belongs to {found[1]!r}; only an admin revokes other users' tokens")
        raise NotFound(f"token {token_id} does not exist")
    row, owner = found
    now = utcnow()
    done = session.execute(
        update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise Conflict(f"token {token_id} of {owner!r} was already revoked at {row.revoked_at}Z")
    audit.record(session, actor, "token.revoke", user=owner, token_id=token_id, label=row.label)
    session.commit()
    session.refresh(row)
    return row, owner
