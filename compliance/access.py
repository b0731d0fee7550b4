"""GDPR access (PRODUCT C5): everything held on a lead, as one JSON document.

Sections: the lead's fields, its custom fields, tags, activities, consent events, segment
memberships, import provenance (the imports that created or updated it, what they changed,
the error-report rows naming it), the audit entries about it and whether its address is on
the suppression list. Higher apps add their own sections (pipeline: sequence enrolments and
the emails sent) by registering a function in ACCESS_SECTIONS from AppConfig.ready().

The document is streamed: activities and audit entries are read in chunks, so a lead with a
long history costs memory for one chunk, not for the whole file.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from contacts.models import (
    Activity,
    ConsentEvent,
    CustomField,
    ImportIssue,
    ImportJob,
    ImportSnapshot,
    Lead,
    SuppressedEmail,
)
from contacts.queries import suppression_hash
from leadcrm.models import AuditLog, User
from segments.models import SegmentMembership

FORMAT_VERSION = 1

# handler(lead) -> (section name, JSON-able value); registered by higher apps.
ACCESS_SECTIONS: list[Callable[[Lead], tuple[str, Any]]] = []

# The lead's own columns that are bookkeeping, not data about the person.
_SKIPPED_FIELDS = {"workspace", "search_text", "attributes", "tags"}


def person(user: User | None) -> dict | None:
    """A member as the export names them (the actor of a change)."""
    if user is None:
        return None
    return {"name": user.display_name, "email": user.email}


def _lead_fields(lead: Lead) -> dict:
    values: dict[str, Any] = {"id": lead.pk}
    for field in Lead._meta.concrete_fields:
        if field.name in _SKIPPED_FIELDS or field.primary_key:
            continue
        if field.name == "owner":
            values["owner"] = person(lead.owner)
        elif field.name == "company":
            values["company"] = (
                {"name": lead.company.name, "domain": lead.company.domain} if lead.company else None
            )
        else:
            values[field.name] = getattr(lead, field.attname)
    return values


def _custom_fields(lead: Lead) -> list[dict]:
    """Every value in the lead's attributes, labelled by its field where the field exists."""
    fields = {f.key: f for f in CustomField.objects.filter(workspace_id=lead.workspace_id)}
    out = []
    for key, value in sorted((lead.attributes or {}).items()):
        field = fields.get(key)
        out.append(
            {
                "key": key,
                "label": field.label if field else key,
                "type": field.type if field else "",
                "value": value,
            }
        )
    return out


def _activity(activity: Activity) -> dict:
    return {
        "id": activity.pk,
        "type": activity.type,
        "type_label": activity.get_type_display(),
        "occurred_at": activity.occurred_at,
        "source": activity.source,
        "actor": person(activity.actor),
        "subject": activity.subject,
        "body": activity.body,
        "url": activity.url,
        "data": activity.data,
        "recorded_at": activity.created_at,
    }


def _consent_event(event: ConsentEvent) -> dict:
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at,
        "actor": person(event.actor),
        "channel": event.channel,
        "status_before": event.status_before,
        "status": event.status,
        "type": event.type,
        "source": event.source,
        "proof": event.proof,
        "gdpr_basis": event.gdpr_basis,
        "country": event.country,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
    }


def _memberships(lead: Lead) -> list[dict]:
    memberships = SegmentMembership.objects.filter(lead=lead).select_related("segment", "added_by")
    return [
        {
            "segment": m.segment.name,
            "segment_id": m.segment_id,
            "added_at": m.added_at,
            "added_by": person(m.added_by),
        }
        for m in memberships.order_by("added_at", "id")
    ]


def _provenance(lead: Lead) -> dict:
    """Which imports created or updated the lead (from its Imported activities), what each
    changed (undo snapshots) and the error-report rows that name it or one of its addresses."""
    rows_by_job: dict[int, list[int]] = {}
    imported = Activity.objects.filter(lead=lead, type="imported").values_list("data", flat=True)
    for data in imported:
        if isinstance(data, dict) and data.get("import"):
            rows_by_job.setdefault(int(data["import"]), []).append(data.get("row"))
    snapshots = list(
        ImportSnapshot.objects.filter(lead=lead).values_list("job_id", "before", "version_after")
    )
    hashes = [suppression_hash(address) for address in [lead.email, *lead.secondary_emails]]
    issues = list(
        ImportIssue.objects.filter(job__workspace_id=lead.workspace_id)
        .filter(Q(lead=lead) | Q(email_hash__in=hashes))
        .order_by("job_id", "dry_run", "row_number")
        .values("job_id", "dry_run", "row_number", "kind", "reason", "values")
    )
    job_ids = set(rows_by_job) | {job_id for job_id, _, _ in snapshots}
    job_ids |= {issue["job_id"] for issue in issues}
    jobs = ImportJob.objects.filter(pk__in=job_ids, workspace_id=lead.workspace_id)
    out = []
    for job in jobs.select_related("created_by").order_by("created_at", "id"):
        out.append(
            {
                "import_id": job.pk,
                "file_name": job.file_name,
                "started_at": job.started_at or job.created_at,
                "by": person(job.created_by),
                "mode": job.mode,
                "rows": sorted(r for r in rows_by_job.get(job.pk, []) if r is not None),
                "changed": [
                    {"before": before, "version_after": version}
                    for job_id, before, version in snapshots
                    if job_id == job.pk
                ],
                "error_report_rows": [
                    {k: v for k, v in issue.items() if k != "job_id"}
                    for issue in issues
                    if issue["job_id"] == job.pk
                ],
            }
        )
    return {"imports": out}


def _audit_entry(entry: AuditLog) -> dict:
    return {
        "id": entry.pk,
        "at": entry.created_at,
        "actor": entry.actor_label or None,
        "action": entry.action,
        "object": entry.object_repr,
        "changes": entry.changes,
    }


def _suppression(lead: Lead) -> list[dict]:
    addresses = [lead.email, *(lead.secondary_emails or [])]
    hashes = {suppression_hash(address): address for address in addresses}
    entries = SuppressedEmail.objects.filter(
        workspace_id=lead.workspace_id, email_hash__in=list(hashes)
    )
    return [
        {"email": hashes[e.email_hash], "reason": e.reason, "since": e.created_at}
        for e in entries.order_by("created_at")
    ]


def _dump(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


def _array(items: Iterator[dict]) -> Iterator[str]:
    yield "["
    first = True
    for item in items:
        yield ("\n" if first else ",\n") + _dump(item)
        first = False
    yield "\n]" if not first else "]"


def lead_access_document(lead: Lead, *, exported_by: User | None = None) -> Iterator[str]:
    """The JSON document, in pieces; joined, it parses as one object."""
    sections: list[tuple[str, Any]] = [
        ("format", "LeadCRM GDPR access export"),
        ("format_version", FORMAT_VERSION),
        ("exported_at", timezone.now()),
        ("exported_by", person(exported_by)),
        ("lead", _lead_fields(lead)),
        ("custom_fields", _custom_fields(lead)),
        ("tags", sorted(lead.tags.values_list("name", flat=True))),
        ("consent_events", None),
        ("activities", None),
        ("segment_memberships", _memberships(lead)),
        ("import_provenance", _provenance(lead)),
        ("suppression", _suppression(lead)),
    ]
    for section in ACCESS_SECTIONS:
        sections.append(section(lead))
    sections.append(("audit_entries", None))
    streamed = {
        "consent_events": lambda: (
            _consent_event(e)
            for e in lead.consent_events.select_related("actor")
            .order_by("occurred_at", "id")
            .iterator(chunk_size=1000)
        ),
        "activities": lambda: (
            _activity(a)
            for a in Activity.objects.filter(workspace_id=lead.workspace_id, lead=lead)
            .select_related("actor")
            .order_by("occurred_at", "id")
            .iterator(chunk_size=1000)
        ),
        "audit_entries": lambda: (
            _audit_entry(entry)
            for entry in AuditLog.objects.filter(
                workspace_id=lead.workspace_id,
                object_type=Lead._meta.label_lower,
                object_id=str(lead.pk),
            )
            .order_by("created_at", "id")
            .iterator(chunk_size=1000)
        ),
    }
    yield "{"
    for index, (name, value) in enumerate(sections):
        yield ("\n" if index == 0 else ",\n") + json.dumps(name) + ": "
        if name in streamed:
            yield from _array(streamed[name]())
        else:
            yield _dump(value)
    yield "\n}\n"


def lead_access_data(lead: Lead) -> dict:
    """The document as a dict (tests, the shell)."""
    return json.loads("".join(lead_access_document(lead)))
