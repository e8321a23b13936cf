"""Database tables of the annotation server (SQLAlchemy 2 declarative).

Revisions and audit events are append-only: rows are inserted, never updated or deleted. A task's
`revision` column names its latest revision number and is the optimistic-concurrency guard: every
write is `UPDATE task ... WHERE id = ? AND revision = ?` (see services/revisions.py).
Times are naive UTC (`utcnow()`), the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy import UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("admin", "annotator", "reviewer")
# queued: claimable; in_progress: leased (or lease expired, claimable again); submitted: awaiting review;
# accepted: final. A review rejection sends the task back to queued.
TASK_STATUSES = ("queued", "in_progress", "submitted", "accepted")
REVISION_KINDS = ("initial", "draft", "submit", "merge", "split", "rename", "reject")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("project_id", "uid", name="uq_tasks_project_uid"),
        Index("ix_tasks_queue_order", "project_id", "status", text("priority DESC"), "id"),
        Index("ix_tasks_lease_owner", "lease_owner_id"),
        Index("ix_tasks_assignee", "assignee_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    uid: Mapped[str] = mapped_column(String(128))
    mesh_sha256: Mapped[str] = mapped_column(String(64))
    num_faces: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    lease_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    lease_claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    accepted_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("task_id", "number", name="uq_revisions_task_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    # labels_delta False: zstd of the (F,) int32 little-endian labels (a snapshot).
    # labels_delta True: zstd of (2k,) int32, k changed face indices then their labels, relative to
    # revision number - 1. `snapshot_number` is the snapshot this revision's chain starts from
    # (its own number for a snapshot), so reading any revision is one range query of bounded length.
    face_labels_zstd: Mapped[bytes] = mapped_column(LargeBinary)
    labels_delta: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_number: Mapped[int] = mapped_column(Integer)
    part_names: Mapped[dict] = mapped_column(JSON, default=dict)  # {"segment id": "name"}
    verdict: Mapped[str] = mapped_column(String(16), default="ok")  # "ok" | "rejected" (unsuitable object)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    work_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # submit: claim -> submit
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Review(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))  # "accept" | "reject"
    comment: Mapped[str] = mapped_column(Text, default="")
    reassigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True, index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), nullable=True, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
