"""Engagement score (PRODUCT A3): rules → points, the score, the tier.

score_points is the sum of the points of a lead's activities after its latest reset (by
occurred_at); score is that clamped to 0–100; the tier follows the score. An activity newer
than the lead's latest one updates these incrementally; anything else recomputes, set-based.
"""

from collections.abc import Iterable, Sequence

from django.db import connection

from contacts.models import Activity, ActivityType, Lead, ScoringRule, Tier
from contacts.quality import quality_sql
from leadcrm.models import Workspace

HOT, WARM = 50, 20

# Seed 000's defaults: opened +1, clicked +5, replied +10, visited pricing +20, bounced -50,
# unsubscribed resets.
DEFAULT_RULES = [
    (ActivityType.EMAIL_OPENED, "", 1, False),
    (ActivityType.EMAIL_CLICKED, "", 5, False),
    (ActivityType.EMAIL_REPLIED, "", 10, False),
    (ActivityType.PAGE_VISITED, "/pricing", 20, False),
    (ActivityType.EMAIL_BOUNCED, "", -50, False),
    (ActivityType.UNSUBSCRIBED, "", 0, True),
]


def score_clamp(points: int) -> int:
    return max(0, min(100, points))


def tier_for(score: int) -> str:
    if score >= HOT:
        return Tier.HOT
    if score >= WARM:
        return Tier.WARM
    return Tier.COLD


def scoring_rules_ensure_defaults(*, workspace: Workspace) -> None:
    """Give a workspace without rules the default ones."""
    if ScoringRule.objects.filter(workspace=workspace).exists():
        return
    ScoringRule.objects.bulk_create(
        ScoringRule(
            workspace=workspace,
            activity_type=activity_type,
            url_contains=url_contains,
            points=points,
            resets=resets,
            position=position,
        )
        for position, (activity_type, url_contains, points, resets) in enumerate(DEFAULT_RULES)
    )


def sqlite_functions_register(sender, connection, **kwargs) -> None:
    """connection_created receiver (ContactsConfig.ready): LEADCRM_LOWER on SQLite, which
    lowers as str.lower() does, for URL conditions in the rescore (SQLite's LOWER knows only
    ASCII)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "LEADCRM_LOWER",
            1,
            lambda value: value.lower() if isinstance(value, str) else value,
            deterministic=True,
        )


def workspace_scoring_defaults(sender, instance: Workspace, created: bool, raw=False, **kwargs):
    """post_save of Workspace (connected in ContactsConfig.ready): a new one gets the rules."""
    if created and not raw:
        scoring_rules_ensure_defaults(workspace=instance)


def rules_for(workspace: Workspace | int) -> list[ScoringRule]:
    return list(ScoringRule.objects.filter(workspace=workspace, is_active=True))


def rules_score_type(workspace: Workspace | int, activity_type: str) -> bool:
    """Whether an active rule gives points to (or resets on) activities of this type."""
    return ScoringRule.objects.filter(
        workspace=workspace, is_active=True, activity_type=activity_type
    ).exists()


def activity_effect(rules: Sequence[ScoringRule], activity: Activity) -> tuple[int, bool]:
    """(points, resets) of one activity: the sum over every rule it matches."""
    points, resets = 0, False
    url = (activity.url or "").lower()
    for rule in rules:
        if rule.activity_type != activity.type:
            continue
        if rule.url_contains and rule.url_contains.lower() not in url:
            continue
        points += rule.points
        resets = resets or rule.resets
    return points, resets


def lead_score_apply(lead: Lead, points: int, resets: bool) -> None:
    """Fold one newer activity into the lead's score fields (the caller saves the lead)."""
    lead.score_points = 0 if resets else lead.score_points + points
    lead.score = score_clamp(lead.score_points)
    lead.tier = tier_for(lead.score)


# One statement for any number of leads. Portable SQL (SQLite ≥ 3.33 and PostgreSQL both
# support UPDATE … FROM); only rows whose scores change are written, once each: the quality
# score (contacts.quality, which counts the engagement score in) is set in the same UPDATE,
# because every write of a lead row also writes an entry into each of its indexes.
_RESCORE_SQL = """
WITH matched AS (
    SELECT a.lead_id, a.id, a.occurred_at,
           SUM(r.points) AS points,
           MAX(CASE WHEN r.resets THEN 1 ELSE 0 END) AS is_reset
    FROM contacts_activity a
    JOIN contacts_scoringrule r
      ON r.workspace_id = a.workspace_id AND r.is_active AND r.activity_type = a.type
     AND (r.url_contains = '' OR {position}({lower}(a.url), {lower}(r.url_contains)) > 0)
    WHERE a.workspace_id = %(ws)s {activity_filter}
    GROUP BY a.lead_id, a.id, a.occurred_at
),
last_reset AS (
    SELECT lead_id, MAX(occurred_at) AS at FROM matched WHERE is_reset = 1 GROUP BY lead_id
),
sums AS (
    SELECT m.lead_id, CAST(SUM(m.points) AS INTEGER) AS points  -- PostgreSQL: else numeric
    FROM matched m LEFT JOIN last_reset lr ON lr.lead_id = m.lead_id
    WHERE lr.at IS NULL OR m.occurred_at > lr.at
    GROUP BY m.lead_id
),
target AS (
    SELECT l.id, COALESCE(s.points, 0) AS points
    FROM contacts_lead l LEFT JOIN sums s ON s.lead_id = l.id
    WHERE l.workspace_id = %(ws)s {lead_filter}
),
scored AS (
    SELECT id, points,
           CASE WHEN points > 100 THEN 100 WHEN points < 0 THEN 0 ELSE points END AS score
    FROM target
)
UPDATE contacts_lead
SET score_points = scored.points,
    score = scored.score,
    tier = CASE WHEN scored.score >= {hot} THEN 'hot'
                WHEN scored.score >= {warm} THEN 'warm' ELSE 'cold' END,
    quality_score = {quality}
FROM scored
WHERE contacts_lead.id = scored.id
  AND (contacts_lead.score_points <> scored.points OR contacts_lead.score <> scored.score
       OR contacts_lead.quality_score <> {quality})
"""


def leads_rescore(
    *,
    workspace: Workspace | int,
    lead_ids: Iterable[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> int:
    """Recompute score, score_points, tier and the quality score that depends on them from
    rules, activities and the lead's fields; returns the rows changed.

    Without lead_ids, every lead of the workspace in one statement (only those with ids in
    `id_range`, inclusive, when given); with them, in chunks that stay under the databases'
    parameter limits.
    """
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    if lead_ids is None:
        return _rescore(workspace_id, id_range=id_range)
    ids = sorted(set(lead_ids))
    return sum(_rescore(workspace_id, ids=ids[i : i + 5000]) for i in range(0, len(ids), 5000))


def _rescore(
    workspace_id: int, *, ids: list[int] | None = None, id_range: tuple[int, int] | None = None
) -> int:
    params: dict = {"ws": workspace_id}
    activity_filter = lead_filter = ""
    leads = Lead.objects.filter(workspace_id=workspace_id)
    if ids is not None:
        leads = leads.filter(pk__in=ids)
        placeholders = ", ".join(f"%(id{i})s" for i in range(len(ids)))
        params.update({f"id{i}": lead_id for i, lead_id in enumerate(ids)})
        activity_filter = f"AND a.lead_id IN ({placeholders})"
        lead_filter = f"AND l.id IN ({placeholders})"
    elif id_range is not None:
        leads = leads.filter(pk__gte=id_range[0], pk__lte=id_range[1])
        params.update(lo=id_range[0], hi=id_range[1])
        activity_filter = "AND a.lead_id BETWEEN %(lo)s AND %(hi)s"
        lead_filter = "AND l.id BETWEEN %(lo)s AND %(hi)s"
    quality, quality_params = quality_sql(workspace_id, score_sql="scored.score", leads=leads)
    params.update(quality_params)
    sql = _RESCORE_SQL.format(
        # Where the condition's text starts in the URL: plain text, as in activity_effect()
        # (a LIKE pattern would read "_" and "%" in it as wildcards).
        position="STRPOS" if connection.vendor == "postgresql" else "INSTR",
        # str.lower() as activity_effect() does: SQLite's LOWER knows only ASCII.
        lower="LOWER" if connection.vendor == "postgresql" else "LEADCRM_LOWER",
        activity_filter=activity_filter,
        lead_filter=lead_filter,
        hot=HOT,
        warm=WARM,
        quality=quality,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.vendor == "sqlite":  # its rowcount is -1 after UPDATE led by WITH
            cursor.execute("SELECT changes()")
            return cursor.fetchone()[0]
        return cursor.rowcount
