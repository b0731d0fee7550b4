"""Compliance actions on one lead, from the lead view (PRODUCT C4–C6): the Do Not Contact
toggle on its Consent card, and GDPR access export and erasure from its Actions menu.

GDPR applies to a lead in the trash too, so these find it there (scoped to the workspace).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import CASCADE, ManyToOneRel, Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from compliance.access import FORMAT_VERSION, lead_access_document
from compliance.erasure import REPORT_NAMES, lead_erase, report_lines
from contacts.consent import lead_do_not_contact_set
from contacts.models import ImportIssue, Lead
from contacts.queries import leads_for, suppression_hash
from leadcrm.audit import audit_record
from leadcrm.models import AuditLog
from leadcrm.permissions import require_perm
from leadcrm.views import get_scoped_or_404

ERASE = "compliance/lead_erase.html"
DO_NOT_CONTACT_VALUES = {"on": True, "off": False}


def _lead(request: HttpRequest, pk: int) -> Lead:
    """A lead of the current workspace, trash included; another workspace's is a 404."""
    leads = leads_for(request.workspace, include_deleted=True).select_related("owner", "company")
    return get_scoped_or_404(request, leads, pk=pk)


# Do Not Contact (C4) -----------------------------------------------------------------------


@require_POST
@require_perm("leadcrm.change_consent")
def lead_do_not_contact(request: HttpRequest, pk: int) -> HttpResponse:
    """Set or clear the flag, then back to the lead's Consent card. htmx follows the redirect
    with its HX-Target, and the lead view answers with the card and the header badge."""
    lead = _lead(request, pk)
    value = DO_NOT_CONTACT_VALUES.get(request.POST.get("value", ""))
    if value is None:
        return HttpResponse(
            "Choose Mark Do Not Contact or Allow contact again.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        lead_do_not_contact_set(lead=lead, actor=request.user, value=value)
    except ValidationError as error:  # in the trash
        text = " ".join(error.messages)
        if request.htmx:
            return HttpResponse(text, status=409, content_type="text/plain; charset=utf-8")
        messages.error(request, text)
        return redirect("pipeline:trash")
    if value:
        text = f"{lead} is marked Do Not Contact: no email, call or sequence step goes to them."
    else:
        text = f"{lead} may be contacted again."
    messages.success(request, text)
    return redirect(reverse("pipeline:lead-detail", args=[lead.pk]) + "#consent")


# GDPR access (C5) --------------------------------------------------------------------------


@require_GET
@require_perm("leadcrm.gdpr_export")
def lead_gdpr_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    lead = _lead(request, pk)
    audit_record(
        actor=request.user,
        workspace=request.workspace,
        action="lead.gdpr_export",
        obj=lead,
        changes={"format_version": FORMAT_VERSION},  # what was handed out; never its content
    )
    response = StreamingHttpResponse(
        lead_access_document(lead, exported_by=request.user), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="lead-{lead.pk}-gdpr-export.json"'
    response["Cache-Control"] = "no-store"  # personal data: no copy in any cache
    return response


# GDPR erasure (C6) -------------------------------------------------------------------------


class LeadEraseForm(forms.Form):
    # Blank is the service's error too ("Type the lead's email address exactly as shown…").
    confirmation = forms.CharField(
        label="Type the lead's email address to confirm",
        max_length=254,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )


def _erasure_preview(lead: Lead) -> tuple[list[tuple[str, int]], int]:
    """What erasing the lead deletes, named as its report names it, and how many audit entries
    about it get their values blanked. One count per table that cascades from the lead —
    higher apps' tables too, found through the relations since compliance may not import
    them — plus the import error-report rows naming it or one of its addresses."""
    counts = {"leads": 1}
    for relation in Lead._meta.get_fields(include_hidden=True):
        if isinstance(relation, ManyToOneRel) and relation.on_delete is CASCADE:
            model = relation.related_model
            rows = model._base_manager.filter(**{relation.field.name: lead})
            counts[REPORT_NAMES.get(model._meta.label, model._meta.verbose_name_plural)] = (
                rows.count()
            )
    hashes = [suppression_hash(address) for address in [lead.email, *lead.secondary_emails]]
    counts["import error-report rows"] = (
        ImportIssue.objects.filter(job__workspace_id=lead.workspace_id)
        .filter(Q(lead=lead) | Q(email_hash__in=hashes))
        .count()
    )
    audit_entries = AuditLog.objects.filter(
        workspace_id=lead.workspace_id,
        object_type=Lead._meta.label_lower,
        object_id=str(lead.pk),
    ).count()
    return report_lines(counts), audit_entries


def _back_url(lead: Lead) -> str:
    """Where Cancel goes: the lead's page, or the Trash (a trashed lead's page is a 404)."""
    if lead.deleted_at is not None:
        return reverse("pipeline:trash")
    return reverse("pipeline:lead-detail", args=[lead.pk])


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@require_perm("leadcrm.gdpr_erase")
def lead_erase_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what will be erased and the confirmation form. POST: erase now, once the lead's
    email has been typed; a wrong one is a 400 that changes nothing."""
    lead = _lead(request, pk)
    form = LeadEraseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            erasure = lead_erase(
                lead=lead, actor=request.user, confirmation=form.cleaned_data["confirmation"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{erasure.leads_erased} lead erased. Its address is on the suppression list.",
            )
            url = reverse("erasure-detail", args=[erasure.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    erased, audit_entries = _erasure_preview(lead)
    context = {
        "lead": lead,
        "back_url": _back_url(lead),
        "form": form,
        "erased": erased,
        "audit_entries": audit_entries,
        "addresses": [lead.email, *lead.secondary_emails],
    }
    template = f"{ERASE}#lead-erase" if request.htmx else ERASE
    return render(request, template, context, status=400 if form.errors else 200)
