"""GDPR erasure pages (PRODUCT C6): Settings → GDPR erasure, a request's progress and report,
and the confirmation of erasing a selection of the leads list.

The views validate the input and call compliance.erasure's services; an uploaded or typed
list of addresses goes no further than erasure_request_create(), which keeps ids and hashes
only. No page names an erased address: a report is counts.
"""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compliance.erasure import (
    erasure_request_create,
    erasure_resume_stale,
    report_lines,
)
from compliance.erasure_forms import CONFIRM_WORD, ErasureListForm, SelectionEraseForm
from compliance.models import ErasureRequest
from contacts.models import Lead
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import require_perm
from leadcrm.uploads import upload_refusal
from leadcrm.views import get_scoped_or_404

ERASE = "leadcrm.gdpr_erase"
LIST = "compliance/erasure_list.html"
DETAIL = "compliance/erasure_detail.html"
SELECTION = "compliance/selection_erase.html"
HISTORY_PAGE_SIZE = 25
MAX_LEADS = 100_000  # per request: a larger selection is erased in parts
# Report kinds that are not "erased" rows; the summary words them apart.
REDACTED, SUPPRESSED = "audit entries redacted", "addresses suppressed"
SINGULAR = {
    "leads": "lead",
    "activities": "activity",
    "consent events": "consent event",
    "segment memberships": "segment membership",
    "sequence enrolments": "sequence enrolment",
    "sequence emails sent": "sequence email sent",
    "import undo snapshots": "import undo snapshot",
    "import error-report rows": "import error-report row",
    "tag links": "tag link",
    "audit entries": "audit entry",
    "addresses": "address",
}


def _counted(count: int, plural: str) -> str:
    """“1,204 leads”, “1 lead”."""
    return f"{count:,} {SINGULAR.get(plural, plural) if count == 1 else plural}"


def _and(parts: list[str]) -> str:
    return ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else "".join(parts)


def report_summary(erasure: ErasureRequest) -> list[str]:
    """The report in sentences, e.g. “Erased 1,204 leads, 3,911 activities and 12 consent
    events.” — counts only, never an address."""
    lines = report_lines(erasure.report)
    erased = [_counted(n, name) for name, n in lines if name not in (REDACTED, SUPPRESSED)]
    report = dict(lines)
    sentences = [f"Erased {_and(erased)}." if erased else "No lead was erased."]
    if report.get(REDACTED):
        sentences.append(
            f"Redacted {_counted(report[REDACTED], 'audit entries')}: who changed what and when "
            "stays, the values are gone."
        )
    if report.get(SUPPRESSED):
        them = "it" if report[SUPPRESSED] == 1 else "them"
        sentences.append(
            f"{_counted(report[SUPPRESSED], 'addresses')} on the suppression list: no import, "
            f"form or sequence can bring {them} back."
        )
    unmatched = unmatched_addresses(erasure)
    if unmatched:
        they, are = ("it", "is") if unmatched == 1 else ("they", "are")
        sentences.append(
            f"{_counted(unmatched, 'addresses')} matched no lead; {they} {are} on the "
            f"suppression list so {they} can never be imported."
        )
    return sentences


def unmatched_addresses(erasure: ErasureRequest) -> int:
    """How many addresses of an uploaded list matched no lead (an address names one lead at
    most: a workspace's lead emails are unique)."""
    if erasure.origin != ErasureRequest.Origin.UPLOAD:
        return 0
    return max(0, erasure.addresses_total - erasure.leads_total)


def _erasure(request: HttpRequest, pk: int) -> ErasureRequest:
    """A request of the current workspace; another workspace's is a 404."""
    return get_scoped_or_404(request, ErasureRequest.objects.select_related("requested_by"), pk=pk)


def _history(request: HttpRequest) -> dict:
    erasures = ErasureRequest.objects.filter(workspace=request.workspace)
    page = BoundedPaginator(
        erasures.select_related("requested_by").order_by("-created_at", "-pk"), HISTORY_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return {"page": page, "polling": any(not erasure.is_finished for erasure in page)}


@require_http_methods(["GET", "POST"])
@require_perm(ERASE)
def erasure_list(request: HttpRequest) -> HttpResponse:
    form = ErasureListForm()
    if request.method == "POST":
        form = ErasureListForm(request.POST, request.FILES, refusal=upload_refusal(request))
        if form.is_valid():
            return _erasure_upload(request, form)
    else:
        erasure_resume_stale(request.workspace)  # a request whose worker died goes on
    template = LIST
    if request.htmx and not request.htmx.boosted:
        template += "#erasure-history"
    context = {"form": form, **_history(request)}
    return render(request, template, context, status=400 if form.is_bound else 200)


def _erasure_upload(request: HttpRequest, form: ErasureListForm) -> HttpResponse:
    data = form.cleaned_data
    erasure = erasure_request_create(
        workspace=request.workspace,
        actor=request.user,
        origin=ErasureRequest.Origin.UPLOAD,
        emails=data["emails"],
        reference=data["reference"],
    )
    text = (
        f"Erasure requested for {_counted(erasure.addresses_total, 'addresses')}: "
        f"{_counted(erasure.leads_total, 'leads')} to erase."
    )
    if data["not_addresses"]:
        text += f" {data['not_addresses']:,} entries with an “@” were not addresses: skipped."
    messages.success(request, text)
    return redirect("erasure-detail", pk=erasure.pk)


@require_GET
@require_perm(ERASE)
def erasure_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The request's progress (polled every 2 s while it runs), then its report."""
    erasure = _erasure(request, pk)
    if not erasure.is_finished and erasure_resume_stale(request.workspace):
        erasure.refresh_from_db()  # polling also revives a request whose worker died
    template = DETAIL
    if request.htmx and not request.htmx.boosted:
        template += "#erasure-status"
    context = {
        "erasure": erasure,
        "summary": report_summary(erasure) if erasure.is_finished else [],
        "lines": report_lines(erasure.report),
        "left": max(0, erasure.leads_total - erasure.leads_erased),
    }
    return render(request, template, context)


# A selection of the leads list ------------------------------------------------------------


# How the lead list's bulk bar names its leads (ticked ids, or "all N matching" its filters).
# The list and its filters are the pipeline app's, which compliance must not import: pipeline
# registers its resolver here from AppConfig.ready().
SELECTION_RESOLVERS: list[Callable[[HttpRequest, dict], QuerySet[Lead]]] = []


def _selected_leads(request: HttpRequest, cleaned: dict) -> QuerySet[Lead]:
    """The leads the list's bulk bar names, found by the list's own bulk code so "all N
    matching" means what the list showed."""
    (resolve,) = SELECTION_RESOLVERS
    return resolve(request, cleaned).order_by()


def _lead_list_url(query: str) -> str:
    return reverse("pipeline:lead-list") + (f"?{query}" if query else "")


def _selection_refusal(ids: list[int]) -> str:
    """Why this selection cannot be erased, or "" (ids: at most MAX_LEADS + 1 of them)."""
    if not ids:
        return "None of the selected leads exists any more: nothing to erase."
    if len(ids) > MAX_LEADS:
        return (
            f"More than {MAX_LEADS:,} leads are selected, the most one erasure takes. Narrow "
            "the filters and erase the leads in parts."
        )
    return ""


@require_POST
@require_perm(ERASE)
def selection_erase(request: HttpRequest) -> HttpResponse:
    """The bulk bar's “Erase (GDPR)…” posts its selection here: first a confirmation page,
    then (with the number of leads or ERASE typed) the erasure request."""
    form = SelectionEraseForm(request.POST)
    valid = form.is_valid()
    query = request.POST.get("query", "")
    if form.non_field_errors():  # nothing selected
        messages.error(request, " ".join(form.non_field_errors()))
        return redirect(_lead_list_url(query))
    leads = _selected_leads(request, form.cleaned_data)
    ids = list(leads.values_list("pk", flat=True)[: MAX_LEADS + 1])
    refusal = _selection_refusal(ids)
    if refusal:
        messages.error(request, refusal)
        return redirect(_lead_list_url(query))
    if valid and "confirmation" in request.POST and form.confirms(len(ids)):
        return _selection_erase_start(request, ids, form.cleaned_data["reference"], query)
    context = {
        "form": form,
        "count": len(ids),
        "confirm_word": CONFIRM_WORD,
        "all_matching": form.cleaned_data.get("all_matching"),
        "lead_ids": form.cleaned_data["lead_ids"],
        "query": query,
        "back": _lead_list_url(query),
    }
    return render(request, SELECTION, context, status=400 if form.errors else 200)


def _selection_erase_start(
    request: HttpRequest, ids: list[int], reference: str, query: str
) -> HttpResponse:
    try:
        erasure = erasure_request_create(
            workspace=request.workspace,
            actor=request.user,
            origin=ErasureRequest.Origin.SELECTION,
            lead_ids=ids,
            reference=reference,
        )
    except ValidationError as error:  # the leads went meanwhile (erased from another tab)
        messages.error(request, " ".join(error.messages))
        return redirect(_lead_list_url(query))
    messages.success(request, f"Erasing {_counted(erasure.leads_total, 'leads')}.")
    return redirect("erasure-detail", pk=erasure.pk)
