"""Pipeline → Import (PRODUCT I1–I7): upload, map, preview, import in the background, undo.

One page per import (`import-detail`) shows what its status calls for: the mapping form, the
dry run's progress, the preview, the import's progress, the summary, the undo report. The
work itself is contacts.importing's: these views validate input, call one service, render.
"""

from datetime import timedelta
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from contacts.importing.jobs import (
    custom_fields_for,
    import_cancel,
    import_check_start,
    import_configure,
    import_discard,
    import_error_report,
    import_preview,
    import_progress,
    import_resume_if_stale,
    import_sample,
    import_start,
    import_to_write,
    import_upload,
)
from contacts.importing.sources import SourceError
from contacts.importing.targets import TARGETS_BY_KEY, targets_for
from contacts.importing.undo import import_undo_start, undo_is_large, undo_plan, undo_refusal
from contacts.models import ImportIssue, ImportJob, ImportStatus
from leadcrm.models import Membership
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import require_perm
from leadcrm.uploads import upload_refusal
from leadcrm.views import get_scoped_or_404
from pipeline.import_forms import ImportMappingForm, ImportUploadForm

LIST = "pipeline/import/import_list.html"
DETAIL = "pipeline/import/import_detail.html"
UNDO = "pipeline/import/import_undo.html"
PERM = "leadcrm.import_leads"
HISTORY_PAGE_SIZE = 25
PROBLEMS_SHOWN = 100
SAMPLE_ROWS = 5
CONFIGURABLE = (ImportStatus.MAPPING, ImportStatus.CHECKING, ImportStatus.CHECKED)
IN_PROGRESS = (
    ImportStatus.CHECKING,
    ImportStatus.QUEUED,
    ImportStatus.RUNNING,
    ImportStatus.UNDOING,
)


def _job(request: HttpRequest, pk: int) -> ImportJob:
    """An import of the current workspace; another workspace's is a 404."""
    return get_scoped_or_404(request, ImportJob.objects.select_related("created_by"), pk=pk)


def discarded_meanwhile(view):
    """A job discarded (by another tab, another member) between loading it and acting on it
    sends the member back to the import list, with why, rather than failing."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ImportJob.DoesNotExist:
            messages.error(request, "This import no longer exists: it was discarded meanwhile.")
            return redirect("pipeline:import")

    return wrapper


def job_url(job: ImportJob) -> str:
    return reverse("pipeline:import-detail", args=[job.pk])


def duration_label(seconds: float) -> str:
    """under a second, 42 s, 3 min 5 s, 2 h 10 min."""
    if seconds < 1:
        return "under a second"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


# The list: upload and history -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_perm(PERM)
def import_list(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm()
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES, refusal=upload_refusal(request))
        if form.is_valid():
            try:
                job = import_upload(
                    workspace=request.workspace,
                    actor=request.user,
                    upload=form.cleaned_data["file"],
                )
            except SourceError as error:
                form.add_error("file", str(error))
            else:
                messages.success(request, f"“{job.file_name}” uploaded: check its columns.")
                return redirect(job_url(job))
    jobs = ImportJob.objects.for_workspace(request.workspace).select_related("created_by")
    page = BoundedPaginator(jobs.order_by("-created_at", "-pk"), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "page": page, "max_bytes": settings.IMPORT_MAX_UPLOAD_BYTES}
    return render(request, LIST, context, status=400 if form.is_bound else 200)


# One import -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_perm(PERM)
@discarded_meanwhile
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if request.method == "POST":
        if request.POST.get("action") == "import":
            return _start(request, job)
        return _configure(request, job)
    editing = job.status == ImportStatus.CHECKED and request.GET.get("edit") == "mapping"
    if job.status == ImportStatus.MAPPING or editing:
        return render(request, DETAIL, _mapping_context(job, _mapping_form(job)))
    return render(request, DETAIL, _status_context(job))


def _configure(request: HttpRequest, job: ImportJob) -> HttpResponse:
    """The "Check the file" button: save the mapping, defaults and mode, then start the dry run."""
    if job.status not in CONFIGURABLE:
        messages.error(request, "This import has started; its settings can no longer change.")
        return redirect(job_url(job))
    form = _mapping_form(job, request.POST)
    if form.is_valid():
        try:
            job = import_configure(job, actor=request.user, **form.configuration())
            import_check_start(job, actor=request.user)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            return redirect(job_url(job))
    return render(request, DETAIL, _mapping_context(job, form), status=400)


def _start(request: HttpRequest, job: ImportJob) -> HttpResponse:
    try:
        import_start(job, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(job_url(job))


def _mapping_form(job: ImportJob, data=None) -> ImportMappingForm:
    members = Membership.objects.filter(workspace=job.workspace_id).select_related("user")
    return ImportMappingForm(
        data,
        job=job,
        targets=targets_for(custom_fields_for(job.workspace_id)),
        members=sorted(members, key=lambda m: m.user.display_name.casefold()),
        samples=import_sample(job, SAMPLE_ROWS),
    )


def _mapping_context(job: ImportJob, form: ImportMappingForm) -> dict:
    return {"job": job, "form": form, "step": "mapping"}


def _status_context(job: ImportJob) -> dict:
    context: dict = {"job": job, "step": job.status}
    if job.status in IN_PROGRESS:
        context.update(_progress_context(job))
    elif job.status == ImportStatus.CHECKED:
        context.update(_preview_context(job))
    elif job.status != ImportStatus.UNDONE:
        context.update(_summary_context(job))
    return context


def _progress_context(job: ImportJob) -> dict:
    progress = import_progress(job)
    eta = progress.eta_seconds
    return {"job": job, "progress": progress, "eta": duration_label(eta) if eta else ""}


def _preview_context(job: ImportJob) -> dict:
    columns, rows = import_preview(job)
    problems = ImportIssue.objects.filter(job=job, dry_run=True).order_by("row_number", "id")
    to_write = import_to_write(job)
    return {
        "mapped": sum(1 for key in job.mapping if key),
        "defaults": _defaults_shown(job),
        "columns": columns,
        "rows": rows,
        "summary": job.dry_run,
        "problems": problems[:PROBLEMS_SHOWN],
        "problems_count": problems.count(),
        "to_write": to_write,
        "nothing_reason": "" if to_write else _nothing_reason(job),
    }


def _defaults_shown(job: ImportJob) -> list[tuple[str, str]]:
    """(label, value as the user picked it) for each default the import applies."""
    shown = []
    for key, value in job.defaults.items():
        if key == "owner_id":
            owner = Membership.objects.filter(workspace=job.workspace_id, user=value).first()
            shown.append(("Owner", owner.user.display_name if owner else ""))
        elif key == "tags":
            shown.append(("Tags", ", ".join(value)))
        elif key in TARGETS_BY_KEY:
            target = TARGETS_BY_KEY[key]
            shown.append((target.label, dict(target.choices).get(value, value)))
    return shown


def _nothing_reason(job: ImportJob) -> str:
    if not job.dry_run.get("rows"):
        return "The file has no rows to import."
    return "No row would create or update a lead: see the problems below."


def _summary_context(job: ImportJob) -> dict:
    seconds = 0.0
    if job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at) / timedelta(seconds=1)
    return {
        "took": duration_label(seconds),
        "rate": round(job.rows_done / seconds) if seconds > 0 else None,
        "has_issues": ImportIssue.objects.filter(job=job, dry_run=False).exists(),
        "undo_refusal": undo_refusal(job),
    }


@require_GET
@require_perm(PERM)
def import_progress_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled progress card; once the status changes the browser reloads the page.

    Polling is also what revives an import whose worker died (import_resume_if_stale).
    """
    job = _job(request, pk)
    import_resume_if_stale(job)
    if job.status != request.GET.get("shown", job.status):
        return HttpResponseClientRefresh()
    return render(request, f"{DETAIL}#progress-card", _progress_context(job))


@require_GET
@require_perm(PERM)
def import_errors(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The rows not imported as CSV; `?dry_run=1`: the problems the preview found."""
    job = _job(request, pk)
    dry_run = request.GET.get("dry_run") == "1"
    response = StreamingHttpResponse(
        import_error_report(job, dry_run=dry_run), content_type="text/csv; charset=utf-8"
    )
    name = f"{Path(job.file_name).stem or 'import'}-{'problems' if dry_run else 'errors'}.csv"
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["Cache-Control"] = "private, no-store"  # personal data: never in a shared cache
    return response


@require_POST
@require_perm(PERM)
@discarded_meanwhile
def import_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    try:
        import_cancel(job, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Import of “{job.file_name}” cancelled.")
    return redirect(job_url(job))


@require_POST
@require_perm(PERM)
def import_discard_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    try:
        import_discard(job, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(job_url(job))
    messages.success(request, f"“{job.file_name}” discarded: nothing was imported.")
    return redirect("pipeline:import")


@require_http_methods(["GET", "POST"])
@require_perm(PERM)
@discarded_meanwhile
def import_undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what undoing would do (and keep, with why); POST: do it."""
    job = _job(request, pk)
    if request.method == "POST":
        try:
            report = import_undo_start(job, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            if report is None:
                messages.success(
                    request,
                    f"Undoing the import of “{job.file_name}” in the background: this page "
                    "shows the report when it is done.",
                )
            else:
                messages.success(
                    request,
                    f"Import of “{job.file_name}” undone: {report['deleted']} created leads "
                    f"deleted, {report['restored']} updated leads restored, "
                    f"{report['kept']} kept.",
                )
        return redirect(job_url(job))
    refusal = undo_refusal(job)
    # A large import's exact plan takes as long as the undo: the page shows its counts, and
    # the report lists what was kept.
    large = not refusal and undo_is_large(job)
    plan = None if refusal or large else undo_plan(job)
    context = {"job": job, "refusal": refusal, "plan": plan, "large": large}
    return render(request, UNDO, context)
