"""Reads. Every lead query starts here, from the workspace (a tenant query without one is a bug)."""

import hmac
import unicodedata
from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet

from contacts.models import Activity, Lead, SuppressedEmail
from leadcrm.models import Workspace


def leads_for(workspace: Workspace | int, *, include_deleted: bool = False) -> QuerySet[Lead]:
    """The workspace's live leads (or all of them, trash included)."""
    leads = Lead.objects.filter(workspace=workspace)
    return leads if include_deleted else leads.alive()


def trash_for(workspace: Workspace | int) -> QuerySet[Lead]:
    return Lead.objects.filter(workspace=workspace).in_trash().order_by("-deleted_at")


def lead_timeline(lead: Lead, *, types: Iterable[str] | None = None) -> QuerySet[Activity]:
    """The lead's activities, newest first (PRODUCT A1)."""
    activities = Activity.objects.filter(workspace_id=lead.workspace_id, lead=lead)
    if types:
        activities = activities.filter(type__in=list(types))
    return activities.select_related("actor").order_by("-occurred_at", "-id")


def suppression_hash(email: str) -> str:
    """HMAC-SHA256 of the normalised address under SUPPRESSION_KEY (PRODUCT C4)."""
    normalised = unicodedata.normalize("NFC", (email or "").strip()).lower()
    key = settings.SUPPRESSION_KEY.encode()
    return hmac.digest(key, normalised.encode(), "sha256").hex()  # the one-shot C version


def suppression_check(*, workspace: Workspace | int, email: str) -> bool:
    """True when the address must never be re-created or mailed in this workspace."""
    return SuppressedEmail.objects.filter(
        workspace=workspace, email_hash=suppression_hash(email)
    ).exists()


def suppressed_emails(*, workspace: Workspace | int, emails: Iterable[str]) -> set[str]:
    """The subset of `emails` that is suppressed, in one query per 5,000 (for imports)."""
    entries = SuppressedEmail.objects.filter(workspace=workspace)
    if not entries.exists():  # most workspaces, most of the time: no hashing at all
        return set()
    by_hash: dict[str, str] = {suppression_hash(e): e for e in emails}
    hashes = list(by_hash)
    found: set[str] = set()
    for i in range(0, len(hashes), 5000):
        chunk = entries.filter(email_hash__anyof=hashes[i : i + 5000])
        found.update(chunk.values_list("email_hash", flat=True))
    return {by_hash[h] for h in found}
