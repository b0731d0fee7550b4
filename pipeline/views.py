"""Pipeline → Leads: the leads list (PRODUCT L1–L5, L8)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from contacts import export
from contacts.models import CustomField, Lead, Tag
from contacts.queries import leads_for
from contacts.tables import DEFAULT_COLUMNS, column_choices, lead_table, visible_columns
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import member_can, require_perm
from leadcrm.roles import SALES_REP
from leadcrm.views import get_scoped_or_404
from pipeline import services
from pipeline.exports import (
    LIST_STEM,
    background_export_size,
    export_job_start,
    export_started_message,
)
from pipeline.filters import LeadListFilterSet, lead_list_filterset
from pipeline.list_forms import BulkUpdateForm, ColumnsForm, SavedViewForm
from pipeline.models import LeadListPreference, SavedView
from pipeline.sequence_forms import enrollable_sequences
from pipeline.services import bulk_update_run, saved_view_create, segment_from_list_create

PAGE_SIZES = [25, 50, 100, 200]
LIST_PARAMS_IGNORED = {"page", "view"}
NOT_FILTERS = {"page", "view", "sort", "q", "per_page"}


def _preference(request: HttpRequest) -> LeadListPreference:
    preference, _ = LeadListPreference.objects.get_or_create(
        workspace=request.workspace, user=request.user
    )
    return preference


def lead_filterset(request: HttpRequest, data: QueryDict) -> LeadListFilterSet:
    """The shared lead filter set on this workspace's live leads (list, kanban, export)."""
    return lead_list_filterset(data, membership=request.membership, user=request.user)


def _scoped_for_bulk(request: HttpRequest, leads):
    """A sales rep's bulk work covers only their own leads (W2), also for 'all matching'."""
    if member_can(request.membership, "leadcrm.bulk_update_any_leads"):
        return leads
    return leads.filter(owner=request.user)


def list_query(data: QueryDict) -> str:
    """The list's state as a query string, without the page (for saved views and links)."""
    kept = data.copy()
    for name in LIST_PARAMS_IGNORED:
        kept.pop(name, None)
    return kept.urlencode()


@require_GET
@require_perm("leadcrm.view_leads")
def lead_list(request: HttpRequest) -> HttpResponse:
    if not request.GET and request.membership.role.name == SALES_REP:
        return redirect(reverse("pipeline:lead-list") + "?owner=me")  # "My leads" (L4)
    preference = _preference(request)
    filterset = lead_filterset(request, request.GET)
    custom_fields = filterset.custom_fields
    per_page = _page_size(request, preference)
    table = lead_table(
        filterset.qs.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name"))),
        columns=preference.columns or DEFAULT_COLUMNS,
        custom_fields=custom_fields,
        selectable=member_can(request.membership, "leadcrm.bulk_update_leads"),
    )
    RequestConfig(request, paginate=False).configure(table)  # the sort
    table_paginate(table, request.GET.get("page"), per_page)
    template = "pipeline/lead_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#lead-results"
    context = {
        "filterset": filterset,
        "table": table,
        "query": list_query(request.GET),
        "page_sizes": PAGE_SIZES,
        "per_page": per_page,
        "columns_form": ColumnsForm(
            choices=column_choices(custom_fields),
            initial={"columns": preference.columns or DEFAULT_COLUMNS},
        ),
        "bulk_form": BulkUpdateForm(
            workspace=request.workspace, custom_fields=custom_fields, auto_id="bulk-%s"
        ),
        "saved_views": SavedView.objects.filter(workspace=request.workspace)
        .filter_visible(request.user)
        .select_related("owner"),
        "save_view_form": SavedViewForm(),
        "enrol_sequences": enrollable_sequences(request.workspace),
        "active_filters": sum(
            1 for key, value in request.GET.items() if value and key not in NOT_FILTERS
        ),
    }
    return render(request, template, context)


def table_paginate(table, page: str | None, per_page: int) -> None:
    """RequestConfig's paging, but with our checked page size (it would take ?per_page as is)."""
    try:
        table.paginate(paginator_class=BoundedPaginator, per_page=per_page, page=page or 1)
    except PageNotAnInteger:
        table.page = table.paginator.page(1)
    except EmptyPage:
        table.page = table.paginator.page(table.paginator.num_pages)


def _page_size(request: HttpRequest, preference: LeadListPreference) -> int:
    """The page size asked for (remembered for next time), else the remembered one."""
    try:
        size = int(request.GET.get("per_page", preference.page_size))
    except ValueError:
        size = preference.page_size
    if size not in PAGE_SIZES:
        return preference.page_size if preference.page_size in PAGE_SIZES else 50
    if size != preference.page_size:
        preference.page_size = size
        preference.save(update_fields=["page_size"])
    return size


@require_GET
@require_perm("leadcrm.view_leads")
def saved_view_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply a saved view: its columns become the member's, its filters go in the URL (L4)."""
    view = get_scoped_or_404(request, SavedView.objects.filter_visible(request.user), pk=pk)
    if view.columns:
        preference = _preference(request)
        preference.columns = view.columns
        preference.save(update_fields=["columns"])
    return redirect(reverse("pipeline:lead-list") + f"?{view.query or 'view=all'}")


@require_POST
@require_perm("leadcrm.view_leads")
def lead_columns_save(request: HttpRequest) -> HttpResponse:
    custom_fields = CustomField.objects.filter(workspace=request.workspace).active()
    form = ColumnsForm(request.POST, choices=column_choices(custom_fields))
    if form.is_valid():
        preference = _preference(request)
        preference.columns = form.cleaned_data["columns"]
        preference.save(update_fields=["columns"])
        messages.success(request, "Columns saved.")
    else:
        messages.error(request, "Choose at least one column.")
    return _back_to_list(request)


def _back_to_list(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    return redirect(reverse("pipeline:lead-list") + (f"?{query}" if query else ""))


@require_POST
@require_perm("leadcrm.view_leads")
def saved_view_save(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the view a name of at most 100 characters.")
        return _back_to_list(request)
    view = saved_view_create(
        workspace=request.workspace,
        owner=request.user,
        name=form.cleaned_data["name"],
        query=request.POST.get("query", ""),
        columns=_preference(request).columns,
        shared=form.cleaned_data["shared"],
    )
    messages.success(request, f"View “{view.name}” saved{' and shared' if view.shared else ''}.")
    return _back_to_list(request)


@require_POST
@require_perm("leadcrm.view_leads", "leadcrm.manage_segments")
def lead_list_segment_save(request: HttpRequest) -> HttpResponse:
    """Save as dynamic segment: the list's search and filters become a Draft segment."""
    filterset = lead_filterset(request, QueryDict(request.POST.get("query", "")))
    try:
        segment = segment_from_list_create(
            workspace=request.workspace,
            actor=request.user,
            name=request.POST.get("name", ""),
            rules=filterset.as_rules(),
        )
    except ValidationError as error:
        messages.error(request, f"The segment was not saved. {' '.join(error.messages)}")
        return _back_to_list(request)
    messages.success(request, f"Dynamic segment “{segment.name}” saved as a draft.")
    return redirect("segments:segment-detail", pk=segment.pk)


@require_POST
@require_perm("leadcrm.view_leads")
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_scoped_or_404(request, SavedView.objects.filter_visible(request.user), pk=pk)
    if view.owner_id != request.user.pk:
        raise PermissionDenied("Only the person who saved a view can delete it.")
    services.saved_view_delete(view=view, actor=request.user)
    messages.success(request, f"View “{view.name}” deleted.")
    return redirect("pipeline:lead-list")


def bulk_selection(request: HttpRequest, cleaned: dict) -> QuerySet[Lead]:
    """The leads a bulk form names: its ticked ids, or every lead its list query matches."""
    if cleaned["all_matching"]:
        return lead_filterset(request, QueryDict(request.POST.get("query", ""))).qs
    return leads_for(request.workspace).filter(pk__in=cleaned["lead_ids"])


@require_POST
@require_perm("leadcrm.bulk_update_leads")
def lead_bulk(request: HttpRequest) -> HttpResponse:
    if request.POST.get("action") == "enrol":  # "Enrol in sequence" (pipeline/sequence_views.py)
        from pipeline.sequence_views import lead_bulk_enrol  # that module imports this one

        return lead_bulk_enrol(request)
    if request.POST.get("action") == "gdpr_erase":  # "Erase (GDPR)…" asks first, on its own page
        return redirect("compliance:selection-erase", preserve_request=True)  # 307: still a POST
    custom_fields = list(CustomField.objects.filter(workspace=request.workspace).active())
    form = BulkUpdateForm(request.POST, workspace=request.workspace, custom_fields=custom_fields)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return _back_to_list(request)
    leads = bulk_selection(request, form.cleaned_data)
    try:
        text = bulk_update_run(
            workspace=request.workspace,
            membership=request.membership,
            leads=_scoped_for_bulk(request, leads),
            data=form.cleaned_data,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, text)
    return _back_to_list(request)


@require_GET
@require_perm("leadcrm.export_leads")
def lead_export(request: HttpRequest) -> HttpResponse:
    fmt = request.GET.get("format", "csv")
    if fmt not in export.CONTENT_TYPES:
        return HttpResponse("Choose csv, xlsx or vcf.", status=400, content_type="text/plain")
    filterset = lead_filterset(request, request.GET)
    if request.GET.get("columns") == "all":  # every standard column and active custom field
        keys = export.lead_column_keys(request.workspace)
    else:
        shown = visible_columns(_preference(request).columns, filterset.custom_fields)
        keys = _export_keys(shown)
    size = background_export_size(filterset.qs, asked=request.GET.get("background") == "1")
    if size is not None:
        export_job_start(
            workspace=request.workspace,
            actor=request.user,
            fmt=fmt,
            scope="Leads list",
            query={"list": filterset.applied_params().urlencode()},
            columns=keys,
        )
        messages.success(request, export_started_message(size))
        return redirect("pipeline:exports")
    columns = export.lead_columns(request.workspace, keys)
    return export.export_response(
        request, filename_stem=LIST_STEM, fmt=fmt, columns=columns, queryset=filterset.qs
    )


def _export_keys(columns: list[str]) -> list[str]:
    """The visible table columns in the export service's names (name → first/last)."""
    keys: list[str] = []
    for column in columns:
        keys.extend(
            {
                "name": ["first_name", "last_name"],
                "created_at": ["created_at"],
            }.get(column, [column])
        )
    return keys
