"""Pipeline state that belongs to people, not to leads: saved views and list preferences."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from leadcrm.models import Workspace


class SavedViewQuerySet(models.QuerySet):
    def filter_visible(self, user) -> "SavedViewQuerySet":
        """The member's own views and the ones shared with the workspace."""
        return self.filter(models.Q(owner=user) | models.Q(shared=True))


class SavedView(models.Model):
    """A named leads-list state (filters, search, sort, columns), personal or shared (L4)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    query = models.TextField(blank=True, help_text="The list's query string, without the page")
    columns = models.JSONField(default=list, blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "owner"], name="savedview_ws_owner")]

    def __str__(self) -> str:
        return self.name


class LeadListPreference(models.Model):
    """The columns and page size a member chose for the leads list, per workspace (L1)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    columns = models.JSONField(default=list, blank=True)
    page_size = models.PositiveSmallIntegerField(default=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="leadlistpref_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace}"


class ExportJob(models.Model):
    """A background export of many leads (PRODUCT I8): the file is built by a task, kept under
    settings.EXPORT_DIR for EXPORT_KEEP_DAYS days, and downloaded by the member who asked."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Exporting"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    fmt = models.CharField(max_length=5)  # csv | xlsx | vcf
    scope = models.CharField(max_length=200)  # what was exported, as shown ("Segment “VIP”")
    query = models.JSONField(default=dict, blank=True)  # how to find the leads again
    columns = models.JSONField(default=list, blank=True)
    rows_done = models.IntegerField(default=0)
    # Set as the task claims the job and at every progress save: a running export without one
    # for STALE_AFTER lost its worker, and is queued again (exports_resume_stale).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    rows_total = models.IntegerField(null=True, blank=True)
    file_path = models.CharField(max_length=500, blank=True)
    file_size = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="exportjob_ws_created")]

    def __str__(self) -> str:
        return f"Export of {self.scope}"
