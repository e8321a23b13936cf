"""Users and their API tokens (used by the API and by `partverse users`)."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annotation_ui.db import transaction

from annotation_ui.errors import Conflict, Invalid
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
    user = lookup.user(session, name)
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token, secret_key), label=label, created_at=utcnow()))
    audit.record(session, actor, "token.issue", user=name, label=label)
    session.commit()
    return token
