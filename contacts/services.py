"""Writes on leads: the services every app calls (activities: contacts.activities; consent,
unsubscribing and suppression: contacts.consent).

Each service validates, changes the rows in one transaction and writes the audit entry (and
the timeline activity where a person would expect one). Batch forms do the same work
set-based — never a loop of the one-row form.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, QuerySet
from django.utils import timezone

from contacts import scoring
from contacts.activities import (
    activities_insert_select,
    id_chunks,
    status_change_data_sql,
    status_change_record,
)
from contacts.consent import lead_unsubscribe, leads_unsubscribe
from contacts.custom_fields import attributes_clean
from contacts.models import (
    ActivityType,
    Channel,
    Company,
    ConsentStatus,
    EmailStatus,
    Lead,
    LeadStatus,
    SuppressedEmail,
    SuppressionReason,
    Tag,
)
from contacts.normalize import (
    country_normalize,
    email_domain,
    email_normalize,
    phone_normalize,
    search_text_for,
)
from contacts.quality import lead_quality_apply
from contacts.queries import leads_for, suppression_check, suppression_hash
from leadcrm.audit import audit_record
from leadcrm.models import AuditLog, Membership, User, Workspace

UNSET: Any = object()
TRASH_DAYS = 30

# Plain fields a form, an import or the API may set through lead_create/lead_update.
LEAD_FIELDS = (
    "email",
    "secondary_emails",
    "first_name",
    "last_name",
    "phone",
    "mobile",
    "job_title",
    "department",
    "contact_role",
    "company",
    "domain",
    "source",
    "owner",
    "linkedin_url",
    "twitter_handle",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "timezone",
    "preferred_language",
    "birthday",
    "status",
    "email_status",
    "do_not_contact",
    "bant_budget",
    "bant_authority",
    "bant_need",
    "bant_timeline",
)
SEARCH_FIELDS = {"first_name", "last_name", "email", "company"}
CONSENT_FIELDS_NAMES = ("consent_status", "consent_type", "consent_source", "consent_proof")


class LeadChanged(Exception):
    """A save based on an old `version`: someone changed the lead meanwhile (PRODUCT L6)."""

    def __init__(self, lead: Lead, changed_fields: list[str]):
        self.lead = lead
        self.changed_fields = changed_fields
        names = ", ".join(changed_fields) if changed_fields else "its fields"
        super().__init__(f"This lead was changed by someone else meanwhile ({names}).")


@dataclass
class BulkResult:
    updated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count


def _value_repr(value: Any) -> Any:
    """An audit-friendly form of a field value (JSON-serialisable)."""
    if isinstance(value, (Company, User)):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# Companies and owners ----------------------------------------------------------------------


def company_for_name(*, workspace: Workspace, name: str, domain: str = "") -> Company | None:
    """The workspace's company of that name (case-insensitive), created when new."""
    name = " ".join((name or "").split())[:200]
    if not name:
        return None
    company = Company.objects.filter(workspace=workspace, name__iexact=name).first()
    if company is None:
        company = Company.objects.create(workspace=workspace, name=name, domain=domain)
    return company


def _owner_check(workspace: Workspace, owner: User | None) -> None:
    if (
        owner is not None
        and not Membership.objects.filter(workspace=workspace, user=owner).exists()
    ):
        raise ValidationError({"owner": "The owner must be a member of this workspace."})


# One lead ---------------------------------------------------------------------------------


def _clean_fields(workspace: Workspace, values: dict[str, Any], lead: Lead) -> dict[str, Any]:
    """Normalise the given plain fields against the lead they will land on."""
    unknown = set(values) - set(LEAD_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown lead fields: {', '.join(sorted(unknown))}")
    cleaned = dict(values)
    errors: dict[str, list[ValidationError]] = {}

    def check(name, fn, *args):
        if name in cleaned:
            try:
                cleaned[name] = fn(cleaned[name], *args)
            except ValidationError as error:
                errors.setdefault(name, []).extend(error.error_list)

    check("email", email_normalize)
    check("country", lambda v: country_normalize(v or ""))
    country = cleaned.get("country", lead.country)
    check("phone", lambda v: phone_normalize(v or "", country))
    check("mobile", lambda v: phone_normalize(v or "", country))
    if "secondary_emails" in cleaned:
        emails, bad = [], []
        for raw in cleaned["secondary_emails"] or []:
            try:
                email = email_normalize(raw)
            except ValidationError:
                bad.append(str(raw)[:60])
            else:
                if email not in emails:
                    emails.append(email)
        if bad:
            errors["secondary_emails"] = [f"Not an email address: {', '.join(bad)}"]
        cleaned["secondary_emails"] = emails
    if "company" in cleaned and isinstance(cleaned["company"], str):
        cleaned["company"] = company_for_name(workspace=workspace, name=cleaned["company"])
    company = cleaned.get("company", UNSET)
    if company not in (UNSET, None) and company.workspace_id != workspace.pk:
        errors["company"] = ["That company belongs to another workspace."]
    for name in ("first_name", "last_name", "job_title", "department", "city", "source"):
        if isinstance(cleaned.get(name), str):
            cleaned[name] = " ".join(cleaned[name].split())
    if errors:
        raise ValidationError(errors)
    if "owner" in cleaned:
        _owner_check(workspace, cleaned["owner"])
    return cleaned


def _email_conflict(workspace: Workspace, email: str, exclude_pk: int | None = None) -> None:
    existing = leads_for(workspace, include_deleted=True).filter(email__iexact=email)
    if exclude_pk:
        existing = existing.exclude(pk=exclude_pk)
    for other in existing.only("pk", "deleted_at"):
        if other.deleted_at is None:
            raise ValidationError(
                {
                    "email": ValidationError(
                        "A lead with this email already exists.",
                        code="duplicate",
                        params={"lead_id": other.pk},
                    )
                }
            )
        if exclude_pk is None:
            raise ValidationError(
                {
                    "email": ValidationError(
                        "A lead with this email is in the trash: restore it instead.",
                        code="in_trash",
                        params={"lead_id": other.pk},
                    )
                }
            )


def _search_text(lead: Lead) -> str:
    return search_text_for(
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        company_name=lead.company.name if lead.company_id else "",
    )


@transaction.atomic
def lead_create(
    *,
    workspace: Workspace,
    actor: User | None,
    email: str,
    tags: Iterable[Tag | str] = (),
    attributes: dict | None = None,
    channel: str = Channel.MANUAL,
    allow_suppressed: bool = False,
    **fields: Any,
) -> Lead:
    lead = Lead(workspace=workspace)
    cleaned = _clean_fields(workspace, {"email": email, **fields}, lead)
    for name, value in cleaned.items():
        setattr(lead, name, value)
    if not allow_suppressed and suppression_check(workspace=workspace, email=lead.email):
        raise ValidationError(
            {"email": "This address is on the suppression list and cannot be added again."}
        )
    _email_conflict(workspace, lead.email)
    if "domain" not in cleaned:
        lead.domain = email_domain(lead.email)
    lead.attributes = attributes_clean(workspace=workspace, values=attributes or {}, partial=False)
    unsubscribed = LeadStatus.UNSUBSCRIBED in (lead.status, lead.email_status)
    if unsubscribed:  # arrives through lead_unsubscribe() below, like every unsubscribe
        if lead.status == LeadStatus.UNSUBSCRIBED:  # a Converted lead stays Converted
            lead.status = LeadStatus.NEW
        lead.email_status = EmailStatus.ACTIVE
    lead.search_text = _search_text(lead)
    lead_quality_apply(lead)
    lead.full_clean(exclude=["workspace", "owner", "company"], validate_constraints=False)
    try:
        with transaction.atomic():  # a savepoint: the race below leaves the outer one usable
            lead.save()
    except IntegrityError:
        # Someone saved the same email between our check and this insert.
        _email_conflict(workspace, lead.email)
        raise
    if tags:
        lead.tags.set(tags_for_names(workspace=workspace, names=tags))
    audit_record(
        actor=actor,
        workspace=workspace,
        action="lead.create",
        obj=lead,
        changes={name: [None, _value_repr(value)] for name, value in cleaned.items()},
    )
    if unsubscribed:
        lead_unsubscribe(lead=lead, actor=actor, channel=channel)
    return lead


# What a stale-edit message may name: the lead's own fields (consent entries also log
# "source" and "channel", which are not fields of the lead).
CHANGE_FIELDS = {*LEAD_FIELDS, *CONSENT_FIELDS_NAMES, "attributes", "tags"}


def _changed_since(lead: Lead, version: int) -> list[str]:
    """Fields changed after `version`, read from the lead's audit entries."""
    changed: set[str] = set()
    entries = AuditLog.objects.filter(
        workspace_id=lead.workspace_id, object_type="contacts.lead", object_id=str(lead.pk)
    ).order_by("-created_at")[:50]
    for entry in entries:
        versions = entry.changes.get("version")
        if versions and versions[0] is not None and versions[0] >= version:
            changed.update(name for name in entry.changes if name in CHANGE_FIELDS)
    return sorted(changed)


@transaction.atomic
def lead_update(
    *,
    lead: Lead,
    actor: User | None,
    expected_version: int | None = None,
    tags: Iterable[Tag | str] = UNSET,
    attributes: dict = UNSET,
    channel: str = Channel.MANUAL,
    **fields: Any,
) -> Lead:
    """Change a lead; `expected_version` refuses a save based on a stale copy (LeadChanged)."""
    # of=self: PostgreSQL cannot lock the nullable side of the outer join to the company.
    current = Lead.objects.select_for_update(of=("self",)).select_related("company").get(pk=lead.pk)
    if current.deleted_at is not None:
        raise ValidationError("This lead is in the trash; restore it to change it.")
    if expected_version is not None and current.version != expected_version:
        raise LeadChanged(current, _changed_since(current, expected_version))
    workspace = current.workspace
    cleaned = _clean_fields(workspace, fields, current)
    changes: dict[str, list] = {}
    for name, value in cleaned.items():
        old = getattr(current, name)
        if old != value:
            changes[name] = [_value_repr(old), _value_repr(value)]
            setattr(current, name, value)
    if "email" in changes:
        _email_conflict(workspace, current.email, exclude_pk=current.pk)
        moved = suppression_hash(changes["email"][0] or "") != suppression_hash(current.email)
        if moved and suppression_check(workspace=workspace, email=current.email):
            raise ValidationError(
                {"email": "This address is on the suppression list: a lead cannot take it."}
            )
    if attributes is not UNSET:
        new_attributes = attributes_clean(
            workspace=workspace, values=attributes, partial=True, existing=current.attributes
        )
        if new_attributes != current.attributes:
            changes["attributes"] = [current.attributes, new_attributes]
            current.attributes = new_attributes
    if tags is not UNSET:
        old_tags = sorted(current.tags.values_list("name", flat=True))
        new_tag_objects = tags_for_names(workspace=workspace, names=tags)
        if sorted(t.name for t in new_tag_objects) != old_tags:
            changes["tags"] = [old_tags, sorted(t.name for t in new_tag_objects)]
            current.tags.set(new_tag_objects)

    old_status = changes["status"][0] if "status" in changes else current.status
    old_email_status = (
        changes["email_status"][0] if "email_status" in changes else current.email_status
    )
    # Setting Unsubscribed goes through lead_unsubscribe(), after the other fields are saved.
    unsubscribe_status = "status" in changes and current.status == LeadStatus.UNSUBSCRIBED
    unsubscribe_email = (
        "email_status" in changes and current.email_status == EmailStatus.UNSUBSCRIBED
    )
    if unsubscribe_status:
        current.status = changes.pop("status")[0]
    if unsubscribe_email:
        current.email_status = changes.pop("email_status")[0]
    unsubscribing = unsubscribe_status or unsubscribe_email
    # Leaving Unsubscribed in either field needs new consent, even while the other stays.
    leaving_unsubscribed = (
        old_status == LeadStatus.UNSUBSCRIBED and current.status != LeadStatus.UNSUBSCRIBED
    ) or (
        old_email_status == EmailStatus.UNSUBSCRIBED
        and current.email_status != EmailStatus.UNSUBSCRIBED
    )
    if (
        not unsubscribing
        and leaving_unsubscribed
        and current.consent_status != ConsentStatus.OPTED_IN
    ):
        raise ValidationError(
            "This lead unsubscribed. Record new consent (with its source and proof) "
            "before changing its status."
        )
    if not changes and not unsubscribing:
        return current
    if SEARCH_FIELDS & set(changes):
        current.search_text = _search_text(current)
    if changes:
        changes["version"] = [current.version, current.version + 1]
        current.version += 1
        current.updated_at = timezone.now()
        if "domain" not in cleaned and "email" in changes and not current.domain:
            current.domain = email_domain(current.email)
        lead_quality_apply(current)
        current.full_clean(exclude=["workspace", "owner", "company"], validate_constraints=False)
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError:
            _email_conflict(workspace, current.email, exclude_pk=current.pk)
            raise
        audit_record(
            actor=actor, workspace=workspace, action="lead.update", obj=current, changes=changes
        )
        if "status" in changes:
            status_change_record(
                current, actor, changes["status"][0], changes["status"][1], channel
            )
    if unsubscribing:
        current = lead_unsubscribe(lead=current, actor=actor, channel=channel)
    return current


@transaction.atomic
def lead_delete(*, lead: Lead, actor: User | None) -> Lead:
    """Move to the trash (restorable for TRASH_DAYS days)."""
    now = timezone.now()
    updated = Lead.objects.filter(pk=lead.pk, deleted_at__isnull=True).update(
        deleted_at=now, version=F("version") + 1, updated_at=now
    )
    lead.refresh_from_db()
    if updated:
        audit_record(actor=actor, workspace=lead.workspace, action="lead.delete", obj=lead)
    return lead


@transaction.atomic
def lead_restore(*, lead: Lead, actor: User | None) -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.deleted_at is None:
        return lead
    if leads_for(lead.workspace_id).filter(email__iexact=lead.email).exists():
        raise ValidationError(
            f"Another lead now uses {lead.email}; change or delete it before restoring this one."
        )
    lead.deleted_at = None
    lead.version += 1
    lead.updated_at = timezone.now()
    lead.save(update_fields=["deleted_at", "version", "updated_at"])
    audit_record(actor=actor, workspace=lead.workspace, action="lead.restore", obj=lead)
    return lead


@transaction.atomic
def leads_purge_trash(*, now: datetime | None = None) -> int:
    """Delete for good what has been in any workspace's trash for more than TRASH_DAYS days."""
    cutoff = (now or timezone.now()) - timedelta(days=TRASH_DAYS)
    expired = Lead.objects.filter(deleted_at__lt=cutoff)
    per_workspace = dict(
        expired.values_list("workspace_id").annotate(n=Max("id")).values_list("workspace_id", "n")
    )
    total = 0
    for workspace_id in per_workspace:
        ids = list(expired.filter(workspace_id=workspace_id).values_list("pk", flat=True))
        for chunk in id_chunks(ids):
            _remember_refusals(workspace_id, chunk)
            Lead.objects.filter(pk__in=chunk).delete()
        total += len(ids)
        audit_record(
            actor=None,
            workspace=Workspace(pk=workspace_id),
            action="lead.purge",
            changes={"count": len(ids)},
            object_repr=f"{len(ids)} leads older than {TRASH_DAYS} days in the trash",
        )
    return total


def _remember_refusals(workspace_id: int, ids: list[int]) -> None:
    """A lead that unsubscribed or bounced leaves its address on the suppression list when it
    is deleted for good, so a later import cannot bring it back and mail it (C4)."""
    reasons = {
        EmailStatus.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBED,
        EmailStatus.BOUNCED: SuppressionReason.BOUNCED,
    }
    refused = Lead.objects.filter(pk__in=ids, email_status__in=list(reasons))
    SuppressedEmail.objects.bulk_create(
        [
            SuppressedEmail(
                workspace_id=workspace_id,
                email_hash=suppression_hash(email),
                reason=reasons[email_status],
            )
            for email, email_status in refused.values_list("email", "email_status")
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


def tags_for_names(*, workspace: Workspace, names: Iterable[Tag | str]) -> list[Tag]:
    """Tags by name (case-insensitive), creating the missing ones."""
    tags: dict[str, Tag] = {}
    wanted: list[str] = []
    for item in names:
        if isinstance(item, Tag):
            if item.workspace_id != workspace.pk:
                raise ValidationError("That tag belongs to another workspace.")
            tags[item.name.casefold()] = item
        else:
            name = " ".join(str(item).split())[:60]
            if name and name.casefold() not in tags:
                wanted.append(name)
    if wanted:
        existing = Tag.objects.filter(workspace=workspace)
        by_name = {t.name.casefold(): t for t in existing}
        missing: dict[str, str] = {}
        for name in wanted:
            if name.casefold() not in by_name:
                missing.setdefault(name.casefold(), name)  # the first spelling names the tag
        # One INSERT for any number of new tags (an import brings many).
        new = [Tag(workspace=workspace, name=name) for name in missing.values()]
        by_name.update((tag.name.casefold(), tag) for tag in Tag.objects.bulk_create(new))
        for name in wanted:
            tags.setdefault(name.casefold(), by_name[name.casefold()])
    return list(tags.values())


def _tags_existing(*, workspace: Workspace, names: Iterable[Tag | str]) -> list[Tag]:
    """The workspace's existing tags among `names` (case-insensitive); never creates one."""
    keys: set[str] = set()
    for item in names:
        if isinstance(item, Tag):
            if item.workspace_id != workspace.pk:
                raise ValidationError("That tag belongs to another workspace.")
            keys.add(item.name.casefold())
        else:
            keys.add(" ".join(str(item).split())[:60].casefold())
    return [t for t in Tag.objects.filter(workspace=workspace) if t.name.casefold() in keys]


# Many leads ------------------------------------------------------------------------------


def _attributes_merge(ids: list[int], values: dict, cleared: list[str]) -> None:
    """Set and remove custom-field keys on many leads in one statement per chunk."""
    import json

    table = Lead._meta.db_table
    placeholders = ", ".join(["%s"] * len(ids))
    if connection.vendor == "postgresql":
        expr = "attributes || %s::jsonb"
        params: list = [json.dumps(values)]
        for key in cleared:
            expr = f"({expr}) - %s"
            params.append(key)
    else:
        expr = "json_patch(attributes, %s)"
        params = [json.dumps({**values, **dict.fromkeys(cleared)})]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET attributes = {expr} WHERE id IN ({placeholders})",
            params + ids,
        )


@transaction.atomic
def leads_bulk_update(
    *,
    workspace: Workspace,
    actor: User | None,
    leads: QuerySet[Lead],
    status: str | None = None,
    owner: User | None = UNSET,
    add_tags: Iterable[Tag | str] = (),
    remove_tags: Iterable[Tag | str] = (),
    attributes: dict | None = None,
    delete: bool = False,
    channel: str = Channel.BULK,
) -> BulkResult:
    """PRODUCT L5 on a selection or on every matching lead, set-based in one transaction."""
    ids = list(
        leads.filter(workspace=workspace, deleted_at__isnull=True)
        .order_by()
        .values_list("pk", flat=True)
    )
    result = BulkResult(updated=len(ids))
    if not ids:
        return result
    changes: dict[str, Any] = {}
    now = timezone.now()
    if delete:
        for chunk in id_chunks(ids):
            Lead.objects.filter(pk__in=chunk).update(
                deleted_at=now, version=F("version") + 1, updated_at=now
            )
        _bulk_audit(workspace, actor, ids, {"deleted": True})
        return result
    if owner is not UNSET:
        _owner_check(workspace, owner)
        changes["owner"] = owner.email if owner else None
    if attributes:
        values = attributes_clean(workspace=workspace, values=attributes, partial=True)
        cleared = [key for key, value in attributes.items() if value in (None, "")]
        changes["attributes"] = {**values, **dict.fromkeys(cleared)}
    add = tags_for_names(workspace=workspace, names=add_tags) if add_tags else []
    remove = _tags_existing(workspace=workspace, names=remove_tags) if remove_tags else []
    if add:
        changes["add_tags"] = [t.name for t in add]
    if remove:
        changes["remove_tags"] = [t.name for t in remove]
    if status == LeadStatus.UNSUBSCRIBED:
        status_ids: list[int] = []
    elif status:
        if status not in LeadStatus.values:
            raise ValidationError(f"Unknown status {status!r}.")
        changes["status"] = status
        # Leaving Unsubscribed needs new consent, lead by lead: those without it are skipped.
        blocked = set(
            Lead.objects.filter(pk__in=ids)
            .filter(status=LeadStatus.UNSUBSCRIBED)
            .exclude(consent_status=ConsentStatus.OPTED_IN)
            .values_list("pk", flat=True)
        )
        result.skip("unsubscribed without new consent", len(blocked))
        status_ids = [pk for pk in ids if pk not in blocked]
    else:
        status_ids = []
    status_set = set(status_ids)  # once: a set per id made large bulks quadratic
    moved: list[int] = []
    through = Lead.tags.through
    for chunk in id_chunks(ids):
        rows = Lead.objects.filter(pk__in=chunk)
        if status_ids and status:
            moving = [pk for pk in chunk if pk in status_set]
            moving_rows = Lead.objects.filter(pk__in=moving).exclude(status=status)
            moving_ids = list(moving_rows.values_list("pk", flat=True))
            if moving_ids:
                moved.extend(moving_ids)
                activities_insert_select(
                    moving_ids,
                    type=ActivityType.STATUS_CHANGED,
                    at=now,
                    actor=actor,
                    source=channel,
                    subject=f"Status set to {LeadStatus(status).label}",
                    data_sql=status_change_data_sql(status),
                )
                Lead.objects.filter(pk__in=moving_ids).update(status=status, last_activity_at=now)
        if owner is not UNSET:
            rows.update(owner=owner)
        if attributes:
            _attributes_merge(chunk, values, cleared)
        if add:
            through.objects.bulk_create(
                [through(lead_id=pk, tag_id=tag.pk) for pk in chunk for tag in add],
                ignore_conflicts=True,
            )
        if remove:
            through.objects.filter(lead_id__in=chunk, tag__in=remove).delete()
        rows.update(version=F("version") + 1, updated_at=now)
    if moved and scoring.rules_score_type(workspace, ActivityType.STATUS_CHANGED):
        scoring.leads_rescore(workspace=workspace, lead_ids=moved)
    if status == LeadStatus.UNSUBSCRIBED:
        leads_unsubscribe(
            workspace=workspace, actor=actor, leads=Lead.objects.filter(pk__in=ids), channel=channel
        )
        changes["status"] = LeadStatus.UNSUBSCRIBED
    _bulk_audit(workspace, actor, ids, changes, result.skipped)
    return result


def _bulk_audit(workspace, actor, ids: list[int], changes: dict, skipped: dict | None = None):
    audit_record(
        actor=actor,
        workspace=workspace,
        action="lead.bulk_update",
        object_repr=f"{len(ids)} leads",
        changes={
            **changes,
            "count": len(ids),
            "skipped": skipped or {},
            "lead_ids": ids[:1000],  # enough to answer "was this lead in it?" for most bulks
        },
    )


def leads_reassign(*, workspace: Workspace, from_user: User, to_user: User) -> int:
    """Every lead of `from_user` in the workspace passes to `to_user` (member removal, W4)."""
    now = timezone.now()
    count = (
        leads_for(workspace, include_deleted=True)
        .filter(owner=from_user)
        .update(owner=to_user, version=F("version") + 1, updated_at=now)
    )
    if count:
        audit_record(
            actor=None,
            workspace=workspace,
            action="lead.reassign",
            object_repr=f"{count} leads",
            changes={"owner": [from_user.email, to_user.email], "count": count},
        )
    return count
