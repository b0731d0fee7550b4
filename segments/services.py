"""Writes on segments. (Segment pages, rules and the query language: the segments issue.)"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from contacts.activities import id_chunks
from contacts.models import Lead
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState


@transaction.atomic
def segment_add_leads(
    *, workspace: Workspace, segment: Segment, leads: QuerySet[Lead], actor: User | None
) -> int:
    """Add leads to a static segment, set-based; leads already in it are left as they are."""
    if segment.workspace_id != workspace.pk:
        raise ValidationError("That segment belongs to another workspace.")
    if segment.kind != SegmentKind.STATIC:
        raise ValidationError("Leads can only be added to a static segment.")
    if segment.state == SegmentState.RETIRED:
        raise ValidationError("A retired segment is read-only.")
    ids = list(
        leads.filter(workspace=workspace, deleted_at__isnull=True)
        .order_by()
        .values_list("pk", flat=True)
    )
    before = SegmentMembership.objects.filter(segment=segment).count()
    for chunk in id_chunks(ids):
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, lead_id=pk, added_by=actor) for pk in chunk],
            ignore_conflicts=True,
        )
    added = SegmentMembership.objects.filter(segment=segment).count() - before
    audit_record(
        actor=actor,
        workspace=workspace,
        action="segment.add_leads",
        obj=segment,
        changes={"added": added, "lead_ids": ids[:1000]},
    )
    return added
