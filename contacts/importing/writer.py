"""A batch of clean rows → created, updated, unchanged or skipped leads (PRODUCT I4–I6).

`batch_plan` only reads: it matches the rows against the workspace (email, case-insensitive,
secondary emails too), the suppression list and the trash, and decides each row. The dry run
stops there. `batch_apply` writes a plan set-based, in the caller's transaction: leads (COPY
on PostgreSQL), their consent events and *Imported* activities, tags, companies, snapshots for
undo, the unsubscribes the file asks for, scores and one audit entry. The rules are
contacts.services' own: suppressed and unsubscribed people never come back, an opt-out is
never overwritten, leaving Unsubscribed needs new consent (so an import never does it).
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone

from contacts import scoring
from contacts.activities import (
    ACTIVITY_COLUMNS,
    activities_insert_select,
    db_datetime,
    id_chunks,
    status_change_data_sql,
)
from contacts.bulk import rows_insert
from contacts.consent import CONSENT_FIELDS, leads_unsubscribe
from contacts.importing.rows import CleanRow
from contacts.importing.targets import CUSTOM_PREFIX
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    Company,
    ConsentEvent,
    ConsentStatus,
    ConsentType,
    EmailStatus,
    ImportBatch,
    ImportIssue,
    ImportJob,
    ImportMode,
    ImportSnapshot,
    Lead,
    LeadStatus,
)
from contacts.normalize import email_domain, search_text_for
from contacts.quality import leads_requality
from contacts.queries import suppressed_emails, suppression_hash
from contacts.services import LEAD_FIELDS, tags_for_names
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace

CREATE, UPDATE, UNCHANGED, SKIP = "create", "update", "unchanged", "skip"

# Skip reasons, as the preview and the error report name them.
DUPLICATE = "Duplicate in the file"
SUPPRESSED = "Suppressed"
UNSUBSCRIBED = "Unsubscribed"
EXISTS = "Already exists"
NOT_FOUND = "No lead with this email"
IN_TRASH = "In the trash"
SAME_LEAD = "Same lead as an earlier row"
AMBIGUOUS = "Matches several leads"

# What an update may change and what the snapshot restores: the services' plain fields, the
# foreign keys by id, and the custom fields.
UPDATABLE = (
    *(name for name in LEAD_FIELDS if name not in ("email", "company", "owner")),
    "company_id",
    "owner_id",
    "attributes",
)
# What planning an update reads whatever the file maps: matching, protection, names.
_ALWAYS_READ = (
    "id",
    "email",
    "version",
    "search_text",
    "first_name",
    "last_name",
    "status",
    "email_status",
    "do_not_contact",
    "company_id",
    "owner_id",
    "secondary_emails",
    *CONSENT_FIELDS,
    "company__name",
)


def match_columns(mapping: list[str]) -> tuple[str, ...]:
    """The columns an import with this mapping reads of the leads it matches: the ones it may
    change and the ones every plan needs (fewer columns, less to read for every match)."""
    columns = list(_ALWAYS_READ)
    for key in mapping:
        if key in UPDATABLE:
            columns.append(key)
        elif key.startswith(CUSTOM_PREFIX):
            columns.append("attributes")
    return tuple(dict.fromkeys(columns))


@dataclass
class ImportContext:
    """What every batch of one run shares; the seen-maps carry in-file deduplication."""

    workspace: Workspace
    actor: User | None
    job: ImportJob
    mode: str
    fill_blanks: bool
    defaults: dict[str, Any]  # cleaned: status, source, owner_id, tags, consent_*, gdpr_basis
    label: str  # "Import of leads.csv", the source of consent events and activities
    match_columns: tuple[str, ...]  # what the plan reads of matched leads (match_columns())
    seen_emails: dict[int, int] = field(default_factory=dict)  # hash(email) → row number
    seen_leads: dict[int, int] = field(default_factory=dict)  # lead id → row number
    imported_effect: tuple[int, bool] = (0, False)
    # Keys the current batch added to the seen-maps, so a batch that is rolled back and
    # planned again does not find its own rows there.
    _journal: list[tuple[dict, int]] = field(default_factory=list)

    _secondary: dict[int, list[int]] | None = None

    def secondary_index(self) -> dict[int, list[int]]:
        """hash(secondary email) → live lead ids, read once per run.

        Few leads have secondary emails, so one pass over those is far cheaper than asking
        the database about every batch (a GIN index cannot serve "any of these 2,000"). Leads
        this run creates are covered by the seen-maps, which hold their secondary emails.
        """
        if self._secondary is None:
            self._secondary = defaultdict(list)
            leads = (
                Lead.objects.filter(workspace=self.workspace, deleted_at__isnull=True)
                .exclude(secondary_emails=[])
                .values_list("pk", "secondary_emails")
            )
            for pk, emails in leads.iterator(chunk_size=5000):
                for email in emails or []:
                    self._secondary[_key(str(email).lower())].append(pk)
        return self._secondary

    _trash: set[str] | None = None

    def trashed(self) -> set[str]:
        """The (lower-cased) emails of the workspace's trash, read once per run: the trash
        holds 30 days of deletions, far fewer than a file's rows."""
        if self._trash is None:
            trash = Lead.objects.filter(workspace=self.workspace, deleted_at__isnull=False)
            emails = trash.values_list("email", flat=True).iterator(chunk_size=5000)
            self._trash = {email.lower() for email in emails}
        return self._trash

    def mark(self) -> None:
        """A batch starts: what earlier batches added stays."""
        self._journal.clear()

    def rollback(self) -> None:
        """The batch's transaction rolled back: forget what its plan added."""
        for seen, key in self._journal:
            seen.pop(key, None)
        self._journal.clear()

    def see(self, seen: dict[int, int], key: int, row_number: int) -> None:
        if key not in seen:
            seen[key] = row_number
            self._journal.append((seen, key))


@dataclass
class Decision:
    row: CleanRow
    action: str
    reason: str = ""
    detail: str = ""
    lead_id: int | None = None
    current: dict[str, Any] | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    new_tags: list[str] = field(default_factory=list)
    consent_change: bool = False


@dataclass
class BatchOutcome:
    created_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def _blank(value: Any) -> bool:
    return value in (None, "", [], {}, False) or value == ConsentStatus.UNKNOWN


def _key(email: str) -> int:
    return hash(email)


# Plan ---------------------------------------------------------------------------------------


def batch_plan(ctx: ImportContext, rows: list[CleanRow]) -> list[Decision]:
    """Decide every row of the batch; reads only, and records the rows in the seen-maps."""
    decisions: list[Decision] = []
    pending: list[Decision] = []
    for row in rows:
        first = ctx.seen_emails.get(_key(row.email))
        if first is not None:
            decisions.append(Decision(row, SKIP, DUPLICATE, f"same email as row {first}"))
            continue
        for email in (row.email, *row.secondary_emails):
            ctx.see(ctx.seen_emails, _key(email), row.row_number)
        decision = Decision(row, CREATE)
        decisions.append(decision)
        pending.append(decision)
    if not pending:
        return decisions
    emails = [d.row.email for d in pending]
    suppressed = suppressed_emails(workspace=ctx.workspace, emails=emails)
    by_email = _leads_by_email(ctx, [e for e in emails if e not in suppressed])
    matched_ids = {lead["id"] for leads in by_email.values() for lead in leads}
    wants_tags = ctx.defaults.get("tags") or any(d.row.tags for d in pending)
    updating = ctx.mode != ImportMode.CREATE
    tags_by_lead = _tag_names(matched_ids) if updating and wants_tags else {}
    unmatched = [e for e in emails if e not in suppressed and e not in by_email]
    # In every mode: "update only" names the trash too, since restoring is what the user wants.
    in_trash = ctx.trashed() if unmatched else set()
    for decision in pending:
        email = decision.row.email
        if email in suppressed:
            decision.action, decision.reason = SKIP, SUPPRESSED
            decision.detail = "on the suppression list; never imported again"
            continue
        leads = by_email.get(email, [])
        if not leads:
            if email in in_trash:
                decision.action, decision.reason = SKIP, IN_TRASH
                decision.detail = "restore the lead from the trash instead"
            elif ctx.mode == ImportMode.UPDATE:
                decision.action, decision.reason = SKIP, NOT_FOUND
            continue
        primary = [lead for lead in leads if lead["email"].lower() == email]
        if not primary and len(leads) > 1:
            decision.action, decision.reason = SKIP, AMBIGUOUS
            decision.detail = "the email is a secondary email of several leads"
            continue
        lead = (primary or leads)[0]
        decision.lead_id, decision.current = lead["id"], lead
        earlier = ctx.seen_leads.get(lead["id"])
        if earlier is not None:
            decision.action, decision.reason = SKIP, SAME_LEAD
            decision.detail = f"row {earlier} already matched this lead"
            continue
        ctx.see(ctx.seen_leads, lead["id"], decision.row.row_number)
        if ctx.mode == ImportMode.CREATE:
            decision.action, decision.reason = SKIP, EXISTS
            continue
        if _is_unsubscribed(lead):
            decision.action, decision.reason = SKIP, UNSUBSCRIBED
            decision.detail = "an unsubscribed lead is never changed by an import"
            continue
        _plan_update(ctx, decision, tags_by_lead.get(lead["id"], set()))
    return decisions


def _is_unsubscribed(lead: dict) -> bool:
    return (
        lead["status"] == LeadStatus.UNSUBSCRIBED
        or lead["email_status"] == EmailStatus.UNSUBSCRIBED
        or lead["consent_status"] == ConsentStatus.OPTED_OUT
    )


def _plan_update(ctx: ImportContext, decision: Decision, current_tags: set[str]) -> None:
    row, current = decision.row, decision.current
    changes: dict[str, Any] = {}

    def propose(name: str, new: Any) -> None:
        old = current[name]
        if new == old or (ctx.fill_blanks and not _blank(old)):
            return
        changes[name] = new

    for name, value in row.fields.items():
        if name == "do_not_contact" and not value:
            continue  # an import may set Do Not Contact, never lift it
        if value in (LeadStatus.UNSUBSCRIBED, EmailStatus.UNSUBSCRIBED):
            continue  # unsubscribing goes through leads_unsubscribe, after the update
        if name == "email_status" and current["email_status"] == EmailStatus.BOUNCED:
            continue  # a hard bounce is a fact about the address, not something a file undoes
        propose(name, value)
    if row.company and row.company.casefold() != (current["company__name"] or "").casefold():
        changes_company = _CompanyRef(row.company)
        if not (ctx.fill_blanks and current["company_id"]):
            changes["company_id"] = changes_company
    if row.owner_given:
        propose("owner_id", row.owner_id)
    if row.secondary_emails:
        old = list(current["secondary_emails"] or [])
        added = [e for e in row.secondary_emails if e not in old and e != current["email"]]
        if added:
            changes["secondary_emails"] = old + added
    if row.attributes:
        merged = dict(current["attributes"] or {})
        for key, value in row.attributes.items():
            if merged.get(key) == value or (ctx.fill_blanks and not _blank(merged.get(key))):
                continue
            merged[key] = value
        if merged != (current["attributes"] or {}):
            changes["attributes"] = merged
    status = row.consent.get("consent_status")
    if (
        status
        and status not in (ConsentStatus.OPTED_OUT, ConsentStatus.UNKNOWN)  # Unknown is blank
        and status != current["consent_status"]
        and not (ctx.fill_blanks and not _blank(current["consent_status"]))
    ):
        decision.consent_change = True
    wanted = [*row.tags, *ctx.defaults.get("tags", [])]
    decision.new_tags = _unique([t for t in wanted if t.casefold() not in current_tags])
    decision.changes = changes
    if changes or decision.new_tags or decision.consent_change or row.unsubscribes:
        decision.action = UPDATE
    else:
        decision.action = UNCHANGED


@dataclass(frozen=True)
class _CompanyRef:
    """A company named by the file, resolved to an id (created if new) when the batch writes."""

    name: str


def _unique(names: list[str]) -> list[str]:
    seen, result = set(), []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            result.append(name)
    return result


def _leads_by_email(ctx: ImportContext, emails: list[str]) -> dict[str, list[dict]]:
    """Live leads whose email or a secondary email is one of `emails` (lower-cased)."""
    found: dict[str, list[dict]] = defaultdict(list)
    if not emails:
        return found
    live = Lead.objects.filter(workspace=ctx.workspace, deleted_at__isnull=True)
    for chunk in _chunks(emails):
        rows = live.annotate(email_ci=Lower("email")).filter(email_ci__anyof=chunk)
        for lead in rows.values(*ctx.match_columns):
            found[lead["email"].lower()].append(lead)
    secondary = ctx.secondary_index()
    candidates = {pk for e in emails for pk in secondary.get(_key(e), ())}
    if candidates:
        wanted = set(emails)
        for lead in live.filter(pk__anyof=candidates).values(*ctx.match_columns):
            for email in lead["secondary_emails"] or []:
                if email in wanted and all(x["id"] != lead["id"] for x in found[email]):
                    found[email].append(lead)
    return found


def _tag_names(lead_ids: set[int]) -> dict[int, set[str]]:
    result: dict[int, set[str]] = defaultdict(set)
    through = Lead.tags.through
    for chunk in id_chunks(sorted(lead_ids)):
        for lead_id, name in through.objects.filter(lead_id__anyof=chunk).values_list(
            "lead_id", "tag__name"
        ):
            result[lead_id].add(name.casefold())
    return result


def _chunks(items: list, size: int = 5000):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# Apply --------------------------------------------------------------------------------------


def batch_apply(ctx: ImportContext, decisions: list[Decision], *, number: int) -> BatchOutcome:
    """Write the batch's decisions; the caller holds the transaction (atomic per batch)."""
    now = timezone.now()
    outcome = BatchOutcome()
    creates = [d for d in decisions if d.action == CREATE]
    updates = [d for d in decisions if d.action == UPDATE]
    outcome.unchanged = sum(1 for d in decisions if d.action == UNCHANGED)
    for d in decisions:
        if d.action == SKIP:
            outcome.skipped[d.reason] = outcome.skipped.get(d.reason, 0) + 1
    companies = _companies_resolve(ctx.workspace, [d.row.company for d in creates + updates])
    tag_names = [*ctx.defaults.get("tags", [])]
    for d in creates:
        tag_names.extend(d.row.tags)
    for d in updates:
        tag_names.extend(d.new_tags)
    tags = _tags_resolve(ctx.workspace, tag_names)
    if creates:
        outcome.created_ids = _create(ctx, creates, companies, tags, now)
    if updates:
        outcome.updated_ids = _update(ctx, updates, companies, tags, now)
    unsubscribing = [d.lead_id for d in creates + updates if d.row.unsubscribes]
    if unsubscribing:
        leads_unsubscribe(
            workspace=ctx.workspace,
            actor=ctx.actor,
            leads=Lead.objects.filter(pk__in=unsubscribing),
            channel=Channel.IMPORT,
            source=ctx.label,
        )
    if updates:
        _snapshots_write(ctx, updates)
    skips = [d for d in decisions if d.action == SKIP]
    ImportIssue.objects.bulk_create(issues_for(ctx, skips, dry_run=False), batch_size=2000)
    ImportBatch.objects.create(
        job=ctx.job,
        number=number,
        first_row=decisions[0].row.row_number if decisions else 0,
        last_row=decisions[-1].row.row_number if decisions else 0,
        created_ids=outcome.created_ids,
        committed_at=timezone.now(),
    )
    touched = outcome.created_ids + outcome.updated_ids
    if touched:
        leads_requality(workspace=ctx.workspace, lead_ids=touched)
        audit_record(
            actor=ctx.actor,
            workspace=ctx.workspace,
            action="lead.import",
            obj=ctx.job,
            object_repr=f"{ctx.label}, batch {number + 1}",
            changes={
                "job": ctx.job.pk,
                "created": len(outcome.created_ids),
                "updated": len(outcome.updated_ids),
                "lead_ids": touched,
            },
        )
    return outcome


def _companies_resolve(workspace: Workspace, names: list[str]) -> dict[str, int]:
    """casefolded name → company id, creating the companies that are new."""
    wanted = {n.casefold(): n for n in names if n}
    if not wanted:
        return {}
    existing = dict(
        Company.objects.filter(workspace=workspace)
        .annotate(name_ci=Lower("name"))
        .filter(name_ci__anyof=[n.lower() for n in wanted.values()])
        .values_list("name_ci", "id")
    )
    result = {k: existing[n.lower()] for k, n in wanted.items() if n.lower() in existing}
    missing = [name for key, name in wanted.items() if key not in result]
    if missing:
        Company.objects.bulk_create(
            [Company(workspace=workspace, name=name) for name in missing], ignore_conflicts=True
        )
        created = dict(
            Company.objects.filter(workspace=workspace)
            .annotate(name_ci=Lower("name"))
            .filter(name_ci__anyof=[n.lower() for n in missing])
            .values_list("name_ci", "id")
        )
        for name in missing:
            company_id = created.get(name.lower())
            if company_id is None:
                # Lower() is ASCII-only on SQLite (and under PostgreSQL's C locale): "Ökotech"
                # is not found as "ökotech" there, so let the database lower-case the name too.
                company_id = (
                    Company.objects.filter(workspace=workspace)
                    .annotate(name_ci=Lower("name"))
                    .filter(name_ci=Lower(Value(name)))
                    .values_list("id", flat=True)
                    .first()
                )
            result[name.casefold()] = company_id
    return result


def _tags_resolve(workspace: Workspace, names: list[str]) -> dict[str, int]:
    """casefolded name → tag id, creating the tags that are new."""
    if not names:
        return {}
    return {t.name.casefold(): t.pk for t in tags_for_names(workspace=workspace, names=names)}


def _lead_defaults() -> dict[str, Any]:
    return {f.attname: f.get_default() for f in Lead._meta.concrete_fields}


def _create(ctx, creates: list[Decision], companies, tags, now: datetime) -> list[int]:
    defaults = ctx.defaults
    points, resets = ctx.imported_effect
    score_points = 0 if resets else points
    score = scoring.score_clamp(score_points)
    base = _lead_defaults()
    base.update(
        workspace_id=ctx.workspace.pk,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        consent_captured_at=now,
        score_points=score_points,
        score=score,
        tier=scoring.tier_for(score),
        status=defaults.get("status") or LeadStatus.NEW,
        source=defaults.get("source", ""),
        owner_id=defaults.get("owner_id"),
    )
    names = list(base)
    at = {name: i for i, name in enumerate(names)}
    base_row = [base[name] for name in names]
    status_at, email_status_at, domain_at = at["status"], at["email_status"], at["domain"]
    first_at, last_at = at["first_name"], at["last_name"]
    consent_at = [at[f] for f in _NEW_CONSENT]
    leads, events, tag_rows = [], [], []
    default_tags = defaults.get("tags", [])
    for d in creates:
        row = d.row
        values = base_row.copy()
        for name, value in row.fields.items():
            values[at[name]] = value
        values[at["email"]] = row.email
        values[at["secondary_emails"]] = [e for e in row.secondary_emails if e != row.email]
        if values[status_at] == LeadStatus.UNSUBSCRIBED:  # unsubscribed below, with its event
            values[status_at] = LeadStatus.NEW
        if values[email_status_at] == EmailStatus.UNSUBSCRIBED:
            values[email_status_at] = EmailStatus.ACTIVE
        if row.owner_given:
            values[at["owner_id"]] = row.owner_id
        if row.company:
            values[at["company_id"]] = companies[row.company.casefold()]
        if not values[domain_at]:
            values[domain_at] = email_domain(row.email)
        values[at["attributes"]] = row.attributes
        values[at["search_text"]] = search_text_for(
            first_name=values[first_at],
            last_name=values[last_at],
            email=row.email,
            company_name=row.company,
        )
        consent = _consent_for_new(ctx, row)
        for i, value in zip(consent_at, consent, strict=True):
            values[i] = value
        leads.append(values)
        events.append(consent)
        tag_rows.append(_unique([*row.tags, *default_tags]) if default_tags else row.tags)
    ids = _leads_insert(names, leads)
    for lead_id, d in zip(ids, creates, strict=True):
        d.lead_id = lead_id
    ws, actor_id = ctx.workspace.pk, (ctx.actor.pk if ctx.actor else None)
    unknown, channel = ConsentStatus.UNKNOWN, Channel.IMPORT
    rows_insert(
        ConsentEvent,
        _EVENT_COLUMNS,
        [
            [ws, lead_id, now, actor_id, channel, unknown, *event, "", None, ""]
            for lead_id, event in zip(ids, events, strict=True)
        ],
    )
    _activities_insert(ctx, ids, creates, now, "Imported")
    rows_insert(
        Lead.tags.through,
        ["lead_id", "tag_id"],
        [
            [lead_id, tags[name.casefold()]]
            for lead_id, names_ in zip(ids, tag_rows, strict=True)
            for name in names_
        ],
    )
    return ids


# A new lead's consent fields, in the order _consent_for_new returns them.
_NEW_CONSENT = ("consent_status", "consent_type", "consent_source", "consent_proof", "gdpr_basis")
_EVENT_COLUMNS = [
    "workspace_id",
    "lead_id",
    "occurred_at",
    "actor_id",
    "channel",
    "status_before",
    "status",
    "type",
    "source",
    "proof",
    "gdpr_basis",
    "country",
    "ip_address",
    "user_agent",
]


def _consent_for_new(ctx: ImportContext, row: CleanRow) -> tuple[str, str, str, str, str]:
    """A new lead's consent (status, type, source, proof, GDPR basis): the row's, else the
    import's defaults (I3); opting out follows as its own event."""
    consent, defaults = row.consent, ctx.defaults
    status = consent.get("consent_status") or defaults.get("consent_status")
    if not status or status == ConsentStatus.OPTED_OUT:
        status = ConsentStatus.UNKNOWN
    source = consent.get("consent_source") or defaults.get("consent_source") or ctx.label
    return (
        status,
        consent.get("consent_type") or defaults.get("consent_type") or ConsentType.IMPORTED,
        source[:200],
        consent.get("consent_proof", ""),
        consent.get("gdpr_basis") or defaults.get("gdpr_basis", ""),
    )


def _activities_insert(ctx, ids: list[int], decisions: list[Decision], now, verb: str) -> None:
    ws, actor_id, job = ctx.workspace.pk, (ctx.actor.pk if ctx.actor else None), ctx.job.pk
    subject = f"{verb} from {ctx.job.file_name}"[:300]
    imported, channel = ActivityType.IMPORTED, Channel.IMPORT
    rows_insert(
        Activity,
        ACTIVITY_COLUMNS,
        [
            [ws, lead_id, imported, now, actor_id, channel, subject, "", ""]
            + [{"import": job, "row": d.row.row_number}, now]
            for lead_id, d in zip(ids, decisions, strict=True)
        ],
    )


def _update(ctx, updates: list[Decision], companies, tags, now: datetime) -> list[int]:
    """One UPDATE per distinct set of changed columns (executemany, pipelined on psycopg)."""
    groups: dict[tuple[str, ...], list[Decision]] = defaultdict(list)
    events, status_moves = [], defaultdict(list)
    company_names = dict(
        Company.objects.filter(
            pk__in={d.current["company_id"] for d in updates if d.current["company_id"]}
        ).values_list("pk", "name")
    )
    actor_id = ctx.actor.pk if ctx.actor else None
    for d in updates:
        changes = d.changes
        if isinstance(changes.get("company_id"), _CompanyRef):
            company_id = companies[changes["company_id"].name.casefold()]
            if company_id == d.current["company_id"]:
                del changes["company_id"]
            else:
                changes["company_id"] = company_id
        if d.consent_change:
            consent = _consent_for_new(ctx, d.row)
            changes.update(zip(_NEW_CONSENT, consent, strict=True), consent_captured_at=now)
            events.append((d, consent))
        if "status" in changes:
            status_moves[changes["status"]].append(d.lead_id)
        if {"first_name", "last_name", "company_id"} & set(changes):
            changes["search_text"] = _search_text(d, changes, company_names)
        columns = tuple(sorted(changes))
        groups[columns].append(d)
    for status, lead_ids in status_moves.items():
        # Before the UPDATE: the activity's "from" is read from the lead's current status.
        for chunk in id_chunks(lead_ids):
            activities_insert_select(
                chunk,
                type=ActivityType.STATUS_CHANGED,
                at=now,
                actor=ctx.actor,
                source=Channel.IMPORT,
                subject=f"Status set to {LeadStatus(status).label} by import",
                data_sql=status_change_data_sql(status),
            )
    _leads_update(groups, now)
    ws, channel = ctx.workspace.pk, Channel.IMPORT
    rows_insert(
        ConsentEvent,
        _EVENT_COLUMNS,
        [
            [ws, d.lead_id, now, actor_id, channel, d.current["consent_status"], *consent]
            + ["", None, ""]
            for d, consent in events
        ],
    )
    ids = [d.lead_id for d in updates]
    _activities_insert(ctx, ids, updates, now, "Updated")
    rows_insert(
        Lead.tags.through,
        ["lead_id", "tag_id"],
        [[d.lead_id, tags[name.casefold()]] for d in updates for name in d.new_tags],
        ignore_conflicts=True,
    )
    points, resets = ctx.imported_effect
    if points or resets:
        scoring.leads_rescore(workspace=ctx.workspace, lead_ids=ids)
    return ids


def _leads_update(groups: dict[tuple[str, ...], list[Decision]], now: datetime) -> None:
    """Write the changes, bumping version, updated_at and last_activity_at.

    PostgreSQL: the batch's rows go by COPY into a temporary table and one UPDATE … FROM
    writes them all (every changed column of the batch, a row's unchanged ones with their
    current value). Elsewhere: one executemany per set of changed columns.
    """
    table, qn = Lead._meta.db_table, connection.ops.quote_name
    if connection.vendor != "postgresql":
        at = db_datetime(now)
        with connection.cursor() as cursor:
            for columns, decisions in groups.items():
                assignments = "".join(f"{qn(c)} = %s, " for c in columns)
                cursor.executemany(
                    f"UPDATE {table} SET {assignments}version = version + 1, updated_at = %s, "
                    "last_activity_at = %s WHERE id = %s",
                    [
                        (*(_db_value(c, d.changes[c]) for c in columns), at, at, d.lead_id)
                        for d in decisions
                    ],
                )
        return
    columns = sorted({c for group in groups for c in group})
    fields = {f.attname: f for f in Lead._meta.concrete_fields}
    definitions = "".join(
        f", {qn(fields[c].column)} {fields[c].db_type(connection)}" for c in columns
    )
    rows = [
        [d.lead_id, *(_db_value(c, d.changes.get(c, d.current[c])) for c in columns)]
        for decisions in groups.values()
        for d in decisions
    ]
    names = "".join(f", {qn(fields[c].column)}" for c in columns)
    assignments = "".join(f"{qn(fields[c].column)} = u.{qn(fields[c].column)}, " for c in columns)
    with connection.wrap_database_errors, connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE import_update (id bigint{definitions}) ON COMMIT DROP")
        with cursor.copy(f"COPY import_update (id{names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"UPDATE {table} AS l SET {assignments}version = l.version + 1, updated_at = %s, "
            "last_activity_at = %s FROM import_update u WHERE l.id = u.id",
            [now, now],
        )
        cursor.execute("DROP TABLE import_update")


def _search_text(d: Decision, changes: dict, company_names: dict[int, str]) -> str:
    if "company_id" in changes:
        company = d.row.company
    else:
        company = company_names.get(d.current["company_id"], "")
    return search_text_for(
        first_name=changes.get("first_name", d.current["first_name"]),
        last_name=changes.get("last_name", d.current["last_name"]),
        email=d.current["email"],
        company_name=company,
    )


def _db_value(name: str, value: Any) -> Any:
    if name in ("attributes", "secondary_emails"):
        return json.dumps(value)
    if isinstance(value, datetime):
        return db_datetime(value)
    return value


def _snapshots_write(ctx: ImportContext, updates: list[Decision]) -> None:
    """What each updated lead held before, and its version after the whole batch (undo)."""
    ids = [d.lead_id for d in updates]
    versions = {}
    for chunk in id_chunks(ids):
        versions.update(Lead.objects.filter(pk__anyof=chunk).values_list("pk", "version"))
    snapshots = []
    for d in updates:
        before = {
            name: _json_value(d.current[name])
            for name in d.changes
            if name in d.current and name != "search_text"
        }
        if d.new_tags:
            before["tags_added"] = d.new_tags
        if d.row.unsubscribes:
            before["unsubscribed"] = True
        snapshots.append([ctx.job.pk, d.lead_id, before, versions[d.lead_id]])
    rows_insert(ImportSnapshot, ["job_id", "lead_id", "before", "version_after"], snapshots)


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def issues_for(ctx: ImportContext, decisions: list[Decision], *, dry_run: bool) -> list:
    """The error-report rows of skipped decisions."""
    return [
        ImportIssue(
            job=ctx.job,
            dry_run=dry_run,
            row_number=d.row.row_number,
            kind=ImportIssue.Kind.SKIPPED,
            reason=(f"{d.reason}: {d.detail}" if d.detail else d.reason)[:500],
            email=d.row.email,
            email_hash=suppression_hash(d.row.email) if d.row.email else "",
            lead_id=d.lead_id,
            values=d.row.values,
        )
        for d in decisions
    ]


# Bulk inserts -------------------------------------------------------------------------------


def lead_ids_reserve(size: int) -> list[int]:
    """`size` fresh lead ids from the table's sequence (PostgreSQL; safe beside concurrent
    inserts), so a COPY's rows and the rows that point at them can go in together."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Lead._meta.db_table, size],
        )
        return [row[0] for row in cursor.fetchall()]


def _leads_insert(names: list[str], rows: list[list]) -> list[int]:
    """Insert leads and return their ids in order (COPY with reserved ids on PostgreSQL)."""
    if connection.vendor == "postgresql":
        ids = lead_ids_reserve(len(rows))
        id_at = names.index("id")
        for lead_id, row in zip(ids, rows, strict=True):
            row[id_at] = lead_id
        rows_insert(Lead, names, rows)
        return ids
    leads = [Lead(**dict(zip(names, row, strict=True))) for row in rows]
    for lead in leads:
        lead.pk = lead.id = None
    created = Lead.objects.bulk_create(leads, batch_size=500)
    return [lead.pk for lead in created]
