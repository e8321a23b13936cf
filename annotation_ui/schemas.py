"""Request and response bodies of the /api/v1 API (pydantic), one family per entity."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]

Role = Literal["admin", "annotator", "reviewer"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_serializer("*", when_used="json", check_fields=False)
    def _utc(self, value: object) -> object:  # naive UTC in the database -> explicit "Z" on the wire
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return value


class PackedLabels(BaseModel):
    """A (count,) int32 array: little-endian bytes, zstd-compressed, base64-encoded."""

    encoding: Literal["zstd+int32le"] = "zstd+int32le"
    count: int = Field(ge=0, le=50_000_000)
    data: str = Field(max_length=64 * 1024 * 1024)


class Message(BaseModel):
    detail: str


class Conflict(BaseModel):
    detail: str
    current_revision: int | None = None
    status: str | None = None


# users and tokens
class UserCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    role: Role


class UserPublic(_Out):
    id: int
    name: str
    role: str
    created_at: dt.datetime


class TokenCreate(BaseModel):
    label: str = Field("", max_length=64)


class TokenIssued(BaseModel):
    id: int = Field(description="the token's id, for DELETE /api/v1/tokens/{id}")
    user: str
    token: str = Field(description="shown once; the server keeps only a keyed hash")


class TokenPublic(_Out):
    id: int
    user: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


# projects
class ProjectCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field("", max_length=2000)


class ProjectPublic(_Out):
    id: int
    name: str
    description: str
    created_at: dt.datetime


class TaskCreate(BaseModel):
    uid: str = Field(min_length=1, max_length=128)
    mesh_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="a blob already uploaded to /api/v1/blobs")
    labels: PackedLabels
    part_names: dict[str, str] = Field(default_factory=dict)
    priority: int = Field(0, ge=-1_000_000, le=1_000_000)


class TasksCreate(BaseModel):
    tasks: list[TaskCreate] = Field(min_length=1, max_length=1000)


class TasksCreated(BaseModel):
    created: list[int]
    skipped: list[str] = Field(description="uids already in the project (left unchanged)")


# tasks
class LeasePublic(_Out):
    owner: str
    claimed_at: dt.datetime
    expires_at: dt.datetime


class TaskSummary(_Out):
    id: int
    project: str
    uid: str
    status: str
    priority: int
    revision: int
    num_faces: int
    assignee: str | None = None
    lease_owner: str | None = None
    lease_expires_at: dt.datetime | None = None
    updated_at: dt.datetime


class TaskList(BaseModel):
    items: list[TaskSummary]
    total: int


class TaskDetail(TaskSummary):
    mesh_sha256: str
    mesh_url: str
    labels: PackedLabels
    part_names: dict[str, str]
    verdict: str
    reason: str | None
    revision_kind: str
    revision_author: str
    lease: LeasePublic | None = None


class RevisionPublic(_Out):
    number: int
    kind: str
    verdict: str
    reason: str | None
    author: str
    created_at: dt.datetime


class RevisionDetail(RevisionPublic):
    labels: PackedLabels
    part_names: dict[str, str]


class ClaimResult(BaseModel):
    task: TaskDetail
    lease: LeasePublic


class DraftIn(BaseModel):
    """A full save. `verdict` "ok" withdraws an earlier reject; omitted, the verdict is kept."""

    labels: PackedLabels
    part_names: dict[str, str] = Field(default_factory=dict)
    verdict: Literal["ok", "rejected"] | None = None
    reason: str | None = Field(None, max_length=2000)


class SubmitIn(BaseModel):
    """Submit the latest revision as it is, or with these labels and names."""

    labels: PackedLabels | None = None
    part_names: dict[str, str] | None = None


class MergeIn(BaseModel):
    segments: list[Int32] = Field(min_length=2, max_length=100_000)


class SplitIn(BaseModel):
    faces: list[Int32] = Field(min_length=1, max_length=5_000_000)
    name: str | None = Field(None, max_length=200)


class RenameIn(BaseModel):
    segment: int = Field(ge=0, le=2**31 - 1)
    name: str = Field(min_length=1, max_length=200)


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ReviewIn(BaseModel):
    decision: Literal["accept", "reject"]
    comment: str = Field("", max_length=4000)
    reassign_to: str | None = Field(
        None, description="on reject: the annotator who gets the task back (default: its last author)"
    )


class ReviewPublic(_Out):
    id: int
    task_id: int
    revision: int
    decision: str
    comment: str
    reviewer: str
    reassigned_to: str | None
    created_at: dt.datetime


class AnnotationOut(_Out):
    uid: str
    task_id: int
    status: Literal["accepted", "rejected"]
    reason: str | None
    author: str
    revision: int
    updated_at: dt.datetime
    labels: PackedLabels
    part_names: dict[str, str]


class AnnotationPage(BaseModel):
    items: list[AnnotationOut]
    next_after_id: int | None


class AnnotatorStats(BaseModel):
    annotator: str
    submitted: int
    accepted: int
    tasks_per_hour: float | None
    median_seconds_per_task: float | None


class ProjectStats(BaseModel):
    project: str
    total: int
    queued: int
    in_progress: int
    submitted: int
    done: int
    rejected_objects: int = Field(description="accepted tasks whose verdict is 'rejected' (unsuitable object)")
    review_rejections: int
    median_seconds_per_task: float | None
    annotators: list[AnnotatorStats]


class AuditPublic(_Out):
    id: int
    at: dt.datetime
    actor: str | None
    action: str
    project_id: int | None
    task_id: int | None
    detail: dict


class BlobStored(BaseModel):
    sha256: str
    size: int
