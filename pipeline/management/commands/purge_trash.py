from django.core.management.base import BaseCommand

from contacts.services import TRASH_DAYS
from pipeline.tasks import trash_purge


class Command(BaseCommand):
    help = (
        f"Delete for good the leads that have been in the trash for more than {TRASH_DAYS} days, "
        "in every workspace. Queues the task for the worker (db_worker); --now runs it here. "
        "Schedule it daily, e.g. from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", action="store_true", help="Run the purge in this process, without a worker."
        )

    def handle(self, *args, now: bool, **options):
        if now:
            count = trash_purge.call()
            self.stdout.write(self.style.SUCCESS(f"Purged {count:,} leads from the trash."))
            return
        result = trash_purge.enqueue()
        self.stdout.write(self.style.SUCCESS(f"Trash purge queued (task {result.id})."))
