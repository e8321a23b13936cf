"""Project statistics: counts by state, review rejections, per-annotator throughput and time per task."""
from __future__ import annotations

import statistics
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotation_ui.models import Review, Revision, Task, utcnow
from annotation_ui.schemas import AnnotatorStats, ProjectStats
from annotation_ui.services import lookup


def project_stats(session: Session, project_name: str) -> ProjectStats:
    project = lookup.project(session, project_name)
    now = utcnow()
    by_status = dict(session.execute(
        select(Task.status, func.count()).where(Task.project_id == project.id).group_by(Task.status)
    ).tuples().all())
    live = session.scalar(select(func.count()).where(
        Task.project_id == project.id, Task.status == "in_progress", Task.lease_expires_at >= now))
    rejected_objects = session.scalar(
        select(func.count()).select_from(Task).join(
            Revision, (Revision.task_id == Task.id) & (Revision.number == Task.accepted_revision))
        .where(Task.project_id == project.id, Task.status == "accepted", Revision.verdict == "rejected"))
    review_rejections = session.scalar(
        select(func.count()).select_from(Review).join(Task, Task.id == Review.task_id)
        .where(Task.project_id == project.id, Review.decision == "reject"))
    submits = session.execute(
        select(Revision.author_id, Revision.work_seconds, Revision.created_at, Task.status, Task.accepted_revision,
               Revision.number)
        .join(Task, Task.id == Revision.task_id).where(Task.project_id == project.id, Revision.kind == "submit")
    ).tuples().all()
    per: dict[int, list] = defaultdict(list)
    for row in submits:
        per[row[0]].append(row)
    names = lookup.user_names(session, set(per))
    annotators = [_annotator(names[uid], rows) for uid, rows in sorted(per.items(), key=lambda kv: names[kv[0]])]
    work = [r[1] for r in submits if r[1] is not None]
    return ProjectStats(
        project=project.name, total=sum(by_status.values()), queued=by_status.get("queued", 0)
        + by_status.get("in_progress", 0) - int(live or 0), in_progress=int(live or 0),
        submitted=by_status.get("submitted", 0), done=by_status.get("accepted", 0),
        rejected_objects=int(rejected_objects or 0), review_rejections=int(review_rejections or 0),
        median_seconds_per_task=statistics.median(work) if work else None, annotators=annotators,
    )


def _annotator(name: str, rows: list) -> AnnotatorStats:
    work = [r[1] for r in rows if r[1] is not None]
    accepted = sum(1 for r in rows if r[3] == "accepted" and r[4] == r[5])
    hours = sum(work) / 3600.0
    return AnnotatorStats(
        annotator=name, submitted=len(rows), accepted=accepted,
        tasks_per_hour=len(work) / hours if hours > 0 else None,
        median_seconds_per_task=statistics.median(work) if work else None,
    )
