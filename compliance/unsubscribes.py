"""Reads for the Unsubscribes page (PRODUCT C3): who unsubscribed, when, how and from where.

The page's rows are opt-out ConsentEvents: each live lead whose email status is Unsubscribed
appears once, as its latest opt-out. Every service that unsubscribes a lead (lead_unsubscribe,
leads_unsubscribe) writes that event.

At a million leads with 50,000 unsubscribed (PostgreSQL), a page's rows take two queries
(besides the bounded count): the page's event ids, read from two small covering indexes of
migration contacts 0011 (the workspace's opt-outs by time; the unsubscribed live leads, with
the columns the filters and sorts read), then the page's 50 rows (unsubscribes_load). Which
opt-out is a lead's latest is decided without a lookup for most rows (see unsubscribes_for).
"""

from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from contacts import export
from contacts.models import Channel, ConsentEvent, ConsentStatus, EmailStatus, LeadStatus
from contacts.queries import leads_for
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace

EXPORT_CHUNK = 2000  # rows fetched at a time while an export streams


def _later_opt_out(event: Callable[[str], OuterRef]) -> Exists:
    """Another opt-out of the same lead, later than the event `event` refers to."""
    return Exists(
        ConsentEvent.objects.filter(
            lead_id=event("lead_id"), status=ConsentStatus.OPTED_OUT
        ).filter(
            Q(occurred_at__gt=event("occurred_at"))
            | Q(occurred_at=event("occurred_at"), pk__gt=event("pk"))
        )
    )


def unsubscribes_for(workspace: Workspace | int, *, join_lead: bool) -> QuerySet[ConsentEvent]:
    """The latest opt-out of each live lead of the workspace whose email status is
    Unsubscribed, newest first (one row per lead).

    A lead's consent fields copy its latest consent event (contacts.consent), so an opted-out
    lead's latest opt-out is the one at its consent_captured_at: a comparison, no lookup. Only
    where that does not hold (consent moved on since, to Pending say; an earlier opt-out of a
    lead that unsubscribed again) does NOT EXISTS look for a later opt-out.

    Two shapes, the same rows. join_lead=True joins the lead, for a filter or sort on its
    columns: PostgreSQL reads it as one hash join of the two covering indexes, some tens of
    milliseconds at 50,000 unsubscribed whatever the page. Without it, a subquery checks the
    lead of each opt-out read in time order, only until the page is full, so the newest pages
    cost next to nothing. (Joined, PostgreSQL underestimates the rows, as it can't know that
    opt-outs belong to unsubscribed leads, and joins them all even for page 1.)
    """
    events = ConsentEvent.objects.filter(workspace=workspace, status=ConsentStatus.OPTED_OUT)
    if join_lead:
        copied_by_lead = Q(
            lead__consent_status=ConsentStatus.OPTED_OUT,
            occurred_at=F("lead__consent_captured_at"),
        )
        events = events.filter(
            copied_by_lead | ~_later_opt_out(OuterRef),
            lead__workspace=workspace,
            lead__email_status=EmailStatus.UNSUBSCRIBED,
            lead__deleted_at__isnull=True,
        )
    else:
        copied_by_lead = Q(
            consent_status=ConsentStatus.OPTED_OUT,
            consent_captured_at=OuterRef("occurred_at"),
        )
        lead = leads_for(workspace).filter(
            copied_by_lead | ~_later_opt_out(lambda name: OuterRef(OuterRef(name))),
            pk=OuterRef("lead_id"),
            email_status=EmailStatus.UNSUBSCRIBED,
        )
        # A scalar subquery, not EXISTS, which PostgreSQL would turn back into the join.
        events = events.alias(listed_lead=Subquery(lead.values("pk")[:1])).filter(
            listed_lead__isnull=False
        )
    return events.order_by("-occurred_at", "-pk")


def unsubscribes_load(events: QuerySet[ConsentEvent], ids: list[int]) -> list[ConsentEvent]:
    """The rows of one page, in the page's order, with their lead and its owner.

    The page's ids come first from a query that reads only indexed columns, so deep pages
    skip over narrow index entries instead of whole leads; then one query loads the 50 rows.
    """
    by_id = events.filter(pk__in=ids).select_related("lead", "lead__owner").in_bulk()
    return [by_id[pk] for pk in ids if pk in by_id]


# Export ---------------------------------------------------------------------------------------

EXPORT_FORMATS = ("csv", "xlsx")
CHANNEL_LABELS = dict(Channel.choices)
STATUS_LABELS = dict(LeadStatus.choices)
# contacts.export's writers read only the headers; the getters here take a row of values().
EXPORT_COLUMNS = [
    export.ExportColumn("email", "Email", itemgetter("lead__email")),
    export.ExportColumn("first_name", "First name", itemgetter("lead__first_name")),
    export.ExportColumn("last_name", "Last name", itemgetter("lead__last_name")),
    export.ExportColumn("unsubscribed_at", "Unsubscribed at", itemgetter("occurred_at")),
    export.ExportColumn(
        "how", "How", lambda row: CHANNEL_LABELS.get(row["channel"], row["channel"])
    ),
    export.ExportColumn("source", "Source", itemgetter("source")),
    export.ExportColumn(
        "status", "Status", lambda row: STATUS_LABELS.get(row["lead__status"], row["lead__status"])
    ),
    export.ExportColumn("owner", "Owner", itemgetter("lead__owner__email")),
]
EXPORT_FIELDS = [
    "lead__email",
    "lead__first_name",
    "lead__last_name",
    "occurred_at",
    "channel",
    "source",
    "lead__status",
    "lead__owner__email",
]


def unsubscribes_export_rows(events: QuerySet[ConsentEvent]) -> Iterator[list[Any]]:
    """One list of raw values per row, in the list's order, read a chunk at a time (through a
    server-side cursor on PostgreSQL), so 50,000 rows never sit in memory together. Plain
    values, not model instances: a tenth of the time for a whole workspace's unsubscribes."""
    for row in events.values(*EXPORT_FIELDS).iterator(chunk_size=EXPORT_CHUNK):
        yield [column.getter(row) for column in EXPORT_COLUMNS]


def unsubscribes_export(
    *,
    workspace: Workspace,
    actor: User,
    events: QuerySet[ConsentEvent],
    fmt: str,
    filters: dict[str, list[str]],
    searched: bool,
) -> Iterator[str] | Iterator[bytes]:
    """Audit the export, then return its file's content, made by the one export service's
    writers (formula-safe cells) as it is read. The entry has the count and the filters but
    never a searched text, which may be an email."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format: {fmt}")
    audit_record(
        actor=actor,
        workspace=workspace,
        action="unsubscribes.export",
        object_repr="Unsubscribes",
        changes={
            "format": fmt,
            "count": events.order_by().count(),
            "filters": filters,
            "searched": searched,
        },
    )
    rows = unsubscribes_export_rows(events)
    if fmt == "csv":
        return export.csv_stream(EXPORT_COLUMNS, rows)
    return export.xlsx_stream(EXPORT_COLUMNS, rows)
