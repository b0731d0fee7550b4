"""A GDPR erasure request (PRODUCT C6): what to erase, as ids and hashes only, and its report.

The compliance app otherwise keeps no data of its own (the ledger and the suppression list
are contacts' models). A request needs a row because bulk erasure runs in the background: the
task receives this row's id, the row holds lead ids and email hashes — never an address — and,
once done, only the counts of what was erased.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from leadcrm.models import Workspace


class ErasureRequest(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Erasing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Origin(models.TextChoices):
        LEAD = "lead", "One lead"
        SELECTION = "selection", "Selected leads"
        UPLOAD = "upload", "Uploaded list"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    reference = models.CharField(
        max_length=200, blank=True, help_text="The data-subject request's reference, if any"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # What is left to erase; emptied as the work is done (ids and hashes, never addresses).
    lead_ids = models.JSONField(default=list, blank=True)
    email_hashes = models.JSONField(default=list, blank=True)
    leads_total = models.IntegerField(default=0)
    addresses_total = models.IntegerField(default=0)  # of an uploaded list, after dedup
    leads_erased = models.IntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)  # {what: how many erased}
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="erasure_ws_created")]

    def __str__(self) -> str:
        return f"Erasure request {self.pk} ({self.get_origin_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if not self.leads_total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.leads_erased / self.leads_total))
