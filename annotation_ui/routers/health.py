"""GET /health: the only endpoint without a token."""
from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from annotation_ui.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    """Liveness and database reachability."""
    session.execute(text("SELECT 1"))
    return {"status": "ok", "database": session.get_bind().dialect.name}
