"""Pipeline writes: bulk actions of the leads list and saved views."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict

from contacts.models import Lead, LeadStatus
from contacts.services import leads_bulk_update
from leadcrm.audit import audit_record
from leadcrm.models import Membership, User, Workspace
from leadcrm.permissions import member_can
from pipeline.list_forms import BulkAction
from pipeline.models import SavedView
from segments.models import Segment, SegmentKind
from segments.services import segment_add_leads, segment_create, segment_rules_set


def _leads(count: int) -> str:
    return f"{count:,} lead{'' if count == 1 else 's'}"


def bulk_update_run(
    *, workspace: Workspace, membership: Membership, leads: QuerySet[Lead], data: dict[str, Any]
) -> str:
    """Run one bulk action of the leads list (L5); returns the message for the user."""
    actor, action = membership.user, data["action"]
    if action == BulkAction.ADD_TO_SEGMENT:
        if not member_can(membership, "leadcrm.add_to_static_segment"):
            raise PermissionDenied("Your role cannot add leads to segments.")
        added = segment_add_leads(
            workspace=workspace, segment=data["segment"], leads=leads, actor=actor
        )
        return f"{_leads(added)} added to “{data['segment'].name}”."
    if action == BulkAction.DELETE:
        if not member_can(membership, "leadcrm.delete_any_lead"):
            if not member_can(membership, "leadcrm.delete_own_lead"):
                raise PermissionDenied("Your role cannot delete leads.")
            leads = leads.filter(owner=actor)
        result = leads_bulk_update(workspace=workspace, actor=actor, leads=leads, delete=True)
        return f"{_leads(result.updated)} moved to the trash."
    changes: dict[str, Any] = {}
    if action == BulkAction.STATUS:
        changes["status"] = data["status"]
    elif action == BulkAction.OWNER:
        owner_id = data["owner"]
        changes["owner"] = (
            Membership.objects.get(workspace=workspace, user_id=int(owner_id)).user
            if owner_id
            else None
        )
    elif action == BulkAction.ADD_TAGS:
        changes["add_tags"] = data["tag_names"]
    elif action == BulkAction.REMOVE_TAGS:
        changes["remove_tags"] = data["tag_names"]
    elif action == BulkAction.CUSTOM_FIELD:
        changes["attributes"] = {data["field_key"]: data["field_value"]}
    result = leads_bulk_update(workspace=workspace, actor=actor, leads=leads, **changes)
    text = _bulk_message(action, data, result.updated - sum(result.skipped.values()))
    for reason, count in result.skipped.items():
        text += f" {_leads(count)} skipped: {reason}."
    return text


def _bulk_message(action: str, data: dict[str, Any], count: int) -> str:
    if action == BulkAction.STATUS:
        return f"{_leads(count)} set to {LeadStatus(data['status']).label}."
    if action == BulkAction.OWNER:
        return f"{_leads(count)} reassigned."
    if action == BulkAction.ADD_TAGS:
        return f"Tags {', '.join(data['tag_names'])} added to {_leads(count)}."
    if action == BulkAction.REMOVE_TAGS:
        return f"Tags {', '.join(data['tag_names'])} removed from {_leads(count)}."
    return f"{data['field_key']} set on {_leads(count)}."


@transaction.atomic
def saved_view_create(
    *,
    workspace: Workspace,
    owner: User,
    name: str,
    query: str,
    columns: list[str],
    shared: bool,
) -> SavedView:
    view = SavedView.objects.create(
        workspace=workspace,
        owner=owner,
        name=name.strip(),
        query=query.replace("\x00", "")[:4000],  # PostgreSQL text cannot hold NUL
        columns=columns,
        shared=shared,
    )
    audit_record(actor=owner, workspace=workspace, action="saved_view.create", obj=view)
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, actor: User) -> None:
    audit_record(actor=actor, workspace=view.workspace, action="saved_view.delete", obj=view)
    view.delete()


@transaction.atomic
def segment_from_list_create(
    *, workspace: Workspace, actor: User, name: str, rules: dict
) -> Segment:
    """Save as dynamic segment: a Draft segment whose rules are the list's search and
    filters (PRODUCT 10). rules_clean runs in segment_rules_set; any error undoes it all."""
    segment = segment_create(
        workspace=workspace,
        actor=actor,
        name=name,
        kind=SegmentKind.DYNAMIC,
        description="Saved from the leads list's search and filters.",
    )
    return segment_rules_set(segment=segment, rules=rules, actor=actor)


def saved_views_using_segment(segment: Segment) -> list[str]:
    """Saved views filtering on the segment (`segment=<id>` in their query), for its delete."""
    views = SavedView.objects.filter(workspace=segment.workspace_id, query__contains="segment=")
    return [
        f"saved view “{view.name}”"
        for view in views.only("name", "query")
        if str(segment.pk) in QueryDict(view.query).getlist("segment")
    ]
