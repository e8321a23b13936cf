"""GET /api/v1/projects/{name}/dashboard (reviewer): the project statistics of issue 5, plus each
annotator's review rejection rate and the per-face agreement of tasks labelled by two annotators."""
from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from annotation_ui.deps import Reviewer, SessionDep
from annotation_ui.models import Review, Revision, Task
from annotation_ui.schemas import Message, ProjectStats
from annotation_ui.services import content, lookup, stats
from annotation_ui.services.agreement import face_agreement

router = APIRouter(tags=["dashboard"])


class ReviewerView(BaseModel):
    annotator: str
    reviewed: int
    rejected: int
    rejection_rate: float | None


class TaskAgreement(BaseModel):
    task_id: int
    uid: str
    annotators: list[str]
    agreement: float
    parts: list[int]


class Dashboard(BaseModel):
    stats: ProjectStats
    rejection: list[ReviewerView]
    agreement: list[TaskAgreement]
    mean_agreement: float | None


@router.get("/projects/{name}/dashboard", response_model=Dashboard, responses={404: {"model": Message}})
def dashboard(_: Reviewer, name: str, session: SessionDep) -> Dashboard:
    project = lookup.project(session, name)
    agreement = _agreement(session, project.id)
    return Dashboard(stats=stats.project_stats(session, name), rejection=_rejection(session, project.id),
                     agreement=agreement,
                     mean_agreement=sum(a.agreement for a in agreement) / len(agreement) if agreement else None)


def _rejection(session, project_id: int) -> list[ReviewerView]:  # noqa: ANN001
    """Reviews of each annotator's submissions and how many were rejected."""
    rows = session.execute(
        select(Revision.author_id, Review.decision).select_from(Review)
        .join(Task, Task.id == Review.task_id)
        .join(Revision, (Revision.task_id == Review.task_id) & (Revision.number == Review.revision))
        .where(Task.project_id == project_id)).tuples().all()
    per: dict[int, list[str]] = defaultdict(list)
    for author, decision in rows:
        per[author].append(decision)
    names = lookup.user_names(session, set(per))
    out = []
    for author, decisions in per.items():
        rejected = decisions.count("reject")
        out.append(ReviewerView(annotator=names[author], reviewed=len(decisions), rejected=rejected,
                                rejection_rate=rejected / len(decisions)))
    return sorted(out, key=lambda r: r.annotator)


def _agreement(session, project_id: int) -> list[TaskAgreement]:  # noqa: ANN001
    """Tasks submitted by two or more annotators: the latest submissions of the last two, compared."""
    rows = session.execute(
        select(Task.id, Task.uid, Task.num_faces, Revision.author_id, Revision.number)
        .join(Revision, Revision.task_id == Task.id)
        .where(Task.project_id == project_id, Revision.kind == "submit").order_by(Task.id, Revision.number)
    ).tuples().all()
    latest: dict[int, dict[int, tuple]] = defaultdict(dict)  # task -> author -> row (later overwrite earlier)
    for row in rows:
        latest[row[0]][row[3]] = row
    names = lookup.user_names(session, {r[3] for r in rows})
    out = []
    for task_id, by_author in latest.items():
        if len(by_author) < 2:
            continue
        first, second = sorted(by_author.values(), key=lambda r: r[4])[-2:]
        a, b = (content.load(session, task_id, r[4], r[2]).labels for r in (first, second))
        result = face_agreement(a, b)
        out.append(TaskAgreement(task_id=task_id, uid=first[1], annotators=[names[first[3]], names[second[3]]],
                                 agreement=result["agreement"], parts=[result["parts_a"], result["parts_b"]]))
    return out
