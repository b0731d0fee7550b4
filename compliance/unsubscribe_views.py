"""Pipeline → Unsubscribes (PRODUCT C3): who unsubscribed, when, how and from where.

A review surface, not a preference center: nothing is changed here. Re-subscribing happens on
the lead, by recording new consent with its source and proof.
"""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from compliance.unsubscribe_filters import (
    DEFAULT_SORT,
    SORTS,
    UnsubscribeFilterSet,
    unsubscribe_filterset,
)
from compliance.unsubscribes import EXPORT_FORMATS, unsubscribes_export, unsubscribes_load
from contacts.export import CONTENT_TYPES, export_disposition
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import require_perm

PAGE_SIZE = 50
TEMPLATE = "compliance/unsubscribes.html"
NOT_FILTERS = {"page", "sort"}


@dataclass(frozen=True)
class SortHeader:
    """A sortable column's link: the query that sorts by it, and its current direction."""

    query: str
    direction: str  # "ascending", "descending" or "" (not sorted by this column)


def _filterset(request: HttpRequest, data: QueryDict) -> UnsubscribeFilterSet:
    return unsubscribe_filterset(data, workspace=request.workspace, user=request.user)


def _without(data: QueryDict, *names: str) -> QueryDict:
    kept = data.copy()
    for name in names:
        kept.pop(name, None)
    return kept


def _applied(filterset: UnsubscribeFilterSet, data: QueryDict) -> QueryDict:
    """The query without the page and without what the filters refused (an unknown owner, a
    bad date): what the page shows, so an export of it exports the same rows."""
    refused = [
        f"{name}{suffix}" for name in filterset.errors for suffix in ("", "_after", "_before")
    ]
    return _without(data, "page", *refused)


def _sort_headers(data: QueryDict, current: str) -> dict[str, SortHeader]:
    """A click sorts by the column (newest first for "when"), or flips the current sort."""
    base = _without(data, "page", "sort")
    headers = {}
    for key in SORTS:
        first = f"-{key}" if key == "when" else key
        if current.removeprefix("-") == key:
            following = key if current.startswith("-") else f"-{key}"
            direction = "descending" if current.startswith("-") else "ascending"
        else:
            following, direction = first, ""
        query = base.copy()
        query["sort"] = following
        headers[key] = SortHeader(query.urlencode(), direction)
    return headers


@require_GET
@require_perm("leadcrm.view_unsubscribes")
def unsubscribe_list(request: HttpRequest) -> HttpResponse:
    filterset = _filterset(request, request.GET)
    events = filterset.qs
    # The page's ids first (index-only at scale), then its 50 rows with their lead and owner.
    ids = events.values_list("pk", flat=True)
    page = BoundedPaginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = unsubscribes_load(events, list(page.object_list))
    template = TEMPLATE
    if request.htmx and not request.htmx.boosted:
        template += "#unsubscribe-results"
    context = {
        "filterset": filterset,
        "page": page,
        "rows": rows,
        "query": _without(request.GET, "page").urlencode(),
        "export_query": _applied(filterset, request.GET).urlencode(),
        "sort_headers": _sort_headers(request.GET, filterset.current_sort),
        "sort_param": "" if filterset.current_sort == DEFAULT_SORT else filterset.current_sort,
        "filtered": any(v for k, v in request.GET.items() if k not in NOT_FILTERS),
    }
    return render(request, template, context)


@require_GET
@require_perm("leadcrm.view_unsubscribes", "leadcrm.export_leads")
def unsubscribe_export(request: HttpRequest) -> HttpResponse:
    """The filtered list, in its order, as CSV or XLSX, streamed."""
    fmt = request.GET.get("format", "csv")
    if fmt not in EXPORT_FORMATS:
        return HttpResponse("Choose csv or xlsx.", status=400, content_type="text/plain")
    data = _without(request.GET, "format", "page")
    filterset = _filterset(request, data)
    if not filterset.is_valid():  # an ignored filter would export more than was asked for
        return HttpResponse(
            "A filter of this export does not apply; export again from the page.",
            status=400,
            content_type="text/plain",
        )
    content = unsubscribes_export(
        workspace=request.workspace,
        actor=request.user,
        events=filterset.qs,
        fmt=fmt,
        filters={name: values for name, values in _without(data, "q").lists() if any(values)},
        searched=bool(data.get("q", "").strip()),
    )
    response = StreamingHttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = export_disposition("unsubscribes", fmt)
    response["Cache-Control"] = "private, no-store"  # personal data: never in a shared cache
    return response
