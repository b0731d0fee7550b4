"""Writes on segments (PRODUCT 4). Each service checks the segment's kind and state, works
set-based, runs in one transaction and writes its audit entry; views only check permissions.

Caches (the member count, "last used") are written without an audit entry: they record no
one's decision.
"""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from contacts.activities import id_chunks
from contacts.models import Lead
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
from segments.rules import referenced_segments, rules_clean, segment_count, segment_leads

NAME_MAX = Segment._meta.get_field("name").max_length
TOUCH_EVERY = timedelta(minutes=1)  # "last used" is written at most this often per segment

# Higher apps that refer to segments register a check here from AppConfig.ready() (segments
# must not import them): check(segment) -> descriptions of what uses it, e.g. 'saved view “X”'.
SegmentUsageCheck = Callable[[Segment], list[str]]
SEGMENT_USAGE_CHECKS: list[SegmentUsageCheck] = []


class SegmentInUse(ValidationError):
    """Deleting a segment that rules or saved views still refer to."""

    def __init__(self, segment: Segment, references: list[str]):
        self.references = references
        super().__init__(
            f"“{segment.name}” is still used by {', '.join(references)}. "
            "Remove it from there first."
        )


def _read_only_check(segment: Segment) -> None:
    if segment.state == SegmentState.RETIRED:
        raise ValidationError(
            f"“{segment.name}” is retired, so it is read-only. Make it Draft or Active first."
        )


def _members_change_check(workspace: Workspace, segment: Segment, doing: str) -> None:
    """Members change only in this workspace's static segments that are not retired."""
    if segment.workspace_id != workspace.pk:
        raise ValidationError("That segment belongs to another workspace.")
    if segment.kind != SegmentKind.STATIC:
        raise ValidationError(f"{doing} works on static segments only.")
    _read_only_check(segment)


def _name_clean(workspace: Workspace | int, name: str, *, exclude: Segment | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the segment a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"Keep the name to {NAME_MAX} characters."})
    same = Segment.objects.filter(workspace=workspace, name__iexact=name)
    if exclude is not None:
        same = same.exclude(pk=exclude.pk)
    # Rules and the query language name segments case-insensitively: names must not clash.
    if same.exists():
        raise ValidationError({"name": f"A segment named “{name}” already exists."})
    return name


def _name_free(workspace: Workspace | int, wanted: str) -> str:
    """`wanted`, or `wanted (2)`, `(3)`…: the first name no segment of the workspace has."""
    taken = {
        name.lower()
        for name in Segment.objects.filter(
            workspace=workspace, name__istartswith=wanted[: NAME_MAX - 6]
        ).values_list("name", flat=True)
    }
    candidate, number = wanted[:NAME_MAX], 1
    while candidate.lower() in taken:
        number += 1
        suffix = f" ({number})"
        candidate = wanted[: NAME_MAX - len(suffix)] + suffix
    return candidate


def _memberships_insert(segment: Segment, lead_ids: Iterable[int], actor: User | None) -> None:
    for chunk in id_chunks(list(lead_ids)):
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, lead_id=pk, added_by=actor) for pk in chunk],
            ignore_conflicts=True,
        )


def _count_forget(segment: Segment) -> None:
    """Members changed: the segments list recounts on its next view."""
    Segment.objects.filter(pk=segment.pk).update(counted_at=None)
    segment.counted_at = None


# Create, edit, state, delete -----------------------------------------------------------------


@transaction.atomic
def segment_create(
    *,
    workspace: Workspace,
    actor: User | None,
    name: str,
    kind: str,
    description: str = "",
    state: str = SegmentState.DRAFT,
) -> Segment:
    now = timezone.now()
    segment = Segment(
        workspace=workspace,
        name=_name_clean(workspace, name),
        description=description.strip(),
        kind=kind,
        state=state,
        created_by=actor,
        created_at=now,
        updated_at=now,
        # A new static segment is empty; a new dynamic one matches every lead: count it lazily.
        member_count=0 if kind == SegmentKind.STATIC else None,
        counted_at=now if kind == SegmentKind.STATIC else None,
    )
    segment.full_clean()
    segment.save()
    audit_record(
        actor=actor,
        workspace=workspace,
        action="segment.create",
        obj=segment,
        changes={"kind": segment.kind, "state": segment.state},
    )
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, actor: User | None, name: str, description: str) -> Segment:
    """Rename and describe a segment (not a retired one)."""
    _read_only_check(segment)
    changes = {}
    name = _name_clean(segment.workspace_id, name, exclude=segment)
    for field, new in (("name", name), ("description", description.strip())):
        old = getattr(segment, field)
        if old != new:
            changes[field] = [old, new]
            setattr(segment, field, new)
    if not changes:
        return segment
    segment.updated_at = timezone.now()
    segment.full_clean()
    segment.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=actor,
        workspace=segment.workspace,
        action="segment.update",
        obj=segment,
        changes=changes,
    )
    return segment


@transaction.atomic
def segment_state_set(*, segment: Segment, actor: User | None, state: str) -> Segment:
    """Draft, Active or Retired; a retired segment may only have its state changed (G3)."""
    if state not in SegmentState.values:
        raise ValidationError({"state": "Choose Draft, Active or Retired."})
    if state == segment.state:
        return segment
    old = segment.state
    segment.state = state
    segment.updated_at = timezone.now()
    segment.save(update_fields=["state", "updated_at"])
    audit_record(
        actor=actor,
        workspace=segment.workspace,
        action="segment.state",
        obj=segment,
        changes={"state": [old, state]},
    )
    return segment


def segment_references(segment: Segment) -> list[str]:
    """What refers to the segment, as words for a person: 'dynamic segment “Hot leads”', …"""
    dynamic = (
        Segment.objects.filter(workspace=segment.workspace_id, kind=SegmentKind.DYNAMIC)
        .exclude(pk=segment.pk)
        .only("pk", "name", "rules")
        .order_by("name", "pk")
    )
    found = [
        f"dynamic segment “{other.name}”"
        for other in dynamic.iterator(chunk_size=500)
        if segment.pk in referenced_segments(other.rules)
    ]
    for check in SEGMENT_USAGE_CHECKS:
        found.extend(check(segment))
    return found


@transaction.atomic
def segment_delete(*, segment: Segment, actor: User | None) -> None:
    """Delete a segment nothing refers to (else SegmentInUse names what does)."""
    references = segment_references(segment)
    if references:
        raise SegmentInUse(segment, references)
    audit_record(
        actor=actor,
        workspace=segment.workspace,
        action="segment.delete",
        obj=segment,
        changes={"kind": segment.kind, "state": segment.state},
    )
    segment.delete()  # memberships go with it, in one DELETE (no signals on them)


# Copies ---------------------------------------------------------------------------------------


@transaction.atomic
def segment_duplicate(*, segment: Segment, actor: User | None) -> Segment:
    """A Draft copy named “Copy of …”: the same rules, or the same members (set-based)."""
    copy = segment_create(
        workspace=segment.workspace,
        actor=actor,
        name=_name_free(segment.workspace_id, f"Copy of {segment.name}"),
        kind=segment.kind,
        description=segment.description,
    )
    if segment.kind == SegmentKind.DYNAMIC:
        copy.rules = segment.rules
        copy.member_count, copy.counted_at = segment.member_count, segment.counted_at
        copy.save(update_fields=["rules", "member_count", "counted_at"])
    else:
        member_ids = SegmentMembership.objects.filter(segment=segment).values_list(
            "lead_id", flat=True
        )
        _memberships_insert(copy, member_ids.order_by("lead_id"), actor)
        segment_count_refresh(segment=copy)
    audit_record(
        actor=actor,
        workspace=segment.workspace,
        action="segment.duplicate",
        obj=copy,
        changes={"from": segment.pk},
    )
    return copy


@transaction.atomic
def segment_freeze(*, segment: Segment, actor: User | None, now: datetime | None = None) -> Segment:
    """A static copy of a dynamic segment holding the leads that match it now (G5)."""
    if segment.kind != SegmentKind.DYNAMIC:
        raise ValidationError("Only a dynamic segment can be frozen.")
    now = now or timezone.now()
    name = f"{segment.name} (frozen {timezone.localdate(now).isoformat()})"
    frozen = segment_create(
        workspace=segment.workspace,
        actor=actor,
        name=_name_free(segment.workspace_id, name),
        kind=SegmentKind.STATIC,
        description=segment.description,
    )
    lead_ids = list(segment_leads(segment, now=now).order_by("pk").values_list("pk", flat=True))
    _memberships_insert(frozen, lead_ids, actor)
    frozen.member_count, frozen.counted_at = len(lead_ids), now
    frozen.save(update_fields=["member_count", "counted_at"])
    audit_record(
        actor=actor,
        workspace=segment.workspace,
        action="segment.freeze",
        obj=frozen,
        changes={"from": segment.pk, "leads": len(lead_ids)},
    )
    segment_touch(segment=segment, now=now)
    return frozen


# Members and rules ----------------------------------------------------------------------------


@transaction.atomic
def segment_add_leads(
    *, workspace: Workspace, segment: Segment, leads: QuerySet[Lead], actor: User | None
) -> int:
    """Add leads to a static segment, set-based; leads already in it are left as they are."""
    _members_change_check(workspace, segment, "Adding leads")
    ids = list(
        leads.filter(workspace=workspace, deleted_at__isnull=True)
        .order_by()
        .values_list("pk", flat=True)
    )
    before = SegmentMembership.objects.filter(segment=segment).count()
    _memberships_insert(segment, ids, actor)
    added = SegmentMembership.objects.filter(segment=segment).count() - before
    if added:
        _count_forget(segment)
    audit_record(
        actor=actor,
        workspace=workspace,
        action="segment.add_leads",
        obj=segment,
        changes={"added": added, "lead_ids": ids[:1000]},
    )
    return added


@transaction.atomic
def segment_remove_leads(
    *, workspace: Workspace, segment: Segment, leads: QuerySet[Lead], actor: User | None
) -> int:
    """Take leads out of a static segment in one DELETE; returns how many were in it."""
    _members_change_check(workspace, segment, "Removing leads")
    memberships = SegmentMembership.objects.filter(
        segment=segment, lead__in=leads.filter(workspace=workspace).order_by().values("pk")
    )
    ids = list(memberships.values_list("lead_id", flat=True)[:1000])  # for the audit entry
    removed, _ = memberships.delete()
    if removed:
        _count_forget(segment)
    audit_record(
        actor=actor,
        workspace=workspace,
        action="segment.remove_leads",
        obj=segment,
        changes={"removed": removed, "lead_ids": ids},
    )
    return removed


@transaction.atomic
def segment_rules_set(*, segment: Segment, rules: dict, actor: User | None) -> Segment:
    """Validate (rules_clean raises RulesInvalid) and save a dynamic segment's rule tree."""
    if segment.kind != SegmentKind.DYNAMIC:
        raise ValidationError("Only a dynamic segment has rules.")
    _read_only_check(segment)
    clean = rules_clean(rules, workspace=segment.workspace, segment=segment)
    if clean == segment.rules:
        return segment
    old = segment.rules
    segment.rules = clean
    segment.updated_at = timezone.now()
    segment.counted_at = None  # other leads match now: recount
    segment.save(update_fields=["rules", "updated_at", "counted_at"])
    audit_record(
        actor=actor,
        workspace=segment.workspace,
        action="segment.rules",
        obj=segment,
        changes={"rules": [old, clean]},
    )
    return segment


# Caches ---------------------------------------------------------------------------------------


def segment_count_refresh(*, segment: Segment, now: datetime | None = None) -> Segment:
    """Count the segment's live leads now and cache the number for the segments list."""
    now = now or timezone.now()
    segment.member_count = segment_count(segment, now=now)
    segment.counted_at = now
    Segment.objects.filter(pk=segment.pk).update(member_count=segment.member_count, counted_at=now)
    return segment


def segment_touch(*, segment: Segment, now: datetime | None = None) -> None:
    """Record that the segment was used; at most one write a minute per segment."""
    now = now or timezone.now()
    if segment.last_used_at is not None and now - segment.last_used_at < TOUCH_EVERY:
        return
    Segment.objects.filter(pk=segment.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
    ).update(last_used_at=now)
    segment.last_used_at = now
