"""Pipeline → Exports: the background exports (PRODUCT I8), their progress and their files."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from contacts.export import CONTENT_TYPES, export_disposition
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import member_can, require_perm
from leadcrm.views import get_scoped_or_404
from pipeline.exports import (
    background_export_size,
    export_file_stem,
    export_job_start,
    export_started_message,
    exports_resume_stale,
)
from pipeline.models import ExportJob

EXPORTS_PAGE_SIZE = 25
IN_PROGRESS = {ExportJob.Status.QUEUED, ExportJob.Status.RUNNING}
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel", "vcf": "vCard"}


@dataclass(frozen=True)
class ExportRow:
    job: ExportJob
    scope: str
    scope_url: str
    format: str
    in_progress: bool


def _visible_jobs(request: HttpRequest) -> QuerySet[ExportJob]:
    """The member's own exports; those who manage the members see everyone's (personal data
    leaves with a file, so who exported what is theirs to oversee)."""
    jobs = ExportJob.objects.filter(workspace=request.workspace)
    if member_can(request.membership, "leadcrm.manage_members"):
        return jobs
    return jobs.filter(created_by=request.user)


def _row(job: ExportJob) -> ExportRow:
    if "segment" in job.query:
        scope = f"Segment “{job.scope}”"
        url = reverse("segments:segment-detail", args=[job.query["segment"]])
    else:
        scope = job.scope
        url = reverse("pipeline:lead-list") + f"?{job.query.get('list') or 'view=all'}"
    return ExportRow(job, scope, url, FORMAT_LABELS[job.fmt], job.status in IN_PROGRESS)


@require_GET
@require_perm("leadcrm.export_leads")
def export_list(request: HttpRequest) -> HttpResponse:
    """Newest first; while one is queued or running, the rows reload every 2 s (htmx) — and
    an export whose worker died is queued again."""
    exports_resume_stale(request.workspace)
    jobs = _visible_jobs(request).select_related("created_by").order_by("-created_at", "-pk")
    page = BoundedPaginator(jobs, EXPORTS_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_row(job) for job in page]
    context = {
        "page": page,
        "rows": rows,
        "polling": any(row.in_progress for row in rows),
        "keep_days": settings.EXPORT_KEEP_DAYS,
        "background_above": settings.EXPORT_BACKGROUND_ABOVE,
    }
    fragment = request.htmx and not request.htmx.boosted
    template = "pipeline/_export_rows.html" if fragment else "pipeline/exports.html"
    return render(request, template, context)


@require_GET
@require_perm("leadcrm.export_leads")
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    job = get_scoped_or_404(request, _visible_jobs(request), pk=pk)
    path = Path(settings.EXPORT_DIR) / job.file_path
    if job.status != ExportJob.Status.DONE or not job.file_path or not path.is_file():
        raise Http404("This export has no file (yet, or any more).")
    day = timezone.localdate(job.created_at)
    response = FileResponse(path.open("rb"), content_type=CONTENT_TYPES[job.fmt])
    response["Content-Disposition"] = export_disposition(export_file_stem(job), job.fmt, day=day)
    response["Cache-Control"] = "private, no-store"  # personal data: never in a shared cache
    return response


def segment_export_in_background(
    request: HttpRequest, segment, leads: QuerySet, fmt: str, keys: list[str]
) -> HttpResponse | None:
    """A segment's export as a background job when it is large (or asked for); else None.

    Registered with segments.views.BACKGROUND_EXPORTS by this app's ready().
    """
    size = background_export_size(leads, asked=request.GET.get("background") == "1")
    if size is None:
        return None
    export_job_start(
        workspace=request.workspace,
        actor=request.user,
        fmt=fmt,
        scope=segment.name,
        query={"segment": segment.pk},
        columns=keys,
    )
    messages.success(request, export_started_message(size))
    return redirect("pipeline:exports")
