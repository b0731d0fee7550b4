"""The core records every app works on (PRODUCT 2, 6, 7).

Writes go through contacts.services; reads start from contacts.queries.leads_for(workspace).
Every table carries `workspace` and every index starts with it, because every query does.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.timezone import now

from leadcrm.models import Workspace

ALIVE = Q(deleted_at__isnull=True)


class LeadStatus(models.TextChoices):
    """The funnel and the kanban columns, in order."""

    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    ENGAGED = "engaged", "Engaged"
    QUALIFIED = "qualified", "Qualified"
    CONVERTED = "converted", "Converted"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class EmailStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    BOUNCED = "bounced", "Bounced"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision Maker"
    INFLUENCER = "influencer", "Influencer"
    CHAMPION = "champion", "Champion"
    BLOCKER = "blocker", "Blocker"
    END_USER = "end_user", "End User"
    OTHER = "other", "Other"


class ConsentStatus(models.TextChoices):
    OPTED_IN = "opted_in", "Opted In"
    OPTED_OUT = "opted_out", "Opted Out"
    PENDING = "pending", "Pending"
    UNKNOWN = "unknown", "Unknown"


class ConsentType(models.TextChoices):
    EXPLICIT = "explicit", "Explicit"
    IMPLIED = "implied", "Implied"
    IMPORTED = "imported", "Imported"


class GdprBasis(models.TextChoices):
    CONSENT = "consent", "Consent"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate Interest"
    CONTRACT = "contract", "Contract"


class Channel(models.TextChoices):
    """How a change reached us; shown on the Unsubscribes page and in the consent ledger."""

    MANUAL = "manual", "Manual"
    LINK = "link", "Unsubscribe link"
    IMPORT = "import", "Import"
    KANBAN = "kanban", "Kanban"
    BULK = "bulk", "Bulk update"
    API = "api", "API"
    WEBFORM = "webform", "Web form"
    SYSTEM = "system", "System"


class Tier(models.TextChoices):
    HOT = "hot", "Hot"
    WARM = "warm", "Warm"
    COLD = "cold", "Cold"


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Workspace | int) -> "WorkspaceQuerySet":
        return self.filter(workspace=workspace)


class Company(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "companies"
        constraints = [
            models.UniqueConstraint("workspace", Lower("name"), name="company_ws_name_ci_unique")
        ]
        indexes = [models.Index(fields=["workspace", "domain"], name="company_ws_domain")]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint("workspace", Lower("name"), name="tag_ws_name_ci_unique")
        ]

    def __str__(self) -> str:
        return self.name


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes/No"
    CHOICE = "choice", "Choice"


class CustomFieldQuerySet(WorkspaceQuerySet):
    def live(self) -> "CustomFieldQuerySet":
        """Fields that still exist (a deleted one waits here for its values to be purged)."""
        return self.filter(deleting=False)

    def active(self) -> "CustomFieldQuerySet":
        return self.live().filter(retired_at__isnull=True)


class CustomField(models.Model):
    """A workspace's own lead field (W5); values live in Lead.attributes under `key`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=50, help_text="Fixed once created; used in queries.")
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=CustomFieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)
    deleting = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)

    objects = CustomFieldQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="customfield_ws_key_unique")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class LeadQuerySet(WorkspaceQuerySet):
    def alive(self) -> "LeadQuerySet":
        return self.filter(ALIVE)

    def in_trash(self) -> "LeadQuerySet":
        return self.filter(deleted_at__isnull=False)


class Lead(models.Model):
    """A person (a.k.a. contact). See PRODUCT 2 for every field's meaning."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # identity
    email = models.EmailField(max_length=254)
    secondary_emails = models.JSONField(default=list, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    mobile = models.CharField(max_length=32, blank=True)
    job_title = models.CharField(max_length=150, blank=True)
    department = models.CharField(max_length=100, blank=True)
    contact_role = models.CharField(max_length=20, choices=ContactRole.choices, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    domain = models.CharField(max_length=253, blank=True)
    source = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="leads")
    linkedin_url = models.URLField(max_length=300, blank=True)
    twitter_handle = models.CharField(max_length=50, blank=True)
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    timezone = models.CharField(max_length=64, blank=True)
    preferred_language = models.CharField(max_length=35, blank=True)
    birthday = models.DateField(null=True, blank=True)
    # funnel
    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    email_status = models.CharField(
        max_length=20, choices=EmailStatus.choices, default=EmailStatus.ACTIVE
    )
    # consent: a copy of the latest ConsentEvent, kept by contacts.consent.consent_record()
    consent_status = models.CharField(
        max_length=20, choices=ConsentStatus.choices, default=ConsentStatus.UNKNOWN
    )
    consent_type = models.CharField(max_length=20, choices=ConsentType.choices, blank=True)
    consent_captured_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=200, blank=True)
    consent_proof = models.TextField(blank=True)
    gdpr_basis = models.CharField(max_length=30, choices=GdprBasis.choices, blank=True)
    consent_country = models.CharField(max_length=2, blank=True)
    do_not_contact = models.BooleanField(default=False)
    # scores (PRODUCT A3/A4)
    score = models.PositiveSmallIntegerField(default=0)
    # The unclamped sum of points since the latest reset: score = clamp(score_points, 0, 100),
    # and an activity adds to this, not to the clamped score.
    score_points = models.IntegerField(default=0)
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.COLD)
    quality_score = models.PositiveSmallIntegerField(default=0)
    # qualification (PRODUCT A6)
    bant_budget = models.CharField("budget", max_length=200, blank=True)
    bant_authority = models.CharField("authority", max_length=200, blank=True)
    bant_need = models.TextField("need", blank=True)
    bant_timeline = models.CharField("timeline", max_length=200, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # bookkeeping
    search_text = models.TextField(blank=True, editable=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("email"), condition=ALIVE, name="lead_ws_email_ci_unique"
            )
        ]
        indexes = [
            # The list's default sort and its most common filters and sorts; all partial on
            # live leads, since the trash is small and has its own index.
            models.Index(
                fields=["workspace", "-created_at", "-id"], condition=ALIVE, name="lead_ws_created"
            ),
            models.Index(
                fields=["workspace", "status", "-score", "-id"],
                condition=ALIVE,
                name="lead_ws_status_score",
            ),
            models.Index(
                fields=["workspace", "-score", "-id"], condition=ALIVE, name="lead_ws_score"
            ),
            models.Index(
                fields=["workspace", "-quality_score", "-id"],
                condition=ALIVE,
                name="lead_ws_quality",
            ),
            models.Index(
                fields=["workspace", "owner", "-created_at"], condition=ALIVE, name="lead_ws_owner"
            ),
            models.Index(
                fields=["workspace", "email_status"], condition=ALIVE, name="lead_ws_email_status"
            ),
            models.Index(
                fields=["workspace", "-last_activity_at"],
                condition=ALIVE,
                name="lead_ws_last_activity",
            ),
            models.Index(
                fields=["workspace", "last_name", "first_name"],
                condition=ALIVE,
                name="lead_ws_name",
            ),
            models.Index(
                fields=["workspace", "email", "id"], condition=ALIVE, name="lead_ws_email_sort"
            ),
            models.Index(
                fields=["workspace", "-last_contacted_at"],
                condition=ALIVE,
                name="lead_ws_last_contacted",
            ),
            models.Index(
                fields=["workspace", "-deleted_at"],
                condition=Q(deleted_at__isnull=False),
                name="lead_ws_trash",
            ),
            # The few leads with secondary emails, which an import reads once to match on them.
            models.Index(
                fields=["workspace"],
                condition=ALIVE & ~Q(secondary_emails=[]),
                name="lead_ws_has_secondary",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ActivityType(models.TextChoices):
    EMAIL_SENT = "email_sent", "Email Sent"
    EMAIL_OPENED = "email_opened", "Email Opened"
    EMAIL_CLICKED = "email_clicked", "Email Clicked"
    EMAIL_REPLIED = "email_replied", "Email Replied"
    EMAIL_BOUNCED = "email_bounced", "Email Bounced"
    PAGE_VISITED = "page_visited", "Page Visited"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"
    FORM_SUBMIT = "form_submit", "Form Submit"
    DEAL_CREATED = "deal_created", "Deal Created"
    DEAL_WON = "deal_won", "Deal Won"
    DEAL_LOST = "deal_lost", "Deal Lost"
    STATUS_CHANGED = "status_changed", "Status Changed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    IMPORTED = "imported", "Imported"
    MERGED = "merged", "Merged"


# Outbound touches: these move Lead.last_contacted_at.
CONTACT_ACTIVITY_TYPES = {
    ActivityType.EMAIL_SENT,
    ActivityType.CALL,
    ActivityType.MEETING,
}


class Activity(models.Model):
    """Something that happened to a lead; written only through activities.activity_record()."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    type = models.CharField(max_length=20, choices=ActivityType.choices)
    occurred_at = models.DateTimeField(default=now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    source = models.CharField(max_length=20, choices=Channel.choices, default=Channel.MANUAL)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["lead", "-occurred_at", "-id"], name="activity_lead_time"),
            models.Index(fields=["lead", "type", "-occurred_at"], name="activity_lead_type_time"),
            # Covering (lead_id included; PostgreSQL only): segment rules such as "opened an
            # email in the last 30 days" read the lead ids of a time window from the index.
            models.Index(
                fields=["workspace", "type", "-occurred_at"],
                include=["lead"],
                name="activity_ws_type_time_lead",
            ),
            models.Index(
                fields=["workspace", "-occurred_at"], include=["lead"], name="activity_ws_time_lead"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ScoringRule(models.Model):
    """Points for an activity type, optionally only when its URL contains a text (PRODUCT A3)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    activity_type = models.CharField(max_length=20, choices=ActivityType.choices)
    url_contains = models.CharField(max_length=200, blank=True)
    points = models.SmallIntegerField(default=0)
    resets = models.BooleanField(default=False, help_text="Sets the score back to 0.")
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        effect = "reset" if self.resets else f"{self.points:+d}"
        cond = f" (URL contains {self.url_contains})" if self.url_contains else ""
        return f"{self.get_activity_type_display()}{cond}: {effect}"


class ScoringSettings(models.Model):
    """A workspace's quality-score settings (PRODUCT A4): how reliable each lead source is.

    `source_weights` is a list of {"source": name, "weight": 0–100}, matched to Lead.source
    without regard to case; leads whose source is not listed get `other_source_weight`, leads
    without a source `no_source_weight`. contacts.quality reads it; a workspace without a row
    uses the defaults there.
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    source_weights = models.JSONField(default=list, blank=True)
    other_source_weight = models.PositiveSmallIntegerField(default=50)
    no_source_weight = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name_plural = "scoring settings"

    def __str__(self) -> str:
        return f"Scoring settings of workspace {self.workspace_id}"


class ScoreRecompute(models.Model):
    """A background recompute of every lead's engagement and quality score (PRODUCT A3/A4),
    asked for after rules or source weights change, or by `manage.py recompute_scores`.

    The task walks the leads in id ranges and saves its progress after each, so the page can
    show it and a worker that died is replaced without redoing what was committed.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Recomputing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    leads_total = models.IntegerField(null=True, blank=True)
    leads_done = models.IntegerField(default=0)
    last_lead_id = models.BigIntegerField(default=0)  # checkpoint: leads up to here are done
    changed = models.IntegerField(default=0)  # leads whose engagement or quality score moved
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="scorerecompute_ws")]

    def __str__(self) -> str:
        return f"Score recompute {self.pk} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if not self.leads_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.leads_done / self.leads_total))


class AppendOnlyQuerySet(WorkspaceQuerySet):
    """The consent ledger is never edited (PRODUCT C2): no update() or delete() in bulk.

    GDPR erasure removes events by deleting their lead (a database cascade), the one way out.
    """

    def update(self, **kwargs):
        raise PermissionError("Consent events are append-only")

    def delete(self):
        raise PermissionError("Consent events are append-only; erase the lead instead")


class ConsentEvent(models.Model):
    """One entry of the consent ledger; the lead's consent fields copy the latest one."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="consent_events")
    occurred_at = models.DateTimeField(default=now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.MANUAL)
    status_before = models.CharField(max_length=20, choices=ConsentStatus.choices)
    status = models.CharField(max_length=20, choices=ConsentStatus.choices)
    type = models.CharField(max_length=20, choices=ConsentType.choices, blank=True)
    source = models.CharField(max_length=200, blank=True)
    proof = models.TextField(blank=True)
    gdpr_basis = models.CharField(max_length=30, choices=GdprBasis.choices, blank=True)
    country = models.CharField(max_length=2, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "-occurred_at"], name="consent_ws_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_before_display()} → {self.get_status_display()}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Consent events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Consent events are append-only; erase the lead instead")


class SuppressionReason(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Hard bounce"
    ERASED = "erased", "Erased (GDPR)"
    COMPLAINT = "complaint", "Spam complaint"


class SuppressedEmail(models.Model):
    """An email never to be re-created or mailed, kept only as an HMAC (PRODUCT C4)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    email_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(default=now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email_hash"], name="suppressed_ws_hash_unique"
            )
        ]
        indexes = [
            # Settings → Suppression list: entries newest first, and the counts per reason.
            models.Index(fields=["workspace", "-created_at", "-id"], name="suppressed_ws_recent"),
            models.Index(fields=["workspace", "reason"], name="suppressed_ws_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.get_reason_display()})"


# Imports (PRODUCT 5, I1–I9) -------------------------------------------------------------------


class ImportMode(models.TextChoices):
    CREATE = "create", "Create new leads only"
    UPDATE = "update", "Update existing leads only"
    UPSERT = "upsert", "Create new and update existing leads"


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", "Mapping columns"
    CHECKING = "checking", "Checking the file"
    CHECKED = "checked", "Ready to import"
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    UNDOING = "undoing", "Undoing"
    UNDONE = "undone", "Undone"


class ImportJob(models.Model):
    """One uploaded file on its way in: mapping, dry run, the run's checkpoint, history, undo.

    The uploaded file lives under settings.IMPORT_DIR until the import ends; what stays
    afterwards (counts, issues, batches, snapshots) is what history, the error report and
    undo need. Task arguments are this row's id, never data.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    # the file
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500, blank=True, help_text="Empty once deleted")
    file_size = models.BigIntegerField(default=0)
    file_kind = models.CharField(max_length=10)  # csv | xlsx | vcf
    file_info = models.JSONField(default=dict, blank=True)  # encoding, delimiter, header row…
    headers = models.JSONField(default=list, blank=True)
    # what the user chose
    mapping = models.JSONField(default=list, blank=True)  # one target per column ("" = skip)
    new_fields = models.JSONField(default=dict, blank=True)  # column index → {key,label,type}
    defaults = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.UPSERT)
    fill_blanks = models.BooleanField(default=False)
    opt_in_confirmed = models.BooleanField(default=False)
    # the run
    status = models.CharField(
        max_length=12, choices=ImportStatus.choices, default=ImportStatus.MAPPING
    )
    run_token = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_total = models.IntegerField(null=True, blank=True)
    rows_done = models.IntegerField(default=0)  # checkpoint: data rows in committed batches
    batches_done = models.IntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    invalid = models.IntegerField(default=0)
    skip_reasons = models.JSONField(default=dict, blank=True)
    dry_run = models.JSONField(default=dict, blank=True)  # the preview's whole-file summary
    error = models.TextField(blank=True)
    # undo
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undo_report = models.JSONField(default=dict, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="importjob_ws_created")]

    def __str__(self) -> str:
        return f"Import of {self.file_name}"


class ImportIssue(models.Model):
    """A row that was not imported (invalid, or skipped with its reason): the error report.

    Holds the row's values so the report can be fixed and imported again; erased with the
    lead (C6) when it names one.
    """

    class Kind(models.TextChoices):
        INVALID = "invalid", "Invalid"
        SKIPPED = "skipped", "Skipped"

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    dry_run = models.BooleanField(default=False)
    row_number = models.IntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    column = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=500)
    email = models.CharField(max_length=254, blank=True)
    # suppression_hash() of the row's email: how erasure (C6) finds the rows of an address it
    # knows only as a hash, whether or not the row names a lead.
    email_hash = models.CharField(max_length=64, blank=True)
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    values = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "dry_run", "row_number"], name="importissue_job_row"),
            models.Index(
                fields=["email_hash"], condition=~Q(email_hash=""), name="importissue_email_hash"
            ),
            models.Index(fields=["lead"], condition=Q(lead__isnull=False), name="importissue_lead"),
        ]

    def __str__(self) -> str:
        return f"Row {self.row_number}: {self.reason}"


class ImportBatch(models.Model):
    """A committed batch: the checkpoint a resumed run starts after, and the leads it created."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="batches")
    number = models.IntegerField()
    first_row = models.IntegerField()
    last_row = models.IntegerField()
    created_ids = models.JSONField(default=list, blank=True)
    committed_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="importbatch_job_number")
        ]

    def __str__(self) -> str:
        return f"Batch {self.number + 1} (rows {self.first_row}–{self.last_row})"


class ImportSnapshot(models.Model):
    """What an import changed on an existing lead, to restore it on undo (I7)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="snapshots")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    before = models.JSONField(default=dict)  # field → value before the import
    version_after = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["job", "lead"], name="importsnapshot_job_lead")]

    def __str__(self) -> str:
        return f"Lead {self.lead_id} before import {self.job_id}"
