"""Settings → Suppression list (PRODUCT C4): addresses never to be re-created or mailed.

Only HMAC hashes are stored, so the page shows counts, reasons and dates, never an address;
an entry is found again by typing its address. Every entry point (the lead form, imports,
sequences, later the API and webforms) consults the list through contacts.queries.
"""

from django.contrib import messages
from django.db.models import Count
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from compliance.suppression_forms import SuppressionAddForm, SuppressionRemoveForm
from contacts.consent import suppression_add_many, suppression_entry_for, suppression_remove
from contacts.models import SuppressedEmail, SuppressionReason
from contacts.queries import leads_for
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import require_perm
from leadcrm.uploads import upload_refusal

PERM = "leadcrm.manage_suppression"
TEMPLATE = "compliance/suppression.html"
PAGE_SIZE = 50


def _page(request: HttpRequest, status: int = 200, **forms) -> HttpResponse:
    entries = (
        SuppressedEmail.objects.filter(workspace=request.workspace)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )
    page = BoundedPaginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    by_reason = dict(
        SuppressedEmail.objects.filter(workspace=request.workspace)
        .order_by()
        .values_list("reason")
        .annotate(n=Count("id"))
    )
    context = {
        "page": page,
        "total": sum(by_reason.values()),
        "reasons": [(reason.label, by_reason.get(reason.value, 0)) for reason in SuppressionReason],
        "add_form": forms.get("add_form") or SuppressionAddForm(),
        "remove_form": forms.get("remove_form") or SuppressionRemoveForm(),
    }
    template = TEMPLATE + ("#entries" if request.htmx and request.htmx.target == "entries" else "")
    return render(request, template, context, status=status)


@require_GET
@require_perm(PERM)
def suppression_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


@require_POST
@require_perm(PERM)
def suppression_add_view(request: HttpRequest) -> HttpResponse:
    form = SuppressionAddForm(request.POST, request.FILES, refusal=upload_refusal(request))
    if not form.is_valid():
        return _page(request, status=400, add_form=form)
    emails = form.cleaned_data["emails"]
    added, already = suppression_add_many(
        workspace=request.workspace,
        emails=emails,
        reason=form.cleaned_data["reason"],
        actor=request.user,
    )
    parts = [f"{_plural(added, 'address', 'addresses')} added to the suppression list"]
    if already:
        parts.append(f"{_plural(already, 'was', 'were')} already on it")
    if form.cleaned_data["not_addresses"]:
        skipped = form.cleaned_data["not_addresses"]
        parts.append(f"{_plural(skipped, 'entry was', 'entries were')} not a valid address")
    text = "; ".join(parts) + "."
    leads = _live_leads_with(request, emails)
    if leads:
        text += (
            f" {_plural(leads, 'lead', 'leads')} of this workspace "
            f"{'has' if leads == 1 else 'have'} one of these addresses: "
            "no sequence will mail them any more."
        )
    messages.success(request, text)
    return redirect("suppression")


def _live_leads_with(request: HttpRequest, emails: list[str]) -> int:
    """How many live leads have one of these (normalised) addresses as their email."""
    live = leads_for(request.workspace).annotate(email_ci=Lower("email"))
    count = 0
    for start in range(0, len(emails), 5000):
        count += live.filter(email_ci__anyof=emails[start : start + 5000]).count()
    return count


@require_POST
@require_perm(PERM)
def suppression_remove_view(request: HttpRequest) -> HttpResponse:
    form = SuppressionRemoveForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, remove_form=form)
    entry = suppression_entry_for(workspace=request.workspace, email=form.cleaned_data["email"])
    if entry is None:
        form.add_error("email", "This address is not on the suppression list.")
        return _page(request, status=400, remove_form=form)
    if entry.reason == SuppressionReason.ERASED:
        form.add_error(
            "email",
            "This address belongs to a person erased under the GDPR: it stays on the list so "
            "they can never be imported or mailed again.",
        )
        return _page(request, status=400, remove_form=form)
    suppression_remove(entry=entry, actor=request.user)
    messages.warning(
        request,
        f"Removed from the suppression list ({entry.get_reason_display().lower()}). The address "
        "can be imported and mailed again.",
    )
    return redirect("suppression")
