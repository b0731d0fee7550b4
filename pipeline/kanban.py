"""Pipeline → Leads Kanban (PRODUCT K1–K4): a column per status, moves saved lead by lead."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from contacts.filters import as_id
from contacts.models import Channel, LeadStatus
from contacts.queries import leads_for
from contacts.services import LeadChanged, lead_update
from leadcrm.pagination import BOUND, MAX_OFFSET
from leadcrm.permissions import member_can, require_perm
from leadcrm.views import get_scoped_or_404
from pipeline.filters import LeadListFilterSet
from pipeline.views import NOT_FILTERS, lead_filterset, list_query

CARDS_PER_LOAD = 25
CARD_ORDER = ("-score", "-id")  # served by the (workspace, status, -score, -id) index


def _count_label(leads: QuerySet) -> tuple[int | None, str]:
    """An exact count up to BOUND, else "10,000+": never a scan of the whole column."""
    count = leads.order_by()[: BOUND + 1].count()
    if count > BOUND:
        return None, f"{BOUND:,}+"
    return count, f"{count:,}"


def _column(filterset: LeadListFilterSet, status: str, offset: int = 0) -> dict:
    leads = filterset.qs.filter(status=status)
    cards = list(leads.order_by(*CARD_ORDER)[offset : offset + CARDS_PER_LOAD + 1])
    return {
        "status": status,
        "label": LeadStatus(status).label,
        "cards": cards[:CARDS_PER_LOAD],
        "more": len(cards) > CARDS_PER_LOAD,
        "next_offset": offset + CARDS_PER_LOAD,
    }


@require_GET
@require_perm("leadcrm.view_leads")
def kanban(request: HttpRequest) -> HttpResponse:
    filterset = lead_filterset(request, request.GET)
    columns = []
    for status in LeadStatus.values:
        column = _column(filterset, status)
        column["count"], column["count_label"] = _count_label(filterset.qs.filter(status=status))
        columns.append(column)
    template = "pipeline/kanban.html"
    if request.htmx and not request.htmx.boosted:
        template += "#board"
    context = {
        "filterset": filterset,
        "columns": columns,
        "statuses": LeadStatus.choices,
        "query": list_query(request.GET),
        "may_move": member_can(request.membership, "leadcrm.change_lead"),
        "active_filters": sum(1 for k, v in request.GET.items() if v and k not in NOT_FILTERS),
    }
    return render(request, template, context)


@require_GET
@require_perm("leadcrm.view_leads")
def kanban_column(request: HttpRequest, status: str) -> HttpResponse:
    """The next cards of one column ("Load more")."""
    if status not in LeadStatus.values:
        return HttpResponse("Unknown status.", status=404, content_type="text/plain")
    try:
        offset = min(max(0, int(request.GET.get("offset", 0))), MAX_OFFSET)
    except ValueError:
        offset = 0
    params = request.GET.copy()
    params.pop("offset", None)  # the next "Load more" names its own offset
    context = {
        "column": _column(lead_filterset(request, request.GET), status, offset),
        "query": list_query(params),
        "statuses": LeadStatus.choices,
        "may_move": member_can(request.membership, "leadcrm.change_lead"),
    }
    return render(request, "pipeline/kanban.html#column-cards", context)


@require_POST
@require_perm("leadcrm.change_lead")
def kanban_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a card (K2/K3). Drag and drop gets JSON; the "Move to…" menu gets a redirect."""
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    status = request.POST.get("status", "")
    if status not in LeadStatus.values:
        return _refused(request, wants_json, "Choose one of the board's columns.", 400)
    lead = get_scoped_or_404(request, leads_for(request.workspace), pk=pk)
    before = lead.status
    version = request.POST.get("version", "")
    try:
        lead = lead_update(
            lead=lead,
            actor=request.user,
            expected_version=as_id(version),
            status=status,
            channel=Channel.KANBAN,
        )
    except LeadChanged as changed:
        text = f"{lead} was changed by someone else meanwhile; the board shows it as it is now."
        return _refused(request, wants_json, text, 409, current=changed.lead)
    except ValidationError as error:
        return _refused(request, wants_json, " ".join(error.messages), 409)
    text = _moved_text(lead, before, status)
    if wants_json:
        card = _card(request, lead)
        return JsonResponse({"status": lead.status, "from": before, "message": text, "card": card})
    messages.success(request, text)
    return _back_to_board(request)


def _moved_text(lead, before: str, wanted: str) -> str:
    if wanted == LeadStatus.UNSUBSCRIBED and lead.status == LeadStatus.CONVERTED:
        return "Unsubscribed from email; still Converted."
    if lead.status == before:
        return f"{lead} is already {lead.get_status_display()}."
    return f"{lead} moved to {lead.get_status_display()}."


def _card(request: HttpRequest, lead) -> str:
    context = {
        "lead": lead,
        "statuses": LeadStatus.choices,
        "may_move": True,
        "query": request.POST.get("query", ""),
    }
    return render_to_string("pipeline/kanban.html#card", context, request=request)


def _refused(
    request: HttpRequest, wants_json: bool, text: str, status: int, current=None
) -> HttpResponse:
    if wants_json:
        data = {"message": text}
        if current is not None:  # the card as it is now, for the board to show instead
            data.update(status=current.status, card=_card(request, current))
        return JsonResponse(data, status=status)
    messages.error(request, text)
    return _back_to_board(request)


def _back_to_board(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    return redirect(reverse("pipeline:kanban") + (f"?{query}" if query else ""))
