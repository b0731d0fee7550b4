"""Pipeline state that belongs to people, not to leads: saved views and list preferences."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
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


# Sequences (PRODUCT A5, seed 001) ---------------------------------------------------------------


class SendingSettings(models.Model):
    """Settings → Sending: who a workspace's mail comes from, and the postal address every
    message carries in its footer (required before the first send)."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    from_name = models.CharField("sender name", max_length=100)
    from_email = models.EmailField("sender address", max_length=254)
    reply_to = models.EmailField("reply-to address", max_length=254, blank=True)
    postal_address = models.TextField(
        help_text="Your organisation's postal address, shown in the footer of every message."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "sending settings"

    def __str__(self) -> str:
        return f"{self.from_name} <{self.from_email}>"

    @property
    def is_complete(self) -> bool:
        return bool(self.from_email and self.postal_address.strip())


class Sequence(models.Model):
    """Ordered email steps a member sends one by one from the lead view (manual at launch)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    is_archived = models.BooleanField(
        default=False, help_text="An archived sequence takes no new leads; enrolled ones go on."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("workspace", Lower("name"), name="sequence_ws_name_ci_unique")
        ]

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    """One email of a sequence: subject and body are templates over the lead's fields."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    wait_days = models.PositiveSmallIntegerField(
        default=0, help_text="Days after the previous step before this one is due."
    )
    subject = models.CharField(max_length=300)
    body = models.TextField()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.subject


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class SequenceEnrollment(models.Model):
    """A lead in a sequence: which step comes next, and how it ended. A lead is in at most one
    sequence at a time (a database constraint); the history keeps the ended ones."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments")
    lead = models.ForeignKey(
        "contacts.Lead", on_delete=models.CASCADE, related_name="sequence_enrollments"
    )
    status = models.CharField(
        max_length=10, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    steps_sent = models.PositiveIntegerField(default=0)  # the next step is steps[steps_sent]
    enrolled_at = models.DateTimeField(default=timezone.now)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_sent_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead"],
                condition=models.Q(status="active"),
                name="enrollment_one_active_per_lead",
            )
        ]
        indexes = [
            models.Index(fields=["sequence", "status"], name="enrollment_seq_status"),
        ]

    def __str__(self) -> str:
        return f"Lead {self.lead_id} in {self.sequence_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == EnrollmentStatus.ACTIVE


class SequenceSend(models.Model):
    """A step sent to a lead: the enrolment's history (the lead's timeline has Email Sent)."""

    enrollment = models.ForeignKey(
        SequenceEnrollment, on_delete=models.CASCADE, related_name="sends"
    )
    step = models.ForeignKey(
        SequenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step_number = models.PositiveIntegerField()  # 1-based, as shown
    subject = models.CharField(max_length=300)
    sent_at = models.DateTimeField(default=timezone.now)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_id = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step_number"], name="sequencesend_once_per_step"
            )
        ]

    def __str__(self) -> str:
        return f"Step {self.step_number} to lead of enrolment {self.enrollment_id}"
