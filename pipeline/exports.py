"""Background exports of many leads (PRODUCT I8), built by the one export service (L8).

A page starts a job when the set is too large to stream within a request; a task writes the
file under EXPORT_DIR/<workspace id>/<job id>.<format>, first to a ".part" name and renamed
once complete, so a download never sees half a file. The job keeps how to find the leads again
(a segment or a leads-list query string), and they are found at run time as the member who
asked would see them then.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from contacts import export
from contacts.models import Lead
from leadcrm.audit import audit_record
from leadcrm.models import Membership, User, Workspace
from leadcrm.permissions import member_can
from pipeline.filters import lead_list_filterset
from pipeline.models import ExportJob
from segments.models import Segment
from segments.rules import segment_leads

STALE_AFTER = timedelta(minutes=5)
PROGRESS_EVERY = 2000  # rows between progress saves: one chunk of leads_in_pk_chunks
LIST_STEM = "leads"  # the file name of a leads-list export, as when it streams
T = TypeVar("T")


class ExportFailed(Exception):
    """Why an export cannot be built, in words for the member who asked."""


# Starting -------------------------------------------------------------------------------------


def background_export_size(leads: QuerySet[Lead], *, asked: bool) -> str | None:
    """How many leads, as a message says it ("10,000+ leads"), when the export should run in
    the background; None when it should stream now.

    Counts at most EXPORT_BACKGROUND_ABOVE + 1 rows, so deciding never scans a whole workspace.
    """
    limit = settings.EXPORT_BACKGROUND_ABOVE
    count = leads.order_by()[: limit + 1].count()
    if count > limit:
        return f"{limit:,}+ leads"
    if asked:
        return f"{count:,} lead{'' if count == 1 else 's'}"
    return None


def export_started_message(size: str) -> str:
    return f"Your export of {size} is being prepared; it will appear here when ready."


@transaction.atomic
def export_job_start(
    *,
    workspace: Workspace,
    actor: User,
    fmt: str,
    scope: str,
    query: dict,
    columns: list[str],
) -> ExportJob:
    """Record the export and queue its task once the job is committed (the task gets its id)."""
    if fmt not in export.CONTENT_TYPES:
        raise ValidationError("Choose csv, xlsx or vcf.")
    if set(query) not in ({"segment"}, {"list"}):
        raise ValidationError("An export needs a segment or a leads-list query.")
    job = ExportJob(
        workspace=workspace,
        created_by=actor,
        fmt=fmt,
        scope=scope[:200],
        query=query,
        columns=columns if fmt != "vcf" else [],
    )
    job.full_clean()
    job.save()
    audit_record(
        actor=actor,
        workspace=workspace,
        action="export.start",
        obj=job,
        changes={"fmt": [None, fmt]},  # not the query: a search may hold personal data
    )
    from pipeline.tasks import export_run  # pipeline.tasks imports this module

    job_id = job.pk
    transaction.on_commit(lambda: export_run.enqueue(job_id))
    return job


# Finding the leads again ----------------------------------------------------------------------


def _asker(job: ExportJob) -> Membership:
    """The membership of whoever asked, if they may still export from this workspace."""
    membership = (
        Membership.objects.filter(workspace_id=job.workspace_id, user_id=job.created_by_id)
        .select_related("workspace", "user", "role")
        .first()
    )
    if membership is None or not member_can(membership, "leadcrm.export_leads"):
        raise ExportFailed("The member who asked for this export may no longer export leads.")
    return membership


def _segment_leads(job: ExportJob, membership: Membership) -> QuerySet[Lead]:
    if not member_can(membership, "leadcrm.view_segments"):
        raise ExportFailed("The member who asked for this export may no longer see segments.")
    segment = (
        Segment.objects.for_workspace(job.workspace_id).filter(pk=job.query["segment"]).first()
    )
    if segment is None:
        raise ExportFailed("The segment no longer exists.")
    return segment_leads(segment)


def _list_leads(job: ExportJob, membership: Membership) -> QuerySet[Lead]:
    """The list's leads; a filter that no longer applies fails the job rather than let the
    filter set ignore it and export more leads than were asked for."""
    data = QueryDict(job.query["list"])
    filterset = lead_list_filterset(data, membership=membership, user=membership.user)
    if dict(filterset.applied_params().lists()) != dict(data.lists()):
        raise ExportFailed(
            "A filter of this export no longer applies (a segment, tag, member or field it "
            "named is gone); start it again from the leads list."
        )
    return filterset.qs


def export_queryset(job: ExportJob) -> QuerySet[Lead]:
    """The job's leads now, in its workspace only, as the member who asked sees them."""
    membership = _asker(job)
    if "segment" in job.query:
        return _segment_leads(job, membership)
    if "list" in job.query:
        return _list_leads(job, membership)
    raise ExportFailed("This export does not say which leads to export.")


# Building the file ----------------------------------------------------------------------------


def _relative_path(job: ExportJob) -> str:
    return f"{job.workspace_id}/{job.pk}.{job.fmt}"


def export_path(job: ExportJob) -> Path:
    return Path(settings.EXPORT_DIR) / _relative_path(job)


def _partial_path(job: ExportJob) -> Path:
    final = export_path(job)
    return final.with_name(final.name + ".part")


def export_file_stem(job: ExportJob) -> str:
    """The download's name before the date: the segment's name, or "leads" for the list."""
    return job.scope if "segment" in job.query else LIST_STEM


def _counted(job: ExportJob, items: Iterable[T]) -> Iterator[T]:
    """The items, saving how many have gone to the file after every chunk (the progress bar)."""
    for done, item in enumerate(items, 1):
        job.rows_done = done
        yield item
        if done % PROGRESS_EVERY == 0:
            job.heartbeat_at = timezone.now()
            job.save(update_fields=["rows_done", "heartbeat_at"])


def _write_text(path: Path, chunks: Iterable[str]) -> None:
    # newline="": the writers end their lines with CRLF themselves.
    with path.open("w", encoding="utf-8", newline="") as file:
        file.writelines(chunks)


def _columns(job: ExportJob) -> list[export.ExportColumn]:
    try:
        return export.lead_columns(job.workspace_id, job.columns)
    except ValueError as error:
        raise ExportFailed("A column of this export no longer exists; start it again.") from error


def _write(job: ExportJob, leads: QuerySet[Lead], path: Path) -> None:
    """The file, through contacts.export's writers, the same as a streamed download."""
    if job.fmt == "vcf":
        _write_text(path, export.vcard_stream(_counted(job, export.leads_in_pk_chunks(leads))))
        return
    columns = _columns(job)
    rows = _counted(job, export.leads_export_rows(leads, columns))
    if job.fmt == "csv":
        _write_text(path, export.csv_stream(columns, rows))
    else:
        with path.open("wb") as file:
            export.xlsx_write(columns, rows, file)


def _fail(job: ExportJob, message: str) -> None:
    _partial_path(job).unlink(missing_ok=True)
    job.status, job.error, job.finished_at = ExportJob.Status.FAILED, message, timezone.now()
    job.save(update_fields=["status", "error", "finished_at", "rows_done"])


def _build(job: ExportJob) -> None:
    leads = export_queryset(job)
    job.rows_total = leads.order_by().count()  # in the worker: the page shows "n of total"
    job.save(update_fields=["rows_total"])
    partial = _partial_path(job)
    partial.parent.mkdir(parents=True, exist_ok=True)
    _write(job, leads, partial)
    partial.replace(export_path(job))


def _finish(job: ExportJob) -> None:
    job.status, job.finished_at = ExportJob.Status.DONE, timezone.now()
    job.file_path = _relative_path(job)
    job.file_size = export_path(job).stat().st_size
    job.rows_total = job.rows_done  # a join in the filters may have counted a lead twice
    job.save(
        update_fields=["status", "finished_at", "file_path", "file_size", "rows_done", "rows_total"]
    )


def export_job_run(job_id: int) -> None:
    """Build a queued job's file. Claiming QUEUED → RUNNING in one UPDATE means a task that
    runs twice builds the file once."""
    queued = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED)
    if not queued.update(status=ExportJob.Status.RUNNING, heartbeat_at=timezone.now()):
        return
    job = ExportJob.objects.get(pk=job_id)
    try:
        _build(job)
    except ExportFailed as error:
        _fail(job, str(error))
        return
    except Exception:
        _fail(job, "The export stopped on an unexpected error; start it again.")
        raise
    _finish(job)


def exports_resume_stale(workspace: Workspace | int, *, now: datetime | None = None) -> int:
    """Queue again the workspace's exports whose worker died (running with no heartbeat for
    STALE_AFTER) or whose task was lost (queued that long): a run builds the file from the
    start, and claiming QUEUED → RUNNING keeps two tasks from building it twice."""
    from pipeline.tasks import export_run

    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = ExportJob.objects.filter(workspace=workspace).filter(
        Q(status=ExportJob.Status.RUNNING, heartbeat_at__lt=cutoff)
        | Q(status=ExportJob.Status.QUEUED, created_at__lt=cutoff, heartbeat_at__isnull=True)
        | Q(status=ExportJob.Status.QUEUED, heartbeat_at__lt=cutoff)
    )
    job_ids = list(stale.values_list("pk", flat=True))
    for job_id in job_ids:
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.QUEUED, rows_done=0, heartbeat_at=timezone.now()
        )
        transaction.on_commit(lambda job_id=job_id: export_run.enqueue(job_id))
    return len(job_ids)


# Clean-up -------------------------------------------------------------------------------------


def export_jobs_purge(now: datetime | None = None) -> int:
    """Delete the exports older than EXPORT_KEEP_DAYS, their files first; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXPORT_KEEP_DAYS)
    old = ExportJob.objects.filter(created_at__lt=cutoff)
    for job in old.only("pk", "workspace_id", "fmt").iterator():
        export_path(job).unlink(missing_ok=True)
        _partial_path(job).unlink(missing_ok=True)  # a run that died midway
    deleted, _ = old.delete()
    return deleted
