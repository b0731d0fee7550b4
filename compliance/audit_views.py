"""Settings → Audit log (PRODUCT C7): who changed what, and when, in this workspace.

Newest first, 50 a page, filtered by compliance.audit_filters. The page stays fast on millions
of entries: it reads them in the order of the (workspace, -created_at) index, its paginator
counts at most 10,001 rows, and a page makes the same few queries whatever its entries are
(the actors come joined; which leads still exist is asked once for the page).
"""

import json
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from compliance.audit_filters import AuditLogFilterSet, action_label, object_type_label
from contacts.filters import as_id
from contacts.queries import leads_for
from leadcrm.models import AuditLog, Workspace
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import require_perm

TEMPLATE = "compliance/audit_log.html"
PAGE_SIZE = 50
LEAD = "contacts.lead"
VALUE_CHARS = 80  # a value longer than this is cut, with "…"
MAX_CHANGE_LINES = 15
# Keys whose value is one list, not an [old, new] pair (bulk entries: which leads, which tags).
LIST_KEYS = {"lead_ids", "add_tags", "remove_tags"}


@dataclass(frozen=True)
class AuditRow:
    entry: AuditLog
    who: str  # "" for System
    action: str
    object_type: str
    lead_url: str  # a live lead's page, else ""
    in_trash: bool
    history_query: str  # the filter showing every entry about the same object, else ""
    changes: list[tuple[str, str]]
    more_changes: int


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Truncator(str(value)).chars(VALUE_CHARS)


def change_lines(changes: Any) -> list[tuple[str, str]]:
    """("field", "old → new") for a pair, ("field", "value") otherwise; empty values skipped."""
    if not isinstance(changes, dict):
        return [("changes", _value(changes))] if changes else []
    lines = []
    # Sorted, lists of ids last: PostgreSQL's jsonb keeps keys in its own order, not as written.
    for name, value in sorted(changes.items(), key=lambda item: (item[0] in LIST_KEYS, item[0])):
        if value in ({}, []):
            continue
        if isinstance(value, list) and len(value) == 2 and name not in LIST_KEYS:
            text = f"{_value(value[0])} → {_value(value[1])}"
        elif isinstance(value, list) and name in LIST_KEYS:
            text = Truncator(", ".join(str(item) for item in value)).chars(VALUE_CHARS)
        else:
            text = _value(value)
        lines.append((name.replace("_", " "), text))
    return lines


def _who(entry: AuditLog) -> str:
    if entry.actor is not None:
        return entry.actor.display_name
    return entry.actor_label  # a deleted user keeps the email they had; "" is the System


def audit_rows(entries: list[AuditLog], *, workspace: Workspace) -> list[AuditRow]:
    """The page's entries as shown, with one query for whether their leads still exist."""
    lead_ids = {as_id(e.object_id) for e in entries if e.object_type == LEAD and as_id(e.object_id)}
    trashed_at = (
        dict(
            leads_for(workspace, include_deleted=True)
            .filter(pk__in=lead_ids)
            .values_list("pk", "deleted_at")
        )
        if lead_ids
        else {}
    )
    rows = []
    for entry in entries:
        lead_id = as_id(entry.object_id) if entry.object_type == LEAD else None
        live = lead_id in trashed_at and trashed_at[lead_id] is None
        history = ""
        if entry.object_type and entry.object_id:
            history = urlencode({"object_type": entry.object_type, "object_id": entry.object_id})
        lines = change_lines(entry.changes)
        rows.append(
            AuditRow(
                entry=entry,
                who=_who(entry),
                action=action_label(entry.action),
                object_type=object_type_label(entry.object_type),
                lead_url=reverse("pipeline:lead-detail", args=[lead_id]) if live else "",
                in_trash=lead_id in trashed_at and not live,
                history_query=history,
                changes=lines[:MAX_CHANGE_LINES],
                more_changes=max(0, len(lines) - MAX_CHANGE_LINES),
            )
        )
    return rows


@require_GET
@vary_on_headers("HX-Request")
@require_perm("leadcrm.view_audit_log")
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditLog.objects.filter(workspace=request.workspace)
    filterset = AuditLogFilterSet(request.GET, queryset=entries, workspace=request.workspace)
    # -id after -created_at only breaks ties, so pages never overlap; the index gives the order.
    ordered = filterset.qs.select_related("actor").order_by("-created_at", "-id")
    page = BoundedPaginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "page": page,
        "rows": audit_rows(list(page.object_list), workspace=request.workspace),
        "query": query.urlencode(),
        "filtered": any(value for key, value in request.GET.items() if key != "page"),
    }
    template = TEMPLATE
    if request.htmx and not request.htmx.boosted:
        template += "#audit-results"
    return render(request, template, context)
