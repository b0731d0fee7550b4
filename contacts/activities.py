"""Activities (PRODUCT A1/A2): every one, from any source, goes through activity_record()
or its batch form, which keep the lead's timestamps and score up to date."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from contacts import quality, scoring
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

CHUNK = 5000  # ids per statement: well under SQLite's and PostgreSQL's parameter limits


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
            [type, at, actor.pk if actor else None, source, subject, at, *ids],
        )


def status_change_data_sql(new_status: str) -> str:
    """SQL for {"from": <old status>, "to": new} per row, on either database."""
    if connection.vendor == "postgresql":
        return f"jsonb_build_object('from', status, 'to', '{new_status}')"
    return f"json_object('from', status, 'to', '{new_status}')"


def status_change_record(lead: Lead, actor: User | None, old: str, new: str, channel: str) -> None:
    activity_record(
        lead=lead,
        type=ActivityType.STATUS_CHANGED,
        actor=actor,
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
        subject=subject[:300],
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
        quality.leads_requality(workspace=current.workspace_id, lead_ids=[current.pk])
        current.refresh_from_db(fields=["score", "score_points", "tier", "quality_score"])
    for name in fields:
        setattr(lead, name, getattr(current, name))
    return activity


@transaction.atomic
def activities_record(*, workspace: Workspace, activities: Sequence[Activity]) -> int:
    """Record many activities (imports, events): one insert, set-based timestamps and scores."""
    lead_ids = {a.lead_id for a in activities}
    if not lead_ids:
        return 0
    known = set(leads_for(workspace).filter(pk__in=lead_ids).values_list("pk", flat=True))
    if known != lead_ids:
        raise ValidationError("Some activities name leads of another workspace or in the trash.")
    now = timezone.now()
    for activity in activities:
        if activity.type not in ActivityType.values:
            raise ValidationError(f"Unknown activity type {activity.type!r}.")
        activity.workspace_id = workspace.pk
        activity.occurred_at = activity.occurred_at or now
    Activity.objects.bulk_create(activities, batch_size=1000)
    ids = sorted(lead_ids)
    contact_types = [str(t) for t in CONTACT_ACTIVITY_TYPES]
    activity_table, lead_table = Activity._meta.db_table, Lead._meta.db_table
    type_placeholders = ", ".join(["%s"] * len(contact_types))
    for chunk in id_chunks(ids):
        placeholders = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {lead_table} SET
                    last_activity_at = (SELECT MAX(a.occurred_at) FROM {activity_table} a
                                        WHERE a.lead_id = {lead_table}.id),
                    last_contacted_at = (SELECT MAX(a.occurred_at) FROM {activity_table} a
                                         WHERE a.lead_id = {lead_table}.id
                                           AND a.type IN ({type_placeholders}))
                WHERE id IN ({placeholders})
                """,
                [*contact_types, *chunk],
            )
    scoring.leads_rescore(workspace=workspace, lead_ids=ids)
    quality.leads_requality(workspace=workspace, lead_ids=ids)
    return len(activities)
