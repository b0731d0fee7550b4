"""manage.py recompute_scores [--workspace SLUG …]: what Settings → Scoring's Recompute does,
run here and now (no worker needed), with its progress printed."""

from django.core.management.base import BaseCommand, CommandError

from contacts.recompute import score_recompute_request, score_recompute_run
from leadcrm.models import Workspace


class Command(BaseCommand):
    help = "Recompute every lead's engagement score, tier and quality score from the rules."

    def add_arguments(self, parser):
        parser.add_argument(
            "--workspace",
            action="append",
            dest="workspaces",
            metavar="SLUG",
            help="Only this workspace (may be repeated); default: every workspace.",
        )

    def handle(self, *args, workspaces=None, **options):
        found = Workspace.objects.order_by("pk")
        if workspaces:
            found = found.filter(slug__in=workspaces)
            missing = set(workspaces) - set(found.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No workspace with slug {', '.join(sorted(missing))}.")
        for workspace in found:
            job = score_recompute_request(
                workspace=workspace, actor=None, reason="manage.py recompute_scores", enqueue=False
            )
            job = score_recompute_run(job.pk)
            if job is None:  # a worker took it first
                self.stdout.write(f"{workspace.slug}: a worker is already recomputing.")
                continue
            self.stdout.write(
                f"{workspace.slug}: {job.leads_done:,} leads recomputed; the scores of "
                f"{job.changed:,} changed."
            )
