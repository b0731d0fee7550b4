"""Pipeline → a lead's page (PRODUCT L7) and a company's page (L9).

The lead page runs a constant number of queries whatever the lead holds: every list on it
(timeline, consent ledger, segments, score breakdown) is paginated or bounded.
"""

from dataclasses import dataclass
from datetime import date
from functools import reduce
from itertools import groupby
from operator import attrgetter, or_
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, Q
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import (
    HttpResponseClientRefresh,
    push_url,
    reswap,
    retarget,
    trigger_client_event,
)
from django_tables2 import RequestConfig

from contacts import scoring
from contacts.activities import activity_record
from contacts.consent import consent_record, lead_is_unsubscribed
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    Company,
    ConsentStatus,
    CustomField,
    CustomFieldType,
    EmailStatus,
    Lead,
    ScoringRule,
    Tag,
)
from contacts.normalize import country_name
from contacts.quality import QualityLine, quality_lines, quality_of, weights_for
from contacts.queries import lead_timeline, leads_for
from contacts.services import LeadChanged, lead_update
from contacts.tables import lead_table
from leadcrm.permissions import member_can, require_perm
from leadcrm.views import get_scoped_or_404
from pipeline.forms import (
    BANT_FIELDS,
    LOGGABLE_TYPES,
    ActivityLogForm,
    BantForm,
    ConsentForm,
    errors_add,
)
from pipeline.sequence_views import sequence_context
from pipeline.views import table_paginate
from segments.forms import SegmentChoiceForm
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
from segments.services import segment_add_leads, segment_remove_leads

DETAIL = "pipeline/lead_detail.html"
TIMELINE_PAGE_SIZE = 20
SCORED_LIST_LIMIT = 50  # counted activities listed one by one; the rule totals count all
LEDGER_LIMIT = 50
LEDGER_ALL_LIMIT = 1000  # "Show all" still stops somewhere: the GDPR export has every event
SEGMENT_LIMIT = 100
COMPANY_PAGE_SIZE = 50
COMPANY_COLUMNS = ["name", "email", "job_title", "status", "owner", "score"]

EMAIL_STATUS_BADGES = {
    EmailStatus.ACTIVE: "text-bg-success",
    EmailStatus.INACTIVE: "text-bg-secondary",
    EmailStatus.BOUNCED: "text-bg-danger",
    EmailStatus.UNSUBSCRIBED: "text-bg-dark",
}
ACTIVITY_ICONS = {
    ActivityType.EMAIL_SENT: "send",
    ActivityType.EMAIL_OPENED: "envelope-open",
    ActivityType.EMAIL_CLICKED: "cursor",
    ActivityType.EMAIL_REPLIED: "reply",
    ActivityType.EMAIL_BOUNCED: "envelope-x",
    ActivityType.PAGE_VISITED: "globe",
    ActivityType.CALL: "telephone",
    ActivityType.MEETING: "people",
    ActivityType.NOTE: "sticky",
    ActivityType.FORM_SUBMIT: "ui-checks",
    ActivityType.DEAL_CREATED: "briefcase",
    ActivityType.DEAL_WON: "trophy",
    ActivityType.DEAL_LOST: "x-octagon",
    ActivityType.STATUS_CHANGED: "arrow-left-right",
    ActivityType.UNSUBSCRIBED: "slash-circle",
    ActivityType.IMPORTED: "upload",
    ActivityType.MERGED: "intersect",
}


# Reads -------------------------------------------------------------------------------------


def _lead(request: HttpRequest, pk: int) -> Lead:
    """A live lead of the current workspace; trashed or another workspace's is a 404."""
    return get_scoped_or_404(request, leads_for(request.workspace), pk=pk)


def _lead_for_page(request: HttpRequest, pk: int) -> Lead:
    tags = Prefetch("tags", queryset=Tag.objects.order_by(Lower("name")))
    leads = leads_for(request.workspace).select_related("company", "owner").prefetch_related(tags)
    return get_scoped_or_404(request, leads, pk=pk)


def lead_url(lead: Lead) -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk])


def _safe_href(url: str) -> str:
    """Only web links become hrefs: imported data may hold anything (javascript:, say)."""
    return url if url.lower().startswith(("https://", "http://")) else ""


def _custom_value(field: CustomField, value) -> str:
    """A stored custom field value as a person reads it ("" when there is none)."""
    if value is None or value == "":
        return ""
    if field.type == CustomFieldType.BOOLEAN:
        return "Yes" if value else "No"
    if field.type == CustomFieldType.NUMBER and isinstance(value, (int, float)):
        return formats.number_format(value, force_grouping=True)
    if field.type == CustomFieldType.DATE:
        try:
            return formats.date_format(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    return str(value)


def _custom_fields(lead: Lead) -> list[tuple[CustomField, str]]:
    fields = CustomField.objects.for_workspace(lead.workspace_id).active()
    return [(field, _custom_value(field, lead.attributes.get(field.key))) for field in fields]


@dataclass
class ScoreLine:
    """One rule's share of the score: the counted activities it matched, and their points."""

    rule: ScoringRule
    activities: int = 0
    points: int = 0


@dataclass
class ScoredActivity:
    """One counted activity as the breakdown lists it: "+20 Page Visited /pricing · 3 Mar"."""

    activity: Activity
    points: int
    url: str  # what is worth showing of its URL ("" when it has none)


def _rule_condition(rule: ScoringRule) -> Q:
    """The activities a rule matches, as scoring.activity_effect() and the recompute match."""
    condition = Q(type=rule.activity_type)
    if rule.url_contains:
        condition &= Q(url__icontains=rule.url_contains)
    return condition


def _any_rule(rules: list[ScoringRule]) -> Q:
    return reduce(or_, map(_rule_condition, rules))


def _scored(activity: Activity, rules: list[ScoringRule]) -> ScoredActivity:
    """The activity's points, and its URL's path (whole when a rule's condition is not in it)."""
    url = activity.url or ""
    try:
        shown = urlsplit(url).path or url
    except ValueError:  # not a URL at all (an import may hold anything)
        shown = url
    for rule in rules:
        condition = rule.url_contains.lower()
        matched = rule.activity_type == activity.type and condition in url.lower()
        if matched and condition not in shown.lower():
            shown = url
    return ScoredActivity(activity, scoring.activity_effect(rules, activity)[0], shown)


def _score_breakdown(lead: Lead) -> dict:
    """The engagement score explained (PRODUCT A3): what each rule added since the latest
    reset, and the latest SCORED_LIST_LIMIT counted activities one by one.

    Four queries whatever the lead holds: the rules, the latest reset, the count per rule
    (exact: the totals add up to what the recompute finds), the latest counted activities.
    """
    rules = scoring.rules_for(lead.workspace_id)
    if not rules:
        return {"has_rules": False}
    point_rules = [rule for rule in rules if not rule.resets]
    reset_rules = [rule for rule in rules if rule.resets]
    activities = lead_timeline(lead).select_related(None).only("type", "url", "occurred_at")
    reset = activities.filter(_any_rule(reset_rules)).first() if reset_rules else None
    if reset is not None:  # as the recompute does: only what happened strictly after it
        activities = activities.filter(occurred_at__gt=reset.occurred_at)
    lines, listed, counted = [], [], 0
    if point_rules:
        scoring_any = _any_rule(point_rules)
        per_rule = {
            f"rule_{i}": Count("pk", filter=_rule_condition(rule))
            for i, rule in enumerate(point_rules)
        }
        counts = activities.aggregate(counted=Count("pk", filter=scoring_any), **per_rule)
        counted = counts["counted"]
        for i, rule in enumerate(point_rules):
            if matched := counts[f"rule_{i}"]:
                lines.append(ScoreLine(rule, matched, matched * rule.points))
        latest = activities.filter(scoring_any)[:SCORED_LIST_LIMIT]
        listed = [_scored(activity, point_rules) for activity in latest]
    total = sum(line.points for line in lines)
    return {
        "has_rules": True,
        "lines": lines,
        "total": total,
        "clamped": scoring.score_clamp(total) != total,
        "activities": listed,
        "older": counted - len(listed),
        "older_points": total - sum(item.points for item in listed),
        "reset": reset,
    }


@dataclass
class QualityPart:
    """One part of the quality score (Contact completeness, …) with its items."""

    name: str
    lines: list[QualityLine]

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    @property
    def max_points(self) -> int:
        return sum(line.max_points for line in self.lines)


def _quality(lead: Lead) -> dict:
    """The quality score item by item, grouped by part (PRODUCT A4)."""
    weights = weights_for(lead.workspace_id)
    lines = quality_lines(lead, weights)
    parts = [QualityPart(name, list(items)) for name, items in groupby(lines, attrgetter("part"))]
    return {"parts": parts, "total": quality_of(lead, weights)}


def _timeline(lead: Lead, params: QueryDict) -> dict:
    """One page of the lead's activities, filtered by the URL's ?type= and ?tpage=."""
    types = [t for t in params.getlist("type") if t in ActivityType.values]
    paginator = Paginator(lead_timeline(lead, types=types), TIMELINE_PAGE_SIZE)
    page: Page = paginator.get_page(params.get("tpage"))
    page.object_list = list(page.object_list)
    for activity in page.object_list:
        activity.icon = ACTIVITY_ICONS.get(activity.type, "dot")
        activity.href = _safe_href(activity.url)
    return {
        "lead": lead,
        "timeline": page,
        "timeline_types": types,
        "timeline_query": urlencode([("type", t) for t in types]),
        "activity_types": ActivityType.choices,
    }


def _segments(lead: Lead) -> list[SegmentMembership]:
    memberships = SegmentMembership.objects.filter(
        lead=lead, segment__workspace=lead.workspace_id
    ).select_related("segment")
    return list(memberships.order_by(Lower("segment__name"), "segment_id")[: SEGMENT_LIMIT + 1])


def _addable_segments(lead: Lead):
    """The static segments the lead could join: not retired, not already holding it."""
    return (
        Segment.objects.for_workspace(lead.workspace_id)
        .filter(kind=SegmentKind.STATIC)
        .exclude(state=SegmentState.RETIRED)
        .exclude(memberships__lead=lead)
        .order_by(Lower("name"), "pk")
    )


def _segments_context(request: HttpRequest, lead: Lead) -> dict:
    """The Segments panel: the lead's static segments, and what it could be added to."""
    segments = _segments(lead)
    may_change = member_can(request.membership, "leadcrm.add_to_static_segment", lead)
    return {
        "lead": lead,
        "segments": segments[:SEGMENT_LIMIT],
        "segments_cut": len(segments) > SEGMENT_LIMIT,
        "may_change_segments": may_change,
        "segment_choices": list(_addable_segments(lead)[:SEGMENT_LIMIT]) if may_change else [],
    }


def _ledger(lead: Lead, *, show_all: bool = False) -> dict:
    """The consent history, newest first: the latest LEDGER_LIMIT events, or with ?ledger=all
    up to LEDGER_ALL_LIMIT; counted only when cut (a lead rarely has that many)."""
    limit = LEDGER_ALL_LIMIT if show_all else LEDGER_LIMIT
    events = lead.consent_events.select_related("actor").order_by("-occurred_at", "-id")
    ledger = list(events[: limit + 1])
    cut = len(ledger) > limit
    return {
        "ledger": ledger[:limit],
        "ledger_cut": cut,
        "ledger_total": lead.consent_events.count() if cut else len(ledger),
        "ledger_all": show_all,
    }


def _allowed(request: HttpRequest, lead: Lead) -> dict[str, bool]:
    membership = request.membership
    return {
        "edit": member_can(membership, "leadcrm.change_lead", lead),
        "delete": member_can(membership, "leadcrm.delete_lead", lead),
        "log": member_can(membership, "leadcrm.log_activity", lead),
        "consent": member_can(membership, "leadcrm.change_consent", lead),
        "gdpr_export": member_can(membership, "leadcrm.gdpr_export", lead),
        "gdpr_erase": member_can(membership, "leadcrm.gdpr_erase", lead),
    }


def _log_form(request: HttpRequest) -> ActivityLogForm:
    wanted = request.GET.get("log", "")
    return ActivityLogForm(initial={"type": wanted} if wanted in LOGGABLE_TYPES else None)


def _consent_form(lead: Lead) -> ConsentForm:
    current = {
        "status": lead.consent_status,
        "type": lead.consent_type,
        "gdpr_basis": lead.gdpr_basis,
        "country": lead.consent_country,
    }
    return ConsentForm(initial=current)


def _consent_context(
    request: HttpRequest, lead: Lead, consent_form: ConsentForm | None = None
) -> dict:
    """The Consent card: current consent, the Change consent form, Do Not Contact, history."""
    return {
        "lead": lead,
        "allowed": _allowed(request, lead),
        "consent_form": consent_form or _consent_form(lead),
        # Opting in again after an unsubscribe needs a source and proof (consent_record).
        "consent_needs_proof": lead_is_unsubscribed(lead),
        "consent_country_name": country_name(lead.consent_country),
        **_ledger(lead, show_all=request.GET.get("ledger") == "all"),
    }


def _lead_page(request: HttpRequest, lead: Lead, status: int = 200, **forms) -> HttpResponse:
    context = {
        **_timeline(lead, request.GET),
        **_consent_context(request, lead, forms.get("consent_form")),
        "email_status_badge": EMAIL_STATUS_BADGES.get(lead.email_status, "text-bg-secondary"),
        "country_name": country_name(lead.country),
        "linkedin_href": _safe_href(lead.linkedin_url),
        "custom_fields": _custom_fields(lead),
        "score": _score_breakdown(lead),
        "quality": _quality(lead),
        "bant_form": forms.get("bant_form") or _bant_form(request, lead),
        "bant_stale": forms.get("bant_stale"),
        **_segments_context(request, lead),
        **sequence_context(request, lead),
        "log_form": forms.get("log_form") or _log_form(request),
    }
    return render(request, DETAIL, context, status=status)


# Views -------------------------------------------------------------------------------------


@require_GET
@vary_on_headers("HX-Request")
@require_perm("leadcrm.view_leads")
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    target = request.htmx.target if request.htmx else None
    if target == "timeline":  # its type filter and its pages
        return render(request, f"{DETAIL}#timeline", _timeline(_lead(request, pk), request.GET))
    if target == "consent-history":  # "Show all N changes" (?ledger=all)
        context = _consent_context(request, _lead(request, pk))
        return render(request, f"{DETAIL}#consent-history", context)
    if target == "consent":  # the card after a change elsewhere (Do Not Contact redirects here)
        context = {**_consent_context(request, _lead(request, pk)), "oob": True}
        return render(request, f"{DETAIL}#consent-changed", context)
    return _lead_page(request, _lead_for_page(request, pk))


@require_POST
@require_perm("leadcrm.log_activity")
def lead_activity_create(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead(request, pk)
    form = ActivityLogForm(request.POST)
    if not form.is_valid():
        return _log_form_invalid(request, lead, form)
    try:
        activity = activity_record(
            lead=lead, actor=request.user, source=Channel.MANUAL, **form.cleaned_data
        )
    except ValidationError as error:
        errors_add(form, error)
        return _log_form_invalid(request, lead, form)
    messages.success(request, f"{activity.get_type_display()} logged.")
    if not request.htmx:
        return redirect(lead_url(lead))
    return _activity_logged(request, lead, activity)


def _log_form_invalid(request: HttpRequest, lead: Lead, form: ActivityLogForm) -> HttpResponse:
    if not request.htmx:
        return _lead_page(request, _lead_for_page(request, lead.pk), status=400, log_form=form)
    response = render(
        request, f"{DETAIL}#log-activity", {"lead": lead, "log_form": form}, status=400
    )
    return reswap(retarget(response, "#log-activity"), "outerHTML")


def _activity_logged(request: HttpRequest, lead: Lead, activity: Activity) -> HttpResponse:
    """The refreshed timeline (all types, first page), a blank form and the new score."""
    # The new entry is on the first page of the unfiltered timeline.
    context = {**_timeline(lead, QueryDict()), "log_form": ActivityLogForm(), "oob": True}
    context["score"] = _score_breakdown(lead)
    context["quality"] = _quality(lead)  # its engagement part follows the score
    response = render(request, f"{DETAIL}#activity-logged", context)
    push_url(response, lead_url(lead))
    return trigger_client_event(response, "lead-updated", {"id": lead.pk, "activity": activity.pk})


@require_POST
@require_perm("leadcrm.change_consent")
def lead_consent_change(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead(request, pk)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        return _consent_form_invalid(request, lead, form)
    try:
        event = consent_record(
            lead=lead,
            actor=request.user,
            channel=Channel.MANUAL,
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("User-Agent", ""),
            **form.cleaned_data,
        )
    except ValidationError as error:
        errors_add(form, error)
        return _consent_form_invalid(request, lead, form)
    messages.success(request, _consent_message(event.status))
    if request.htmx:  # status, email status and timeline may have changed too: reload
        return HttpResponseClientRefresh()
    return redirect(lead_url(lead) + "#consent")


def _consent_message(status: str) -> str:
    if status == ConsentStatus.OPTED_OUT:
        return "Consent recorded: Opted Out. The lead is unsubscribed from email."
    return f"Consent recorded: {ConsentStatus(status).label}."


def _consent_form_invalid(request: HttpRequest, lead: Lead, form: ConsentForm) -> HttpResponse:
    lead = _lead_for_page(request, lead.pk)  # as stored: the failed change altered nothing
    if not request.htmx:
        return _lead_page(request, lead, status=400, consent_form=form)
    return render(request, f"{DETAIL}#consent", _consent_context(request, lead, form), status=400)


# Qualification (BANT, PRODUCT A6) ----------------------------------------------------------


def _bant_form(request: HttpRequest, lead: Lead) -> BantForm | None:
    """The card's form when the page opens with ?edit=bant (the Edit link without JS)."""
    if request.GET.get("edit") != "bant":
        return None
    if not member_can(request.membership, "leadcrm.change_lead", lead):
        return None
    return BantForm(lead=lead)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
@require_perm("leadcrm.change_lead")
def lead_bant(request: HttpRequest, pk: int) -> HttpResponse:
    """The BANT card for htmx: GET ?edit=1 swaps in its form, GET the card (Cancel), POST
    saves. Without JS a GET opens the lead page at the card."""
    lead = _lead(request, pk)
    if request.method == "POST":
        return _bant_save(request, lead)
    editing = "edit" in request.GET
    if not request.htmx:
        return redirect(lead_url(lead) + ("?edit=bant" if editing else "") + "#bant")
    return _bant_card(request, lead, BantForm(lead=lead) if editing else None)


def _bant_save(request: HttpRequest, lead: Lead) -> HttpResponse:
    form = BantForm(request.POST, lead=lead)
    if not form.is_valid():
        return _bant_invalid(request, lead, form, status=400)
    version = form.cleaned_data["version"]
    values = {name: form.cleaned_data[name] for name in BANT_FIELDS}
    try:
        saved = lead_update(lead=lead, actor=request.user, expected_version=version, **values)
    except LeadChanged as changed:
        form = form.with_version(changed.lead.version)  # saving again overwrites theirs
        stale = _bant_stale(changed)
        return _bant_invalid(request, changed.lead, form, status=409, stale=stale)
    except ValidationError as error:
        errors_add(form, error)
        return _bant_invalid(request, lead, form, status=400)
    saved_anything = saved.version != version
    messages.success(request, "Qualification saved." if saved_anything else "Nothing changed.")
    if not request.htmx:
        return redirect(lead_url(saved) + "#bant")
    # The card with its values; "Updated" out of band. Nothing else on the page holds the
    # version: the next Edit loads a fresh form.
    context = {"lead": saved, "allowed": _allowed(request, saved), "oob": True}
    response = render(request, f"{DETAIL}#bant-saved", context)
    return trigger_client_event(response, "lead-updated", {"id": saved.pk})


def _bant_stale(changed: LeadChanged) -> list[tuple[str, str]]:
    """(label, current value) of the BANT fields someone else changed meanwhile."""
    return [
        (BantForm.base_fields[name].label, getattr(changed.lead, name) or "—")
        for name in BANT_FIELDS
        if name in changed.changed_fields
    ]


def _bant_card(
    request: HttpRequest,
    lead: Lead,
    form: BantForm | None,
    stale: list | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "lead": lead,
        "allowed": _allowed(request, lead),
        "bant_form": form,
        "bant_stale": stale,
    }
    return render(request, f"{DETAIL}#bant", context, status=status)


def _bant_invalid(
    request: HttpRequest, lead: Lead, form: BantForm, *, status: int, stale: list | None = None
) -> HttpResponse:
    """The form again with its errors (or what changed meanwhile): 400, or 409 when stale."""
    if request.htmx:  # data-swap-errors swaps these in
        return _bant_card(request, lead, form, stale, status=status)
    page_lead = _lead_for_page(request, lead.pk)
    return _lead_page(request, page_lead, status=status, bant_form=form, bant_stale=stale)


@require_POST
@require_perm("leadcrm.add_to_static_segment")
def lead_segment_add(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead(request, pk)
    form = SegmentChoiceForm(request.POST, segments=_addable_segments(lead))
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["segment"]))
        return _segments_changed(request, lead)
    segment = form.cleaned_data["segment"]
    try:
        segment_add_leads(
            workspace=request.workspace,
            segment=segment,
            leads=leads_for(request.workspace).filter(pk=lead.pk),
            actor=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{lead} added to “{segment.name}”.")
    return _segments_changed(request, lead)


@require_POST
@require_perm("leadcrm.add_to_static_segment")
def lead_segment_remove(request: HttpRequest, pk: int, segment_pk: int) -> HttpResponse:
    lead = _lead(request, pk)
    segment = get_scoped_or_404(request, Segment.objects.all(), pk=segment_pk)
    try:
        removed = segment_remove_leads(
            workspace=request.workspace,
            segment=segment,
            leads=leads_for(request.workspace).filter(pk=lead.pk),
            actor=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if removed:
            messages.success(request, f"{lead} removed from “{segment.name}”.")
        else:
            messages.info(request, f"{lead} was not in “{segment.name}”.")
    return _segments_changed(request, lead)


def _segments_changed(request: HttpRequest, lead: Lead) -> HttpResponse:
    """The refreshed Segments panel for htmx (its message comes as a toast), else the page."""
    if not request.htmx:
        return redirect(lead_url(lead) + "#segments")
    return render(request, f"{DETAIL}#segments", _segments_context(request, lead))


@require_GET
@vary_on_headers("HX-Request")
@require_perm("leadcrm.view_leads")
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_scoped_or_404(request, Company.objects.for_workspace(request.workspace), pk=pk)
    leads = leads_for(request.workspace).filter(company=company).select_related("owner")
    table = lead_table(
        leads,
        columns=COMPANY_COLUMNS,
        custom_fields=[],
        selectable=False,
        htmx_target="#company-leads",
        order_by=("name",),
        empty_text="No leads at this company.",
    )
    RequestConfig(request, paginate=False).configure(table)  # sorting from the URL
    table_paginate(table, request.GET.get("page"), COMPANY_PAGE_SIZE)  # a fixed page size
    template = "pipeline/company_detail.html"
    if request.htmx and request.htmx.target == "company-leads":
        template += "#company-leads"
    return render(request, template, {"company": company, "table": table})
