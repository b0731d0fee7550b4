"""Activities (PRODUCT A1/A2): every one, from any source, goes through activity_record()
or its batch form, which keep the lead's timestamps and score up to date."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from contacts import quality, scoring
from contacts.bulk import rows_insert
from contacts.models import (
    CONTACT_ACTIVITY_TYPES,
    Activity,
    ActivityType,
    Channel,
    Lead,
    LeadStatus,
)
from contacts.queries import leads_for
from leadcrm.models import User, Workspace

SUBJECT_MAX = Activity._meta.get_field("subject").max_length
URL_MAX = Activity._meta.get_field("url").max_length
CHUNK = 5000  # ids per statement: well under SQLite's and PostgreSQL's parameter limits


def db_datetime(value: datetime) -> Any:
    """A datetime as the ORM stores it, for hand-written SQL: SQLite keeps datetimes as text,
    and an aware value passed raw would carry "+00:00" where the ORM's rows have none, so
    the two would not compare equal."""
    return connection.ops.adapt_datetimefield_value(value)


def id_chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def activities_insert_select(
    ids: list[int],
    *,
    type: str,
    at: datetime,
    actor: User | None,
    source: str,
    subject: str,
    data_sql: str,
) -> None:
    """INSERT … SELECT one activity per lead at `at`, without loading the leads."""
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Activity._meta.db_table}
                (workspace_id, lead_id, type, occurred_at, actor_id, source, subject, body, url,
                 data, created_at)
            SELECT workspace_id, id, %s, %s, %s, %s, %s, '', '', {data_sql}, %s
            FROM {Lead._meta.db_table} WHERE id IN ({placeholders})
            """,
            [type, db_datetime(at), actor.pk if actor else None, source, subject]
            + [db_datetime(at), *ids],
        )


def status_change_data_sql(new_status: str) -> str:
    """SQL for {"from": <old status>, "to": new} per row, on either database."""
    if connection.vendor == "postgresql":
        return f"jsonb_build_object('from', status, 'to', '{new_status}')"
    return f"json_object('from', status, 'to', '{new_status}')"


def status_change_record(
    lead: Lead,
    actor: User | None,
    old: str,
    new: str,
    channel: str,
    occurred_at: datetime | None = None,
) -> None:
    activity_record(
        lead=lead,
        type=ActivityType.STATUS_CHANGED,
        actor=actor,
        occurred_at=occurred_at,
        source=channel,
        subject=f"{LeadStatus(old).label} → {LeadStatus(new).label}",
        data={"from": old, "to": new},
    )


@transaction.atomic
def activity_record(
    *,
    lead: Lead,
    type: str,
    actor: User | None = None,
    occurred_at: datetime | None = None,
    source: str = Channel.MANUAL,
    subject: str = "",
    body: str = "",
    url: str = "",
    data: dict | None = None,
) -> Activity:
    """Record one activity; keeps the lead's timestamps and score up to date (PRODUCT A2/A3)."""
    if type not in ActivityType.values:
        raise ValidationError(f"Unknown activity type {type!r}.")
    occurred_at = occurred_at or timezone.now()
    if occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError("An activity cannot happen in the future.")
    activity = Activity(
        workspace_id=lead.workspace_id,
        lead=lead,
        type=type,
        actor=actor,
        occurred_at=occurred_at,
        source=source,
        subject=subject[:SUBJECT_MAX],
        body=body,
        url=url,
        data=data or {},
    )
    activity.full_clean(exclude=["workspace", "lead", "actor"])
    activity.save()
    current = Lead.objects.select_for_update().get(pk=lead.pk)
    # Only a strictly newer activity is folded in: one at the same time as the latest (a
    # reset, say) takes the recompute below, which counts only what comes after a reset.
    newest = current.last_activity_at is None or occurred_at > current.last_activity_at
    fields = [
        "last_activity_at",
        "last_contacted_at",
        "score",
        "score_points",
        "tier",
        "quality_score",
    ]
    if newest:
        current.last_activity_at = occurred_at
        points, resets = scoring.activity_effect(scoring.rules_for(current.workspace_id), activity)
        scoring.lead_score_apply(current, points, resets)
    if type in CONTACT_ACTIVITY_TYPES and (
        current.last_contacted_at is None or occurred_at > current.last_contacted_at
    ):
        current.last_contacted_at = occurred_at
    if newest:
        quality.lead_quality_apply(current)  # engagement is a part of it
    current.save(update_fields=fields)
    if not newest:  # an older activity can change what came after it: recompute
        scoring.leads_rescore(workspace=current.workspace_id, lead_ids=[current.pk])
        current.refresh_from_db(fields=["score", "score_points", "tier", "quality_score"])
    for name in fields:
        setattr(lead, name, getattr(current, name))
    return activity


# What activities_record reads of each lead: the score fields it folds events into, and the
# fields of the quality score, which counts the engagement score in.
_BATCH_FIELDS = [
    "workspace_id",
    "score",
    "score_points",
    "tier",
    "quality_score",
    "last_activity_at",
    "last_contacted_at",
    *quality.QUALITY_FIELDS,
]
# The columns of an activity row as the batch writers (here and the import's) copy them.
ACTIVITY_COLUMNS = [
    "workspace_id",
    "lead_id",
    "type",
    "occurred_at",
    "actor_id",
    "source",
    "subject",
    "body",
    "url",
    "data",
    "created_at",
]
_WRITTEN = [
    ("score", "integer"),
    ("score_points", "integer"),
    ("tier", "varchar"),
    ("quality_score", "integer"),
    ("last_activity_at", "timestamptz"),
    ("last_contacted_at", "timestamptz"),
]


@transaction.atomic
def activities_record(*, workspace: Workspace, activities: Sequence[Activity]) -> int:
    """Record many activities (imports, events): one insert (COPY on PostgreSQL, so the
    Activity objects given get no id), and each lead written once.

    The leads are locked in id order. A lead whose new activities all come after its latest
    one has its score folded forward in Python, as activity_record does; the others (an
    activity older than the lead's latest, or a reset at the same time as another) are
    recomputed set-based from all their activities.
    """
    lead_ids = {a.lead_id for a in activities}
    if not lead_ids:
        return 0
    now = timezone.now()
    for activity in activities:  # activity_record's rules, without a query per activity
        if activity.type not in ActivityType.values:
            raise ValidationError(f"Unknown activity type {activity.type!r}.")
        activity.workspace_id = workspace.pk
        activity.occurred_at = activity.occurred_at or now
        if activity.occurred_at > now + timedelta(minutes=5):
            raise ValidationError("An activity cannot happen in the future.")
        if len(activity.url) > URL_MAX:
            raise ValidationError(f"A URL is longer than {URL_MAX} characters.")
        activity.subject = activity.subject[:SUBJECT_MAX]
    leads: dict[int, Lead] = {}
    for chunk in id_chunks(sorted(lead_ids)):
        found = (
            leads_for(workspace)
            .filter(pk__in=chunk)
            .only(*_BATCH_FIELDS)
            .order_by("pk")
            .select_for_update()
        )
        leads.update((lead.pk, lead) for lead in found)
    if len(leads) != len(lead_ids):
        raise ValidationError("Some activities name leads of another workspace or in the trash.")
    rows_insert(
        Activity,
        ACTIVITY_COLUMNS,
        [[getattr(activity, name) for name in ACTIVITY_COLUMNS] for activity in activities],
    )
    rules = scoring.rules_for(workspace)
    weights = quality.weights_for(workspace)
    by_lead: dict[int, list[Activity]] = defaultdict(list)
    for activity in activities:
        by_lead[activity.lead_id].append(activity)
    rescore: list[int] = []
    for lead_id, events in by_lead.items():
        lead = leads[lead_id]
        events.sort(key=lambda a: a.occurred_at)
        if _folds_forward(lead, events, rules):
            for event in events:
                scoring.lead_score_apply(lead, *scoring.activity_effect(rules, event))
            quality.lead_quality_apply(lead, weights)
        else:
            rescore.append(lead_id)
        newest = events[-1].occurred_at
        if lead.last_activity_at is None or newest > lead.last_activity_at:
            lead.last_activity_at = newest
        for event in events:
            if event.type in CONTACT_ACTIVITY_TYPES and (
                lead.last_contacted_at is None or event.occurred_at > lead.last_contacted_at
            ):
                lead.last_contacted_at = event.occurred_at
    _leads_write([leads[pk] for pk in sorted(by_lead)])
    if rescore:
        scoring.leads_rescore(workspace=workspace, lead_ids=rescore)
    return len(activities)


def _folds_forward(lead: Lead, events: list[Activity], rules) -> bool:
    """Whether the events (sorted) can be added to the lead's score one after the other."""
    if lead.last_activity_at is not None and events[0].occurred_at <= lead.last_activity_at:
        return False
    times = [event.occurred_at for event in events]
    if len(set(times)) == len(times):
        return True
    # Events at the same moment: fine, unless one of them resets (the recompute counts only
    # what comes strictly after a reset, whatever order they arrived in).
    return not any(scoring.activity_effect(rules, event)[1] for event in events)


def _leads_write(leads: list[Lead]) -> None:
    """Write the score and timestamp fields of many leads: one UPDATE … FROM (VALUES …) per
    chunk on PostgreSQL, one executemany elsewhere."""
    table = Lead._meta.db_table
    names = [name for name, _ in _WRITTEN]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{name} = %s" for name in names)
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE id = %s",
                [[getattr(lead, name) for name in names] + [lead.pk] for lead in leads],
            )
            return
        row = "(" + ", ".join(["%s::bigint"] + [f"%s::{kind}" for _, kind in _WRITTEN]) + ")"
        assignments = ", ".join(f"{name} = v.{name}" for name in names)
        for i in range(0, len(leads), 1000):
            chunk = leads[i : i + 1000]
            cursor.execute(
                f"UPDATE {table} AS l SET {assignments} "
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v(id, {', '.join(names)}) "
                "WHERE l.id = v.id",
                [v for lead in chunk for v in [lead.pk, *(getattr(lead, n) for n in names)]],
            )
