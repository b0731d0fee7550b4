from django.conf import settings
from django.core.management.base import BaseCommand

from pipeline.tasks import exports_purge


class Command(BaseCommand):
    help = (
        f"Delete the background exports older than {settings.EXPORT_KEEP_DAYS} days "
        "(EXPORT_KEEP_DAYS), their files first, in every workspace. Queues the task for the "
        "worker (db_worker); --now runs it here. Schedule it daily, e.g. from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", action="store_true", help="Run the purge in this process, without a worker."
        )

    def handle(self, *args, now: bool, **options):
        if now:
            count = exports_purge.call()
            self.stdout.write(self.style.SUCCESS(f"Purged {count:,} exports."))
            return
        result = exports_purge.enqueue()
        self.stdout.write(self.style.SUCCESS(f"Export purge queued (task {result.id})."))
