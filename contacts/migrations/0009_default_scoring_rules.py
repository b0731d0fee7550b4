"""Every workspace has scoring rules from the start (PRODUCT A3): give the seed-000 defaults
to workspaces created before that was so. The rules are written out here, as they were when
this migration landed, so later changes to the defaults in code do not change it."""

from django.db import migrations

DEFAULTS = [
    ("email_opened", "", 1, False),
    ("email_clicked", "", 5, False),
    ("email_replied", "", 10, False),
    ("page_visited", "/pricing", 20, False),
    ("email_bounced", "", -50, False),
    ("unsubscribed", "", 0, True),
]


def recompute_queue(apps, schema_editor):
    """Leads from before this release have no quality score and were scored without the
    defaults: queue a recompute per workspace that has leads. The worker picks it up when the
    Scoring page opens (or run `manage.py recompute_scores`)."""
    Lead = apps.get_model("contacts", "Lead")
    ScoreRecompute = apps.get_model("contacts", "ScoreRecompute")
    for workspace_id in Lead.objects.values_list("workspace_id", flat=True).distinct():
        ScoreRecompute.objects.create(
            workspace_id=workspace_id, reason="Scores from before quality scoring"
        )


def add_defaults(apps, schema_editor):
    Workspace = apps.get_model("leadcrm", "Workspace")
    ScoringRule = apps.get_model("contacts", "ScoringRule")
    with_rules = ScoringRule.objects.values("workspace_id")
    for workspace_id in Workspace.objects.exclude(pk__in=with_rules).values_list("pk", flat=True):
        ScoringRule.objects.bulk_create(
            ScoringRule(
                workspace_id=workspace_id,
                activity_type=activity_type,
                url_contains=url_contains,
                points=points,
                resets=resets,
                position=position,
            )
            for position, (activity_type, url_contains, points, resets) in enumerate(DEFAULTS)
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0008_scoring_settings_and_recompute")]

    operations = [
        migrations.RunPython(add_defaults, migrations.RunPython.noop),
        migrations.RunPython(recompute_queue, migrations.RunPython.noop),
    ]
