"""Undoing an import (PRODUCT I7): delete the leads it created, restore the fields it updated.

A lead changed after the import is left as it is, and the plan says why: undo never loses a
later change. An opt-out the file brought in is never undone (an unsubscribe is honoured
whatever happens to the import), and the consent ledger only grows: a consent the import
changed is put back by a new event.
"""

import secrets
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.activities import id_chunks
from contacts.consent import CONSENT_FIELDS
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    ConsentEvent,
    ConsentStatus,
    ImportBatch,
    ImportJob,
    ImportSnapshot,
    ImportStatus,
    Lead,
    Tag,
)
from contacts.scoring import leads_rescore
from contacts.services import _changed_since, _search_text
from leadcrm.audit import audit_record
from leadcrm.models import Membership, User

KEPT_LISTED = 200  # the plan names this many kept leads; the count covers them all
_REASONS_EXPLAINED = 50  # of those, this many get the changed fields read from the audit log
UNDOABLE = (ImportStatus.DONE, ImportStatus.CANCELLED, ImportStatus.FAILED)


@dataclass
class Kept:
    lead_id: int
    email: str
    reason: str


@dataclass
class UndoPlan:
    delete_ids: list[int] = field(default_factory=list)
    restore: list[ImportSnapshot] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    kept_count: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.delete_ids or self.restore)


def undo_refusal(job: ImportJob) -> str:
    """Why this import cannot be undone at all, or ""."""
    if job.status == ImportStatus.UNDONE:
        return "This import has already been undone."
    if job.status == ImportStatus.UNDOING:
        return "This import is being undone."
    if job.status not in UNDOABLE:
        return "An import can be undone once it has ended (or been cancelled)."
    return ""


def undo_plan(job: ImportJob) -> UndoPlan:
    plan = UndoPlan()
    for batch in ImportBatch.objects.filter(job=job).order_by("number"):
        if batch.created_ids:
            _plan_created(plan, batch)
    snapshots = ImportSnapshot.objects.filter(job=job).select_related("lead").order_by("id")
    for snapshot in snapshots.iterator(chunk_size=2000):
        lead = snapshot.lead
        if lead.deleted_at is not None:
            _keep(plan, lead, "moved to the trash after the import")
        elif lead.version != snapshot.version_after:
            _keep(plan, lead, _changed_reason(lead, snapshot.version_after))
        else:
            plan.restore.append(snapshot)
    return plan


def _plan_created(plan: UndoPlan, batch: ImportBatch) -> None:
    """Created leads untouched since their batch committed are deleted; the others kept."""
    since = batch.committed_at
    later_activity = Activity.objects.filter(lead=OuterRef("pk"), created_at__gt=since)
    later_consent = ConsentEvent.objects.filter(lead=OuterRef("pk"), occurred_at__gt=since)
    for chunk in id_chunks(batch.created_ids):
        leads = (
            Lead.objects.filter(pk__in=chunk)
            .annotate(activity=Exists(later_activity), consent=Exists(later_consent))
            .values_list(
                "pk", "email", "updated_at", "deleted_at", "activity", "consent", "consent_status"
            )
        )
        for pk, email, updated_at, deleted_at, activity, consent, consent_status in leads:
            if deleted_at is not None:
                reason = "moved to the trash after the import"
            elif updated_at > since:
                reason = "edited after the import"
            elif activity:
                reason = "has activities logged after the import"
            elif consent:
                reason = "its consent changed after the import"
            elif consent_status == ConsentStatus.OPTED_OUT:
                # Deleting it would forget the opt-out the file brought: never undone.
                reason = "opted out through the import; an opt-out is never undone"
            else:
                plan.delete_ids.append(pk)
                continue
            plan.kept_count += 1
            if len(plan.kept) < KEPT_LISTED:
                plan.kept.append(Kept(pk, email, reason))


def _keep(plan: UndoPlan, lead: Lead, reason: str) -> None:
    plan.kept_count += 1
    if len(plan.kept) < KEPT_LISTED:
        plan.kept.append(Kept(lead.pk, lead.email, reason))


def _changed_reason(lead: Lead, version: int) -> str:
    fields = _changed_since(lead, version) if lead.version - version < 20 else []
    if fields:
        return f"changed after the import ({', '.join(fields)})"
    return "changed after the import"


UNDO_INLINE_LIMIT = 2000  # leads created + updated; a bigger undo runs in the background


def undo_is_large(job: ImportJob) -> bool:
    return job.created + job.updated > UNDO_INLINE_LIMIT


def import_undo_start(job: ImportJob, *, actor: User | None) -> dict | None:
    """Undo at once (returning the report) when small, else queue it and return None."""
    from contacts.tasks import import_undo as import_undo_task

    if not undo_is_large(job):
        return import_undo(job, actor=actor)
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        refusal = undo_refusal(job)
        if refusal:
            raise ValidationError(refusal)
        job.undo_report = {"previous_status": job.status}
        job.status, job.undone_by = ImportStatus.UNDOING, actor
        job.run_token, job.heartbeat_at = secrets.token_hex(8), timezone.now()
        job.save(update_fields=["undo_report", "status", "undone_by", "run_token", "heartbeat_at"])
        token = job.run_token
        transaction.on_commit(lambda: import_undo_task.enqueue(job.pk, token))
    return None


def import_undo_run(job_id: int, token: str) -> None:
    """The background undo; on failure the import goes back to its status, with the reason."""
    job = ImportJob.objects.select_related("undone_by").get(pk=job_id)
    if job.status != ImportStatus.UNDOING or job.run_token != token:
        return
    try:
        import_undo(job, actor=job.undone_by)
    except Exception as error:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.UNDOING).update(
            status=job.undo_report.get("previous_status", ImportStatus.DONE),
            undone_by=None,
            error=f"Undo failed: {error}"[:2000],
        )
        raise


def import_undo(job: ImportJob, *, actor: User | None) -> dict:
    """Carry out the plan in one transaction; returns (and stores) the report."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        refusal = undo_refusal(job) if job.status != ImportStatus.UNDOING else ""
        if refusal:
            raise ValidationError(refusal)
        plan = undo_plan(job)
        for chunk in id_chunks(plan.delete_ids):
            Lead.objects.filter(pk__in=chunk).delete()  # cascades: activities, consent, tags
        restored = [_restore(job, snapshot, actor) for snapshot in plan.restore]
        # The Imported activities are gone and fields are back: both scores follow.
        leads_rescore(workspace=job.workspace_id, lead_ids=[s.lead_id for s in plan.restore])
        report = {
            "deleted": len(plan.delete_ids),
            "restored": sum(restored),
            "kept": plan.kept_count,
            "kept_listed": [
                {"lead_id": k.lead_id, "email": k.email, "reason": k.reason} for k in plan.kept
            ],
        }
        job.status, job.undone_at, job.undone_by = ImportStatus.UNDONE, timezone.now(), actor
        job.undo_report = report
        job.save(update_fields=["status", "undone_at", "undone_by", "undo_report"])
        audit_record(
            actor=actor,
            workspace=job.workspace,
            action="import.undo",
            obj=job,
            changes={k: v for k, v in report.items() if k != "kept_listed"},
        )
    return report


_DATE_FIELDS = {"birthday"}


def _is_member(workspace_id: int, user_id: int) -> bool:
    return Membership.objects.filter(workspace_id=workspace_id, user_id=user_id).exists()


def _restore(job: ImportJob, snapshot: ImportSnapshot, actor: User | None) -> int:
    """Put back what the import changed on one lead (its opt-out stays); 1 if restored."""
    lead = Lead.objects.select_for_update().get(pk=snapshot.lead_id)
    before = dict(snapshot.before)
    unsubscribed = before.pop("unsubscribed", False)
    tags_added = before.pop("tags_added", [])
    if unsubscribed:  # never re-subscribe: status and consent stay as the opt-out left them
        for name in ("status", "email_status", *CONSENT_FIELDS):
            before.pop(name, None)
    if lead.do_not_contact:  # Do Not Contact is honoured like an opt-out: undo never lifts it
        before.pop("do_not_contact", None)
    if before.get("owner_id") and not _is_member(lead.workspace_id, before["owner_id"]):
        before.pop("owner_id")  # the owner before has left the workspace: keep today's
    consent_before = {name: before.pop(name) for name in CONSENT_FIELDS if name in before}
    for name, value in before.items():
        if name in _DATE_FIELDS and value:
            value = date.fromisoformat(value)
        setattr(lead, name, value)
    if consent_before:
        event = ConsentEvent(
            workspace_id=lead.workspace_id,
            lead=lead,
            actor=actor,
            channel=Channel.IMPORT,
            status_before=lead.consent_status,
            status=consent_before.get("consent_status", lead.consent_status),
            type=consent_before.get("consent_type", ""),
            source=f"Undo of the import of {job.file_name}"[:200],
            proof=consent_before.get("consent_proof", ""),
            gdpr_basis=consent_before.get("gdpr_basis", ""),
        )
        event.save()
        for name, value in consent_before.items():
            if name == "consent_captured_at" and isinstance(value, str):
                value = parse_datetime(value)
            setattr(lead, name, value)
    if tags_added:
        names = [t.casefold() for t in tags_added]
        tag_ids = [
            t.pk
            for t in Tag.objects.filter(workspace_id=lead.workspace_id)
            if t.name.casefold() in names
        ]
        Lead.tags.through.objects.filter(lead=lead, tag_id__in=tag_ids).delete()
    Activity.objects.filter(Q(data__import=job.pk), lead=lead, type=ActivityType.IMPORTED).delete()
    lead.search_text = _search_text(lead)
    lead.version += 1
    lead.updated_at = timezone.now()
    last = lead.activities.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    lead.last_activity_at = last
    lead.save()
    return 1
