"""Recomputing every lead's engagement and quality score in the background (PRODUCT A3/A4).

Asked for from Settings → Scoring after rules or source weights change, and by
`manage.py recompute_scores`. The work is the set-based rescore of contacts.scoring and the
set-based quality update of contacts.quality, run over id ranges of CHUNK leads, each range
in its own short transaction with the job's progress, so leads stay writable meanwhile, the
page shows how far it got, and a run whose worker died resumes after the last range done.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from contacts.models import Lead, ScoreRecompute
from contacts.scoring import leads_rescore
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace

CHUNK = 50_000
STALE_AFTER = timedelta(minutes=2)
Status = ScoreRecompute.Status


def score_recompute_request(
    *, workspace: Workspace, actor: User | None, reason: str = "", enqueue: bool = True
) -> ScoreRecompute:
    """Queue a recompute, unless one is already waiting (it will see today's rules anyway).

    A running one started from older rules, so a new request queues another behind it.
    """
    with transaction.atomic():
        waiting = (
            ScoreRecompute.objects.select_for_update()
            .filter(workspace=workspace, status=Status.QUEUED)
            .first()
        )
        if waiting is not None:
            return waiting
        job = ScoreRecompute.objects.create(
            workspace=workspace, requested_by=actor, reason=reason[:200]
        )
        audit_record(
            actor=actor,
            workspace=workspace,
            action="scoring.recompute",
            obj=job,
            object_repr="Recompute of every lead's scores",
            changes={"reason": job.reason},
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from contacts.tasks import score_recompute

    score_recompute.enqueue(job_id)


def score_recompute_latest(workspace: Workspace) -> ScoreRecompute | None:
    return ScoreRecompute.objects.filter(workspace=workspace).order_by("-created_at", "-pk").first()


def score_recompute_resume_stale(workspace: Workspace) -> int:
    """Queue again the workspace's runs whose worker stopped beating, and hand runs that have
    waited long without a task (those queued by a migration) to the worker; returns how many
    were running. A run enqueued twice runs once (_claim)."""
    cutoff = timezone.now() - STALE_AFTER
    waiting = ScoreRecompute.objects.filter(
        workspace=workspace, status=Status.QUEUED, started_at__isnull=True, created_at__lt=cutoff
    )
    for pk in waiting.values_list("pk", flat=True):
        transaction.on_commit(lambda pk=pk: _enqueue(pk))
    stale = list(
        ScoreRecompute.objects.filter(workspace=workspace, status=Status.RUNNING).filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
        )
    )
    for job in stale:
        updated = ScoreRecompute.objects.filter(
            pk=job.pk, status=Status.RUNNING, heartbeat_at=job.heartbeat_at
        ).update(status=Status.QUEUED)
        if updated:
            transaction.on_commit(lambda pk=job.pk: _enqueue(pk))
    return len(stale)


def _claim(job_id: int) -> ScoreRecompute | None:
    """Mark the job running if it waits (or its worker died); None if another has it."""
    now = timezone.now()
    cutoff = now - STALE_AFTER
    claimable = Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=cutoff)
    with transaction.atomic():
        job = ScoreRecompute.objects.select_for_update().filter(claimable, pk=job_id).first()
        if job is None:
            return None
        job.status = Status.RUNNING
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        if job.leads_total is None:
            job.leads_total = Lead.objects.filter(workspace_id=job.workspace_id).count()
        job.save()
    return job


def score_recompute_run(job_id: int) -> ScoreRecompute | None:
    """Run a queued recompute to its end; returns the job, or None if it was not to run."""
    job = _claim(job_id)
    if job is None:
        return None
    try:
        last = Lead.objects.filter(workspace_id=job.workspace_id).aggregate(last=Max("pk"))["last"]
        while last is not None and job.last_lead_id < last:
            job = _run_range(job, last)
    except Exception as error:
        ScoreRecompute.objects.filter(pk=job.pk).update(
            status=Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    job.status = Status.DONE
    job.finished_at = timezone.now()
    job.leads_done = job.leads_total or job.leads_done
    job.save(update_fields=["status", "finished_at", "leads_done"])
    return job


def _run_range(job: ScoreRecompute, last: int) -> ScoreRecompute:
    leads = Lead.objects.filter(workspace_id=job.workspace_id, pk__gt=job.last_lead_id)
    ids = leads.order_by("pk").values_list("pk", flat=True)
    high = ids[CHUNK - 1 : CHUNK].first() or last
    with transaction.atomic():
        # Lock the range first: the rescore's snapshot is taken when its statement starts, so
        # an activity committed while it waited on a row would be lost from that row's score.
        # Under READ COMMITTED the UPDATE, a statement of its own, sees what was committed.
        locked = leads.filter(pk__lte=high).select_for_update().values_list("pk", flat=True)
        done = len(locked)  # the range's leads, counted as they are locked
        changed = leads_rescore(workspace=job.workspace_id, id_range=(job.last_lead_id + 1, high))
        job.last_lead_id = high
        job.leads_done += done
        job.changed += changed
        job.heartbeat_at = timezone.now()
        job.save(
            update_fields=[
                "last_lead_id",
                "leads_done",
                "changed",
                "heartbeat_at",
            ]
        )
    return job
