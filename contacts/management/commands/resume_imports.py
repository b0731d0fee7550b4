from django.core.management.base import BaseCommand
from django.db import transaction

from contacts.importing.jobs import ACTIVE, import_resume_if_stale
from contacts.models import ImportJob


class Command(BaseCommand):
    help = (
        "Queue again every import or dry run whose worker stopped sending heartbeats (killed, "
        "machine lost); each resumes after its last committed batch. Run it every few minutes "
        "from cron; opening an import's page does the same for that import."
    )

    def handle(self, *args, **options):
        resumed = 0
        for job in ImportJob.objects.filter(status__in=ACTIVE).order_by("pk"):
            with transaction.atomic():
                resumed += import_resume_if_stale(job)
        self.stdout.write(f"{resumed} import(s) resumed.")
