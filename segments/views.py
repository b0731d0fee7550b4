"""Pipeline → Segments (PRODUCT 4): the list, a segment's page and its actions.

The rule builder and preview of a dynamic segment are segments/builder.py's; this module
includes them on the segment's page.
"""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import Prefetch
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from contacts import export
from contacts.models import Tag
from contacts.queries import leads_for
from contacts.tables import DEFAULT_COLUMNS, LeadTable, lead_table
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import member_can, require_perm
from leadcrm.views import get_scoped_or_404

# Background exports live in pipeline (its ExportJob): the one upward import, kept to this view.
from segments.builder import builder_context
from segments.filters import SegmentFilterSet
from segments.forms import (
    LeadSelectionForm,
    SegmentCreateForm,
    SegmentEditForm,
    SegmentStateForm,
)
from segments.models import Segment, SegmentState
from segments.rules import segment_leads
from segments.services import (
    segment_count_refresh,
    segment_create,
    segment_delete,
    segment_duplicate,
    segment_freeze,
    segment_references,
    segment_remove_leads,
    segment_state_set,
    segment_touch,
    segment_update,
)

LIST = "segments/segment_list.html"
DETAIL = "segments/segment_detail.html"
FORM = "segments/segment_form.html"
LIST_PAGE_SIZE = 50
MEMBERS_PAGE_SIZE = 50
EXPORT_FORMATS = {"csv", "xlsx", "vcf"}


def _segment(request: HttpRequest, pk: int) -> Segment:
    """A segment of the current workspace; another workspace's is a 404."""
    return get_scoped_or_404(request, Segment.objects.select_related("created_by"), pk=pk)


def segment_url(segment: Segment) -> str:
    return reverse("segments:segment-detail", args=[segment.pk])


def _fail(request: HttpRequest, error: ValidationError, segment: Segment) -> HttpResponse:
    messages.error(request, " ".join(error.messages))
    return redirect(segment_url(segment))


def _allowed(request: HttpRequest, segment: Segment) -> dict[str, bool]:
    """What the member may do to this segment now (its kind and state count too)."""
    manage = member_can(request.membership, "leadcrm.manage_segments", segment)
    writable = not segment.is_retired
    return {
        "manage": manage,
        "edit": manage and writable,
        "freeze": manage and not segment.is_static,
        "members": segment.is_static
        and writable
        and member_can(request.membership, "leadcrm.add_to_static_segment", segment),
        "export": member_can(request.membership, "leadcrm.export_leads", segment),
    }


# The list -------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
@require_perm("leadcrm.view_segments")
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = Segment.objects.for_workspace(request.workspace).select_related("created_by")
    filterset = SegmentFilterSet(request.GET, queryset=segments)
    ordered = filterset.qs.order_by(Lower("name"), "pk")
    page = BoundedPaginator(ordered, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filterset": filterset,
        "page": page,
        "query": request.GET.copy().urlencode(),
        "workspace_empty": not page.object_list and not segments.exists(),
    }
    template = LIST
    if request.htmx and not request.htmx.boosted:
        template += "#segment-results"
    return render(request, template, context)


@require_GET
@require_perm("leadcrm.view_segments")
def segment_count(request: HttpRequest, pk: int) -> HttpResponse:
    """The list's member count cell, recounted when the cached one is missing or old (G5)."""
    segment = _segment(request, pk)
    if segment.count_is_stale:
        segment_count_refresh(segment=segment)
    return render(request, f"{LIST}#count-cell", {"segment": segment})


# Create, edit, duplicate, state, freeze, delete ------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.manage_segments")
def segment_new(request: HttpRequest) -> HttpResponse:
    form = SegmentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            segment = segment_create(
                workspace=request.workspace, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Segment “{segment.name}” created.")
            return redirect(segment_url(segment))
    status = 400 if form.is_bound else 200
    return render(request, FORM, {"form": form, "segment": None}, status=status)


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.manage_segments")
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    initial = {"name": segment.name, "description": segment.description}
    form = SegmentEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            segment_update(segment=segment, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Segment “{segment.name}” saved.")
            return redirect(segment_url(segment))
    status = 400 if form.is_bound else 200
    return render(request, FORM, {"form": form, "segment": segment}, status=status)


@require_POST
@require_perm("leadcrm.manage_segments")
def segment_duplicate_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    copy = segment_duplicate(segment=segment, actor=request.user)
    messages.success(request, f"“{copy.name}” created as a draft copy of “{segment.name}”.")
    return redirect(segment_url(copy))


@require_POST
@require_perm("leadcrm.manage_segments")
def segment_state_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    form = SegmentStateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose Draft, Active or Retired.")
        return redirect(segment_url(segment))
    segment_state_set(segment=segment, actor=request.user, state=form.cleaned_data["state"])
    note = " It is read-only now." if segment.is_retired else ""
    messages.success(request, f"“{segment.name}” is {segment.get_state_display()}.{note}")
    return redirect(segment_url(segment))


@require_POST
@require_perm("leadcrm.manage_segments")
def segment_freeze_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    try:
        frozen = segment_freeze(segment=segment, actor=request.user)
    except ValidationError as error:
        return _fail(request, error, segment)
    count = frozen.member_count or 0
    messages.success(
        request, f"“{frozen.name}” created with {count:,} lead{'' if count == 1 else 's'}."
    )
    return redirect(segment_url(frozen))


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.manage_segments")
def segment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    if request.method == "POST":
        try:
            segment_delete(segment=segment, actor=request.user)
        except ValidationError as error:
            return _fail(request, error, segment)
        messages.success(request, f"Segment “{segment.name}” deleted.")
        return redirect("segments:segment-list")
    context = {"segment": segment, "references": segment_references(segment)}
    return render(request, "segments/segment_delete.html", context)


# A segment's page, its members and its export -------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
@require_perm("leadcrm.view_segments")
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    allowed = _allowed(request, segment)
    context = {"segment": segment, "allowed": allowed, "states": SegmentState.choices}
    if segment.is_static:
        context["table"] = _member_table(request, segment, removable=allowed["members"])
        if request.htmx and request.htmx.target == "segment-members":
            return render(request, f"{DETAIL}#segment-members", context)
    else:
        context.update(builder_context(request, segment))
    segment_touch(segment=segment)  # its members or preview were looked at
    return render(request, DETAIL, context)


def _member_table(request: HttpRequest, segment: Segment, *, removable: bool) -> LeadTable:
    tags = Prefetch("tags", queryset=Tag.objects.order_by("name"))
    leads = segment_leads(segment).select_related("company", "owner").prefetch_related(tags)
    table = lead_table(
        leads,
        columns=DEFAULT_COLUMNS,
        custom_fields=[],
        selectable=removable,
        htmx_target="#segment-members",
        template_name="segments/member_table.html",
        empty_text="No members yet.",
    )
    table.removable = removable  # a remove button per row (segments/member_table.html)
    RequestConfig(request, paginate=False).configure(table)  # the sort
    page = request.GET.get("page") or 1
    try:
        table.paginate(paginator_class=BoundedPaginator, per_page=MEMBERS_PAGE_SIZE, page=page)
    except PageNotAnInteger:
        table.page = table.paginator.page(1)
    except EmptyPage:
        table.page = table.paginator.page(table.paginator.num_pages)
    return table


@require_POST
@require_perm("leadcrm.add_to_static_segment")
def segment_members_remove(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    form = LeadSelectionForm(request.POST)
    back = segment_url(segment) + _query_suffix(request.POST.get("query", ""))
    if not form.is_valid():
        messages.error(request, "Select at least one lead to remove.")
        return redirect(back)
    leads = leads_for(request.workspace).filter(pk__in=form.cleaned_data["lead_ids"])
    try:
        removed = segment_remove_leads(
            workspace=request.workspace, segment=segment, leads=leads, actor=request.user
        )
    except ValidationError as error:
        return _fail(request, error, segment)
    messages.success(
        request, f"{removed:,} lead{'' if removed == 1 else 's'} removed from “{segment.name}”."
    )
    return redirect(back)


def _query_suffix(query: str) -> str:
    return f"?{query}" if query else ""


# Exports too large to stream are handed to a background export, which the pipeline app
# provides (it registers here from its ready(): segments cannot import it). A starter returns
# the response that says the export is on its way, or None to stream now.
BACKGROUND_EXPORTS: list[Callable[..., HttpResponse | None]] = []


@require_GET
@require_perm("leadcrm.view_segments", "leadcrm.export_leads")
def segment_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Every column of every lead in the segment now, as CSV, Excel or vCard (G3: any state)."""
    segment = _segment(request, pk)
    fmt = request.GET.get("format", "csv")
    if fmt not in EXPORT_FORMATS:
        return HttpResponse("Choose csv, xlsx or vcf.", status=400, content_type="text/plain")
    keys = export.lead_column_keys(request.workspace) if fmt != "vcf" else []
    segment_touch(segment=segment)
    leads = segment_leads(segment)
    for start in BACKGROUND_EXPORTS:
        response = start(request, segment, leads, fmt, keys)
        if response is not None:
            return response
    columns = export.lead_columns(request.workspace, keys) if keys else None
    return export.export_response(
        request, filename_stem=segment.name, fmt=fmt, columns=columns, queryset=leads
    )
