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
