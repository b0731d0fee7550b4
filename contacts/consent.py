"""Consent, unsubscribing and suppression (PRODUCT 2 "Unsubscribing", C1–C4).

The consent ledger is append-only; the lead's consent fields copy its latest event.
Every path that unsubscribes a lead — kanban, bulk, edit, import, link — ends here.
"""

from collections.abc import Callable, Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from contacts import scoring
from contacts.activities import (
    activities_insert_select,
    activity_record,
    db_datetime,
    id_chunks,
    status_change_data_sql,
    status_change_record,
)
from contacts.models import (
    ActivityType,
    Channel,
    ConsentEvent,
    ConsentStatus,
    ConsentType,
    EmailStatus,
    GdprBasis,
    Lead,
    LeadStatus,
    SuppressedEmail,
    SuppressionReason,
)
from contacts.normalize import country_normalize
from contacts.quality import lead_quality_apply
from contacts.queries import suppressed_emails, suppression_check, suppression_hash
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace


def lead_is_unsubscribed(lead: Lead) -> bool:
    return lead.status == LeadStatus.UNSUBSCRIBED or lead.email_status == EmailStatus.UNSUBSCRIBED


# Called as handler(workspace_id=…, lead_ids=[…]) after leads unsubscribe, whatever the path,
# so higher apps stop what they would send them (pipeline: active sequence enrolments).
# Registered from AppConfig.ready; runs inside the unsubscribing transaction.
UNSUBSCRIBE_HANDLERS: list[Callable[..., None]] = []


def _unsubscribed_tell(workspace_id: int, lead_ids: list[int]) -> None:
    for handler in UNSUBSCRIBE_HANDLERS:
        handler(workspace_id=workspace_id, lead_ids=lead_ids)


# Why a lead may not be mailed (PRODUCT A5/C4), in the order they are told.
REFUSAL_TRASHED = "This lead is in the trash."
REFUSAL_UNSUBSCRIBED = "This lead unsubscribed from email."
REFUSAL_BOUNCED = "This lead's email address bounced."
REFUSAL_DO_NOT_CONTACT = "This lead is marked Do Not Contact."
REFUSAL_OPTED_OUT = "This lead opted out of email."
REFUSAL_SUPPRESSED = "This address is on the suppression list."


def mail_refusal(lead: Lead) -> str:
    """Why no email may go to this lead, or "" when one may."""
    if lead.deleted_at is not None:
        return REFUSAL_TRASHED
    if lead_is_unsubscribed(lead):
        return REFUSAL_UNSUBSCRIBED
    if lead.email_status == EmailStatus.BOUNCED:
        return REFUSAL_BOUNCED
    if lead.do_not_contact:
        return REFUSAL_DO_NOT_CONTACT
    if lead.consent_status == ConsentStatus.OPTED_OUT:
        return REFUSAL_OPTED_OUT
    if suppression_check(workspace=lead.workspace_id, email=lead.email):
        return REFUSAL_SUPPRESSED
    return ""


# mail_refusal() for a queryset, without the suppression list (a hash: see mail_refusals).
MAIL_REFUSAL_FILTERS = [
    (REFUSAL_TRASHED, Q(deleted_at__isnull=False)),
    (
        REFUSAL_UNSUBSCRIBED,
        Q(status=LeadStatus.UNSUBSCRIBED) | Q(email_status=EmailStatus.UNSUBSCRIBED),
    ),
    (REFUSAL_BOUNCED, Q(email_status=EmailStatus.BOUNCED)),
    (REFUSAL_DO_NOT_CONTACT, Q(do_not_contact=True)),
    (REFUSAL_OPTED_OUT, Q(consent_status=ConsentStatus.OPTED_OUT)),
]


def mail_refusals(leads: QuerySet[Lead], *, workspace: Workspace) -> tuple[list[int], dict]:
    """Split leads into the ids that may be mailed and {reason: count} for the rest.

    One query for the columns, then the suppression list for what is left; each refused lead
    is counted once, under the first reason that applies, as mail_refusal() tells it.
    """
    refused = Q()
    for _, condition in MAIL_REFUSAL_FILTERS:
        refused |= condition
    counts: dict[str, int] = {}
    annotations, earlier = {}, []
    for i, (_, condition) in enumerate(MAIL_REFUSAL_FILTERS):
        first_reason = condition
        for before in earlier:
            first_reason &= ~before
        annotations[f"r{i}"] = Count("pk", filter=first_reason)
        earlier.append(condition)
    totals = leads.order_by().aggregate(**annotations)
    for i, (reason, _) in enumerate(MAIL_REFUSAL_FILTERS):
        if totals[f"r{i}"]:
            counts[reason] = totals[f"r{i}"]
    candidates = list(leads.exclude(refused).order_by("pk").values_list("pk", "email"))
    suppressed = suppressed_emails(workspace=workspace, emails=[email for _, email in candidates])
    allowed = [pk for pk, email in candidates if email not in suppressed]
    if len(allowed) < len(candidates):
        counts[REFUSAL_SUPPRESSED] = len(candidates) - len(allowed)
    return allowed, counts


def _consent_event(
    lead: Lead, actor: User | None, status: str, channel: str, occurred_at: datetime, **details
) -> ConsentEvent:
    event = ConsentEvent(
        workspace_id=lead.workspace_id,
        lead=lead,
        actor=actor,
        channel=channel,
        status_before=lead.consent_status,
        status=status,
        occurred_at=occurred_at,
        **details,
    )
    event.full_clean(exclude=["workspace", "lead", "actor"])
    event.save()
    lead.consent_status = status
    lead.consent_type = event.type
    lead.consent_captured_at = occurred_at
    lead.consent_source = event.source
    lead.consent_proof = event.proof
    lead.gdpr_basis = event.gdpr_basis
    lead.consent_country = event.country
    return event


CONSENT_FIELDS = [
    "consent_status",
    "consent_type",
    "consent_captured_at",
    "consent_source",
    "consent_proof",
    "gdpr_basis",
    "consent_country",
]


@transaction.atomic
def consent_record(
    *,
    lead: Lead,
    actor: User | None,
    status: str,
    type: str = "",
    source: str = "",
    proof: str = "",
    gdpr_basis: str = "",
    country: str = "",
    channel: str = Channel.MANUAL,
    ip_address: str | None = None,
    user_agent: str = "",
    occurred_at: datetime | None = None,
) -> ConsentEvent:
    """Append to the consent ledger and update the lead's current consent (PRODUCT C1/C2).

    Opting out is unsubscribing: it goes through lead_unsubscribe(). Opting back in after an
    unsubscribe needs a source and proof, and makes the email Active again.
    """
    if status not in ConsentStatus.values:
        raise ValidationError({"status": f"Unknown consent status {status!r}."})
    if type and type not in ConsentType.values:
        raise ValidationError({"type": f"Unknown consent type {type!r}."})
    if gdpr_basis and gdpr_basis not in GdprBasis.values:
        raise ValidationError({"gdpr_basis": f"Unknown GDPR basis {gdpr_basis!r}."})
    current = Lead.objects.select_for_update().get(pk=lead.pk)
    if status == ConsentStatus.OPTED_OUT:
        lead_unsubscribe(
            lead=current,
            actor=actor,
            channel=channel,
            source=source,
            ip_address=ip_address,
            user_agent=user_agent,
            occurred_at=occurred_at,
        )
        return current.consent_events.order_by("-occurred_at", "-id").first()
    errors = {}
    if status == ConsentStatus.OPTED_IN and not source.strip():
        errors["source"] = "Say where the consent comes from."
    if status == ConsentStatus.OPTED_IN and lead_is_unsubscribed(current) and not proof.strip():
        errors["proof"] = "This lead unsubscribed: record the proof of their new consent."
    if errors:
        raise ValidationError(errors)
    event = _consent_event(
        current,
        actor,
        status,
        channel,
        occurred_at or timezone.now(),
        type=type,
        source=source.strip()[:200],
        proof=proof.strip(),
        gdpr_basis=gdpr_basis,
        country=country_normalize(country) if country else "",
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:400],
    )
    fields = [*CONSENT_FIELDS, "version", "updated_at"]
    if status == ConsentStatus.OPTED_IN and current.email_status == EmailStatus.UNSUBSCRIBED:
        current.email_status = EmailStatus.ACTIVE
        fields.append("email_status")
        if lead_quality_apply(current):  # a deliverable email counts in the quality score
            fields.append("quality_score")
    before = current.version
    current.version += 1
    current.updated_at = timezone.now()
    current.save(update_fields=fields)
    audit_record(
        actor=actor,
        workspace=current.workspace,
        action="lead.consent",
        obj=current,
        changes={
            "consent_status": [event.status_before, status],
            "source": event.source,
            "channel": channel,
            "version": [before, current.version],
        },
    )
    _copy_to(lead, current, [*fields])
    return event


def _copy_to(target: Lead, source: Lead, fields: Iterable[str]) -> None:
    for name in fields:
        setattr(target, name, getattr(source, name))


@transaction.atomic
def lead_unsubscribe(
    *,
    lead: Lead,
    actor: User | None,
    channel: str,
    source: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    occurred_at: datetime | None = None,
) -> Lead:
    """PRODUCT 2 "Unsubscribing": opt-out event, email status Unsubscribed, and status
    Unsubscribed unless the lead is Converted (a customer stays a customer)."""
    current = Lead.objects.select_for_update().get(pk=lead.pk)
    occurred_at = occurred_at or timezone.now()
    already = (
        current.email_status == EmailStatus.UNSUBSCRIBED
        and current.consent_status == ConsentStatus.OPTED_OUT
        and current.status in (LeadStatus.UNSUBSCRIBED, LeadStatus.CONVERTED)
    )
    if already:
        _copy_to(lead, current, [f.attname for f in Lead._meta.concrete_fields])
        return lead
    _consent_event(
        current,
        actor,
        ConsentStatus.OPTED_OUT,
        channel,
        occurred_at,
        type=current.consent_type,
        source=(source or Channel(channel).label)[:200],
        gdpr_basis=current.gdpr_basis,
        country=current.consent_country,
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:400],
    )
    old_status, old_email_status = current.status, current.email_status
    current.email_status = EmailStatus.UNSUBSCRIBED
    if current.status != LeadStatus.CONVERTED:
        current.status = LeadStatus.UNSUBSCRIBED
    before = current.version
    current.version += 1
    current.updated_at = timezone.now()
    current.save()
    audit_record(
        actor=actor,
        workspace=current.workspace,
        action="lead.unsubscribe",
        obj=current,
        changes={
            "status": [old_status, current.status],
            "email_status": [old_email_status, EmailStatus.UNSUBSCRIBED],
            "channel": channel,
            "version": [before, current.version],
        },
    )
    activity_record(
        lead=current,
        type=ActivityType.UNSUBSCRIBED,
        actor=actor,
        occurred_at=occurred_at,
        source=channel,
        subject=f"Unsubscribed ({Channel(channel).label})",
    )
    if old_status != current.status:
        status_change_record(current, actor, old_status, current.status, channel, occurred_at)
    _unsubscribed_tell(current.workspace_id, [current.pk])
    _copy_to(lead, current, [f.attname for f in Lead._meta.concrete_fields])
    return lead


@transaction.atomic
def leads_unsubscribe(
    *,
    workspace: Workspace,
    actor: User | None,
    leads: QuerySet[Lead],
    channel: str,
    source: str = "",
) -> int:
    """lead_unsubscribe() for many leads, set-based; returns how many were unsubscribed."""
    pending = (
        leads.filter(workspace=workspace, deleted_at__isnull=True)
        .exclude(
            email_status=EmailStatus.UNSUBSCRIBED,
            consent_status=ConsentStatus.OPTED_OUT,
            status__in=[LeadStatus.UNSUBSCRIBED, LeadStatus.CONVERTED],
        )
        .order_by()
    )
    ids = list(pending.values_list("pk", flat=True))
    if not ids:
        return 0
    now = timezone.now()
    source = (source or Channel(channel).label)[:200]
    actor_id = actor.pk if actor else None
    lead_table, event_table = Lead._meta.db_table, ConsentEvent._meta.db_table
    for chunk in id_chunks(ids):
        placeholders = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {event_table}
                    (workspace_id, lead_id, occurred_at, actor_id, channel, status_before, status,
                     type, source, proof, gdpr_basis, country, ip_address, user_agent)
                SELECT workspace_id, id, %s, %s, %s, consent_status, %s,
                       consent_type, %s, '', gdpr_basis, consent_country, NULL, ''
                FROM {lead_table} WHERE id IN ({placeholders})
                """,
                [db_datetime(now), actor_id, channel, ConsentStatus.OPTED_OUT, source, *chunk],
            )
        changing = list(
            Lead.objects.filter(pk__in=chunk)
            .exclude(status__in=[LeadStatus.UNSUBSCRIBED, LeadStatus.CONVERTED])
            .values_list("pk", flat=True)
        )
        if changing:
            activities_insert_select(
                changing,
                type=ActivityType.STATUS_CHANGED,
                at=now,
                actor=actor,
                source=channel,
                subject=f"Status set to {LeadStatus.UNSUBSCRIBED.label}",
                data_sql=status_change_data_sql(LeadStatus.UNSUBSCRIBED),
            )
        activities_insert_select(
            chunk,
            type=ActivityType.UNSUBSCRIBED,
            at=now,
            actor=actor,
            source=channel,
            subject=f"Unsubscribed ({Channel(channel).label})",
            data_sql="'{}'",
        )
        Lead.objects.filter(pk__in=chunk).exclude(status=LeadStatus.CONVERTED).update(
            status=LeadStatus.UNSUBSCRIBED
        )
        Lead.objects.filter(pk__in=chunk).update(
            email_status=EmailStatus.UNSUBSCRIBED,
            consent_status=ConsentStatus.OPTED_OUT,
            consent_captured_at=now,
            consent_source=source,
            consent_proof="",
            version=F("version") + 1,
            updated_at=now,
            last_activity_at=now,
        )
    scoring.leads_rescore(workspace=workspace, lead_ids=ids)
    _unsubscribed_tell(workspace.pk, ids)
    audit_record(
        actor=actor,
        workspace=workspace,
        action="lead.bulk_unsubscribe",
        object_repr=f"{len(ids)} leads",
        changes={"channel": channel, "count": len(ids), "lead_ids": ids[:1000]},
    )
    return len(ids)


@transaction.atomic
def suppression_add(
    *, workspace: Workspace, email: str, reason: str, actor: User | None
) -> SuppressedEmail:
    """Remember an address (as an HMAC, never in clear) that must not be re-created or mailed."""
    if reason not in SuppressionReason.values:
        raise ValidationError(f"Unknown suppression reason {reason!r}.")
    email_hash = suppression_hash(email)
    entry, created = SuppressedEmail.objects.get_or_create(
        workspace=workspace,
        email_hash=email_hash,
        defaults={"reason": reason, "created_by": actor},
    )
    if created:
        audit_record(
            actor=actor,
            workspace=workspace,
            action="suppression.add",
            obj=entry,
            object_repr=f"hash {email_hash[:12]}…",
            changes={"reason": reason},
        )
    return entry


@transaction.atomic
def suppression_remove(*, entry: SuppressedEmail, actor: User | None) -> None:
    audit_record(
        actor=actor,
        workspace=entry.workspace,
        action="suppression.remove",
        obj=entry,
        object_repr=f"hash {entry.email_hash[:12]}…",
    )
    entry.delete()


@transaction.atomic
def suppression_add_many(
    *, workspace: Workspace, emails: Iterable[str], reason: str, actor: User | None
) -> tuple[int, int]:
    """suppression_add() for a list (typed or uploaded): returns (added, already listed).

    Only hashes are stored; one audit entry counts them and names no address."""
    if reason not in SuppressionReason.values:
        raise ValidationError(f"Unknown suppression reason {reason!r}.")
    hashes = sorted({suppression_hash(email) for email in emails if email and email.strip()})
    existing: set[str] = set()
    entries = SuppressedEmail.objects.filter(workspace=workspace)
    for chunk in id_chunks(hashes):
        existing.update(entries.filter(email_hash__in=chunk).values_list("email_hash", flat=True))
    new = [h for h in hashes if h not in existing]
    SuppressedEmail.objects.bulk_create(
        [
            SuppressedEmail(workspace=workspace, email_hash=h, reason=reason, created_by=actor)
            for h in new
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    if new:
        audit_record(
            actor=actor,
            workspace=workspace,
            action="suppression.add",
            object_repr=f"{len(new)} address{'es' if len(new) != 1 else ''}",
            changes={"reason": reason, "count": len(new), "already_listed": len(existing)},
        )
    return len(new), len(existing)


def suppression_entry_for(*, workspace: Workspace, email: str) -> SuppressedEmail | None:
    """The list's entry for a typed address (to remove it), or None."""
    return SuppressedEmail.objects.filter(
        workspace=workspace, email_hash=suppression_hash(email)
    ).first()


@transaction.atomic
def lead_do_not_contact_set(*, lead: Lead, actor: User | None, value: bool) -> Lead:
    """The Do Not Contact flag (C4): no email, call or sequence step goes to the lead."""
    current = Lead.objects.select_for_update().get(pk=lead.pk)
    if current.deleted_at is not None:
        raise ValidationError("This lead is in the trash; restore it to change it.")
    if current.do_not_contact != value:
        before = current.version
        current.do_not_contact = value
        current.version += 1
        current.updated_at = timezone.now()
        current.save(update_fields=["do_not_contact", "version", "updated_at"])
        audit_record(
            actor=actor,
            workspace=current.workspace,
            action="lead.do_not_contact",
            obj=current,
            changes={"do_not_contact": [not value, value], "version": [before, current.version]},
        )
    _copy_to(lead, current, ["do_not_contact", "version", "updated_at"])
    return lead
