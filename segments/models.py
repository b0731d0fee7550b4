"""Segments (PRODUCT 4): static lists of leads and dynamic rules evaluated at use time."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from contacts.models import Lead, WorkspaceQuerySet
from leadcrm.models import Workspace

COUNT_MAX_AGE = timedelta(minutes=10)  # the segments list recounts older cached counts (G5)


class SegmentKind(models.TextChoices):
    STATIC = "static", "Static"
    DYNAMIC = "dynamic", "Dynamic"


class SegmentState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class Segment(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=SegmentKind.choices)
    state = models.CharField(
        max_length=10, choices=SegmentState.choices, default=SegmentState.DRAFT
    )
    rules = models.JSONField(default=dict, blank=True, help_text="Rule tree of a dynamic segment")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Cached for the segments list (G5), refreshed lazily; never used to decide membership.
    member_count = models.PositiveIntegerField(null=True, blank=True)
    counted_at = models.DateTimeField(null=True, blank=True)
    # Exported, frozen, used as a list filter or its members/preview viewed (written at most
    # once a minute, see segment_touch).
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["workspace", "state", "name"], name="segment_ws_state")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_static(self) -> bool:
        return self.kind == SegmentKind.STATIC

    @property
    def is_retired(self) -> bool:
        return self.state == SegmentState.RETIRED

    @property
    def count_is_stale(self) -> bool:
        """The cached member count is missing or older than COUNT_MAX_AGE."""
        if self.member_count is None or self.counted_at is None:
            return True
        return timezone.now() - self.counted_at > COUNT_MAX_AGE


class SegmentMembership(models.Model):
    """A lead's place in a static segment."""

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="segment_memberships")
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "lead"], name="segment_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.segment_id}"
