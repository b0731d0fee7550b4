"""Add / Edit / Delete a lead, and the Trash (PRODUCT L6).

Each page is also a fragment for htmx (a modal elsewhere can load it): the form posts with
hx-post and, on success, the browser is sent on with HX-Redirect. htmx swaps only 2xx
responses, so it gets a form with errors back as 200; a plain post gets 400 (409 when stale).
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from contacts.models import Lead
from contacts.queries import leads_for, trash_for
from contacts.services import (
    TRASH_DAYS,
    LeadChanged,
    lead_create,
    lead_delete,
    lead_restore,
    lead_update,
)
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import member_can, require_perm
from leadcrm.views import get_scoped_or_404
from pipeline.edit_forms import LeadForm

TRASH_PAGE_SIZE = 50


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _lead_url(lead: Lead) -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk])


def _may_delete(request: HttpRequest, lead: Lead) -> bool:
    """Delete and restore: any lead, or only their own (a sales rep) — PRODUCT W2."""
    return member_can(request.membership, "leadcrm.delete_lead", obj=lead)


def _form_page(
    request: HttpRequest, form: LeadForm, status: int, stale: list | None = None
) -> HttpResponse:
    lead = form.lead
    conflict = form.email_conflict
    context = {
        "form": form,
        "lead": lead,
        "stale": stale,
        "conflict": conflict,
        "may_restore_conflict": conflict is not None and _may_delete(request, conflict),
        "may_delete": lead is not None and _may_delete(request, lead),
    }
    template = "pipeline/lead_form.html"
    if request.htmx:
        template += "#lead-form"
        status = 200
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.add_lead")
def lead_new(request: HttpRequest) -> HttpResponse:
    form = LeadForm(
        request.POST or None, workspace=request.workspace, initial={"owner": request.user}
    )
    if request.method == "POST" and form.is_valid():
        try:
            lead = lead_create(
                workspace=request.workspace, actor=request.user, **form.service_values()
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Lead {lead} added.")
            return _go(request, _lead_url(lead))
    return _form_page(request, form, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.change_lead")
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_scoped_or_404(request, leads_for(request.workspace).select_related("company"), pk=pk)
    form = LeadForm(request.POST or None, workspace=request.workspace, lead=lead)
    if request.method == "POST" and form.is_valid() and _owner_change_allowed(request, lead, form):
        version = form.cleaned_data["version"]
        try:
            saved = lead_update(
                lead=lead, actor=request.user, expected_version=version, **form.service_values()
            )
        except LeadChanged as changed:
            stale = form.describe(changed.lead, changed.changed_fields)
            form = form.with_version(changed.lead.version)
            return _form_page(request, form, status=409, stale=stale)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            saved_anything = saved.version != version
            messages.success(request, "Changes saved." if saved_anything else "Nothing changed.")
            return _go(request, _lead_url(saved))
    return _form_page(request, form, status=400 if form.is_bound else 200)


def _owner_change_allowed(request: HttpRequest, lead: Lead, form: LeadForm) -> bool:
    """Taking someone else's lead is for roles that manage every lead (W2): otherwise a sales
    rep could make any lead "their own" and then delete it."""
    owner = form.cleaned_data.get("owner")
    if (owner.pk if owner else None) == lead.owner_id:
        return True
    if lead.owner_id == request.user.pk or member_can(
        request.membership, "leadcrm.delete_any_lead"
    ):
        return True
    form.add_error("owner", "Only the lead's owner or an admin or marketer can reassign it.")
    return False


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.delete_lead")
def lead_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_scoped_or_404(request, leads_for(request.workspace), pk=pk)
    if not _may_delete(request, lead):
        raise PermissionDenied("You may delete only the leads you own.")
    if request.method == "POST":
        lead_delete(lead=lead, actor=request.user)
        messages.success(
            request,
            format_html(
                '{} moved to the trash. Restore it within {} days from the <a href="{}" '
                'class="link-light">Trash</a>.',
                lead,
                TRASH_DAYS,
                reverse("pipeline:trash"),
            ),
        )
        return _go(request, reverse("pipeline:lead-list"))
    template = "pipeline/lead_delete.html" + ("#lead-delete" if request.htmx else "")
    return render(request, template, {"lead": lead, "trash_days": TRASH_DAYS})


@dataclass
class TrashRow:
    lead: Lead
    days_left: int
    may_restore: bool


@require_GET
@require_perm("leadcrm.view_leads")
def trash(request: HttpRequest) -> HttpResponse:
    leads = trash_for(request.workspace).select_related("company").order_by("-deleted_at", "-id")
    page = BoundedPaginator(leads, TRASH_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [TrashRow(lead, _days_left(lead, now), _may_delete(request, lead)) for lead in page]
    context = {"page": page, "rows": rows, "trash_days": TRASH_DAYS}
    template = "pipeline/trash.html" + ("#trash-table" if request.htmx else "")
    return render(request, template, context)


def _days_left(lead: Lead, now) -> int:
    """Days, rounded up, until the daily purge may remove the lead (0: at the next purge)."""
    remaining = lead.deleted_at + timedelta(days=TRASH_DAYS) - now
    return max(0, math.ceil(remaining.total_seconds() / 86400))


@require_POST
@require_perm("leadcrm.delete_lead")
def lead_restore_view(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_scoped_or_404(request, trash_for(request.workspace), pk=pk)
    if not _may_delete(request, lead):
        raise PermissionDenied("You may restore only the leads you own.")
    try:
        lead = lead_restore(lead=lead, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _go(request, reverse("pipeline:trash"))
    if request.POST.get("then") == "lead":  # restored from the Add lead form: show the lead
        messages.success(request, f"{lead} restored from the trash.")
        return _go(request, _lead_url(lead))
    messages.success(
        request,
        format_html(
            '{} restored from the trash. <a href="{}" class="link-light">Open it</a>.',
            lead,
            _lead_url(lead),
        ),
    )
    return _go(request, reverse("pipeline:trash"))
