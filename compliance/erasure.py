"""GDPR erasure (PRODUCT C6): one lead at a time or in bulk, leaving only a hash behind.

Erasing a lead, in one transaction: the registered erasure handlers run first (an import's
error-report rows, which may name the address without pointing at the lead); the audit
entries about the lead are redacted (which fields changed stays, every value goes); the lead
is deleted with everything that cascades from it (activities, consent events, segment
memberships, sequence enrolments and their sends, undo snapshots, tag links); the hashes of
its addresses go on the suppression list, so an import, the API or a webform can never bring
it back; an audit entry records the erasure without any personal data.

Bulk erasure turns a selection or an uploaded list into lead ids and hashes in the request
(addresses are never stored, and the upload is deleted), then a background task erases in
chunks of CHUNK leads, one transaction each, keeping the request's counts as its report.
"""

import unicodedata
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from compliance.models import ErasureRequest
from contacts.activities import id_chunks
from contacts.erasure import erasure_handlers_run
from contacts.models import Lead, SuppressedEmail, SuppressionReason
from contacts.queries import suppression_hash
from leadcrm.audit import audit_record
from leadcrm.models import AuditLog, User, Workspace

CHUNK = 1000  # leads per transaction of a bulk erasure
STALE_AFTER = timedelta(minutes=2)  # a running request with no heartbeat for this long died
REDACTED = "[erased]"

# What Lead.delete() reports, as the erasure report names it.
REPORT_NAMES = {
    "contacts.Lead": "leads",
    "contacts.Activity": "activities",
    "contacts.ConsentEvent": "consent events",
    "contacts.Lead_tags": "tag links",
    "contacts.ImportSnapshot": "import undo snapshots",
    "segments.SegmentMembership": "segment memberships",
    "pipeline.SequenceEnrollment": "sequence enrolments",
    "pipeline.SequenceSend": "sequence emails sent",
}
REPORT_ORDER = [
    "leads",
    "activities",
    "consent events",
    "segment memberships",
    "sequence enrolments",
    "sequence emails sent",
    "import undo snapshots",
    "import error-report rows",
    "tag links",
    "audit entries redacted",
    "addresses suppressed",
]


def report_lines(report: dict[str, int]) -> list[tuple[str, int]]:
    """The report's counts in a stable order for pages: the known kinds, then any other."""
    known = [(name, report[name]) for name in REPORT_ORDER if name in report]
    others = sorted((name, n) for name, n in report.items() if name not in REPORT_ORDER)
    return known + others


def email_normalise(email: str) -> str:
    """As suppression_hash() sees an address: NFC, stripped, lower-cased."""
    return unicodedata.normalize("NFC", (email or "").strip()).lower()


def _add(report: dict[str, int], counts: dict[str, int]) -> None:
    for name, count in counts.items():
        if count:
            report[name] = report.get(name, 0) + count


# Each value of an entry's changes replaced by REDACTED, keys kept, in one statement.
_REDACT_CHANGES = {
    "postgresql": (
        "CASE WHEN jsonb_typeof(changes) = 'object' THEN (SELECT COALESCE("
        "jsonb_object_agg(key, to_jsonb(%s::text)), '{}'::jsonb) FROM jsonb_object_keys(changes)"
        " AS key) ELSE '{}'::jsonb END"
    ),
    "sqlite": (
        "CASE WHEN json_type(changes) = 'object' THEN (SELECT COALESCE("
        "json_group_object(key, %s), '{}') FROM json_each(changes)) ELSE '{}' END"
    ),
}


def _audit_redact(workspace: Workspace, lead_ids: list[int]) -> int:
    """Blank every value in the audit entries about these leads; keep who, when and which
    fields, so the trail still shows that something changed. Set-based: one UPDATE a chunk."""
    table = AuditLog._meta.db_table
    redact = _REDACT_CHANGES[connection.vendor]
    redacted = 0
    for chunk in id_chunks(lead_ids):
        object_ids = [str(pk) for pk in chunk]
        placeholders = ", ".join(["%s"] * len(object_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET object_repr = %s || object_id, changes = {redact} "
                f"WHERE workspace_id = %s AND object_type = %s AND object_id IN ({placeholders})",
                ["Erased lead #", REDACTED, workspace.pk, Lead._meta.label_lower, *object_ids],
            )
            redacted += cursor.rowcount
    return redacted


def _suppress(workspace: Workspace, hashes: Iterable[str], actor: User | None) -> int:
    """Put the hashes on the suppression list (an existing entry keeps its reason)."""
    hashes = sorted(set(hashes))
    SuppressedEmail.objects.bulk_create(
        [
            SuppressedEmail(
                workspace=workspace,
                email_hash=email_hash,
                reason=SuppressionReason.ERASED,
                created_by=actor,
            )
            for email_hash in hashes
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    return len(hashes)


def leads_erase(
    *, workspace: Workspace, lead_ids: list[int], email_hashes: Iterable[str], actor: User | None
) -> dict[str, int]:
    """Erase these leads (trash included) and suppress their addresses and `email_hashes`,
    in the caller's transaction; returns {what: how many} for the report."""
    leads = Lead.objects.filter(workspace=workspace, pk__anyof=lead_ids).order_by("pk")
    rows = list(leads.select_for_update().values_list("pk", "email", "secondary_emails"))
    ids = [pk for pk, _, _ in rows]
    hashes = set(email_hashes)
    for _, email, secondary in rows:
        hashes.update(suppression_hash(address) for address in [email, *(secondary or [])])
    report: dict[str, int] = {}
    _add(
        report, erasure_handlers_run(workspace=workspace, lead_ids=ids, email_hashes=sorted(hashes))
    )
    _add(report, {"audit entries redacted": _audit_redact(workspace, ids)})
    for chunk in id_chunks(ids):
        # only(): the cascade needs the ids, not every column of every lead.
        _, per_model = Lead.objects.filter(pk__anyof=chunk).only("pk").delete()
        _add(report, {REPORT_NAMES.get(label, label): n for label, n in per_model.items()})
    _add(report, {"addresses suppressed": _suppress(workspace, hashes, actor)})
    return report


@transaction.atomic
def lead_erase(*, lead: Lead, actor: User | None, confirmation: str) -> ErasureRequest:
    """Erase one lead now, in one transaction, once its email has been typed to confirm."""
    if not confirmation.strip() or email_normalise(confirmation) != email_normalise(lead.email):
        raise ValidationError(
            {"confirmation": "Type the lead's email address exactly as shown to confirm."}
        )
    now = timezone.now()
    request = ErasureRequest.objects.create(
        workspace_id=lead.workspace_id,
        requested_by=actor,
        origin=ErasureRequest.Origin.LEAD,
        status=ErasureRequest.Status.RUNNING,
        leads_total=1,
        started_at=now,
    )
    report = leads_erase(workspace=lead.workspace, lead_ids=[lead.pk], email_hashes=[], actor=actor)
    if not report.get("leads"):
        raise ValidationError("This lead no longer exists.")
    request.report = report
    request.leads_erased = report["leads"]
    request.status = ErasureRequest.Status.DONE
    request.finished_at = timezone.now()
    request.save()
    audit_record(
        actor=actor,
        workspace=lead.workspace,
        action="lead.erase",
        obj=lead,  # deleted, but still knows its type and id
        object_repr=f"Erased lead #{lead.pk}",
        changes={"request": request.pk, **report},
    )
    return request


# Bulk -------------------------------------------------------------------------------------


def lead_ids_for_emails(*, workspace: Workspace, emails: Iterable[str]) -> list[int]:
    """The workspace's leads (trash included) with one of `emails` as their email or as a
    secondary email: a data subject may write from either address."""
    wanted = sorted({email_normalise(e) for e in emails if e.strip()})
    if not wanted:
        return []
    found: set[int] = set()
    leads = Lead.objects.filter(workspace=workspace)
    by_email = leads.annotate(email_ci=Lower("email"))
    for chunk in id_chunks(wanted):
        found.update(by_email.filter(email_ci__anyof=chunk).values_list("pk", flat=True))
    # The few leads with secondary emails (a partial index lists the live ones), read once.
    wanted_set = set(wanted)
    with_secondary = leads.exclude(secondary_emails=[]).values_list("pk", "secondary_emails")
    for pk, secondary in with_secondary.iterator(chunk_size=5000):
        if any(email_normalise(e) in wanted_set for e in secondary or []):
            found.add(pk)
    return sorted(found)


@transaction.atomic
def erasure_request_create(
    *,
    workspace: Workspace,
    actor: User | None,
    origin: str,
    lead_ids: Iterable[int] = (),
    emails: Iterable[str] = (),
    reference: str = "",
    enqueue: bool = True,
) -> ErasureRequest:
    """Record a bulk erasure as ids and hashes and queue it. `emails` (an uploaded list) are
    matched to leads and hashed here and go no further: the request never holds one."""
    emails = {email_normalise(e) for e in emails if e and e.strip()}
    ids: set[int] = set()
    for chunk in id_chunks(sorted(set(lead_ids))):  # a selection may be 100,000 ids
        leads = Lead.objects.filter(workspace=workspace, pk__in=chunk)
        ids.update(leads.values_list("pk", flat=True))
    ids.update(lead_ids_for_emails(workspace=workspace, emails=emails))
    if not ids and not emails:
        raise ValidationError("There is nothing to erase: no lead and no address was given.")
    request = ErasureRequest.objects.create(
        workspace=workspace,
        requested_by=actor,
        origin=origin,
        reference=reference.strip()[:200],
        lead_ids=sorted(ids),
        email_hashes=sorted(suppression_hash(e) for e in emails),
        leads_total=len(ids),
        addresses_total=len(emails),
    )
    audit_record(
        actor=actor,
        workspace=workspace,
        action="erasure.request",
        obj=request,
        object_repr=f"Erasure of {len(ids)} leads",
        changes={
            "origin": origin,
            "leads": len(ids),
            "addresses": len(emails),
            "reference": request.reference,
        },
    )
    if enqueue:
        from compliance.tasks import erasure_run

        transaction.on_commit(lambda: erasure_run.enqueue(request.pk))
    return request


def erasure_request_run(request_id: int) -> ErasureRequest | None:
    """Work through a request in chunks, one transaction each; safe to run again after a
    crash (what was erased is gone from the request) or twice at once (each chunk locks it)."""
    request = ErasureRequest.objects.filter(pk=request_id).first()
    if request is None or request.is_finished:
        return request
    try:
        while _erasure_step(request_id):
            pass
    except Exception as error:  # noqa: BLE001 — the request records why it stopped
        ErasureRequest.objects.filter(pk=request_id).update(
            status=ErasureRequest.Status.FAILED,
            error=f"{type(error).__name__}: {error}"[:1000],
            finished_at=timezone.now(),
        )
        raise
    return ErasureRequest.objects.get(pk=request_id)


def _erasure_step(request_id: int) -> bool:
    """Erase the next chunk; False once the request is done."""
    with transaction.atomic():
        request = ErasureRequest.objects.select_for_update().get(pk=request_id)
        if request.is_finished:
            return False
        now = timezone.now()
        request.status = ErasureRequest.Status.RUNNING
        request.started_at = request.started_at or now
        request.heartbeat_at = now
        ids, hashes = request.lead_ids[:CHUNK], request.email_hashes
        counts = leads_erase(
            workspace=request.workspace,
            lead_ids=ids,
            email_hashes=hashes,
            actor=request.requested_by,
        )
        report = dict(request.report)
        _add(report, counts)
        if counts.get("leads"):
            audit_record(
                actor=request.requested_by,
                workspace=request.workspace,
                action="lead.bulk_erase",
                obj=request,
                object_repr=f"Erased {counts['leads']} leads",
                changes={"request": request.pk, "lead_ids": ids, **counts},
            )
        request.report = report
        request.leads_erased += counts.get("leads", 0)
        request.lead_ids = request.lead_ids[CHUNK:]
        request.email_hashes = []  # suppressed (and their error rows erased) with the first chunk
        done = not request.lead_ids
        if done:
            request.status = ErasureRequest.Status.DONE
            request.finished_at = now
        request.save()
        return not done


def erasure_resume_stale(workspace: Workspace) -> list[int]:
    """Queue again the requests whose worker died (no heartbeat for STALE_AFTER) or that never
    started; called when the erasure page opens. Returns the request ids queued."""
    from compliance.tasks import erasure_run

    cutoff = timezone.now() - STALE_AFTER
    stale = ErasureRequest.objects.filter(
        workspace=workspace, status=ErasureRequest.Status.RUNNING, heartbeat_at__lt=cutoff
    ) | ErasureRequest.objects.filter(
        workspace=workspace, status=ErasureRequest.Status.QUEUED, created_at__lt=cutoff
    )
    ids = list(stale.values_list("pk", flat=True))
    for pk in ids:
        ErasureRequest.objects.filter(pk=pk).update(heartbeat_at=timezone.now())
        erasure_run.enqueue(pk)
    return ids
