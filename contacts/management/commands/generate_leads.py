from django.core.management.base import BaseCommand, CommandError

from contacts.generate import leads_generate
from leadcrm.models import Workspace


class Command(BaseCommand):
    help = (
        "Bulk-create synthetic leads with activities, tags and consent in a workspace "
        "(COPY on PostgreSQL). For load tests and benchmarks: in one transaction, and a load "
        "at least as big as the lead table rebuilds its indexes, locking the tables meanwhile."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Slug of the workspace.")
        parser.add_argument("--count", type=int, required=True, help="Leads to create.")
        parser.add_argument(
            "--activities", type=float, default=5, help="Activities per lead on average (5)."
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (1).")
        parser.add_argument("--batch", type=int, default=50_000, help="Leads per batch (50000).")

    def handle(self, *args, workspace: str, count: int, activities, seed, batch, **options):
        if count < 1 or batch < 1 or activities < 0:
            raise CommandError("--count and --batch must be positive, --activities 0 or more.")
        try:
            ws = Workspace.objects.get(slug=workspace)
        except Workspace.DoesNotExist:
            raise CommandError(f"No workspace with slug “{workspace}”.") from None

        def progress(done: int, wanted: int, activity_count: int, seconds: float) -> None:
            self.stdout.write(
                f"  {done:,}/{wanted:,} leads, {activity_count:,} activities ({seconds:.1f} s)"
            )

        result = leads_generate(
            workspace=ws,
            count=count,
            activities=activities,
            seed=seed,
            batch=batch,
            progress=progress,
        )
        self.stdout.write(f"Rows written in {result.write_seconds:.1f} s.")
        self.stdout.write(f"Scores recomputed in {result.rescore_seconds:.1f} s.")
        self.stdout.write(f"Indexes, constraints and statistics in {result.rebuild_seconds:.1f} s.")
        seconds = max(result.seconds, 1e-9)
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {result.leads:,} leads and {result.activities:,} activities in "
                f"“{ws.slug}”: {result.leads / seconds:,.0f} leads/s, "
                f"{result.activities / seconds:,.0f} activities/s, {result.seconds:.1f} s in total."
            )
        )
