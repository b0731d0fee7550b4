"""Reads start from the workspace and never cross into another one (PRODUCT 0, A1)."""

from datetime import timedelta

from django.utils import timezone

from contacts.models import ActivityType
from contacts.queries import lead_timeline, leads_for, trash_for
from tests.contacts.factories import ActivityFactory, LeadFactory


def _ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def test_leads_for_returns_only_the_workspaces_live_leads(ws, other_ws):
    mine = LeadFactory(workspace=ws)
    LeadFactory(workspace=ws, deleted_at=timezone.now())
    LeadFactory(workspace=other_ws)

    assert _ids(leads_for(ws)) == {mine.pk}


def test_leads_for_accepts_a_workspace_id(ws, other_ws):
    mine = LeadFactory(workspace=ws)
    LeadFactory(workspace=other_ws)

    assert _ids(leads_for(ws.pk)) == {mine.pk}


def test_leads_for_including_the_trash_never_returns_another_workspaces_leads(ws, other_ws):
    live = LeadFactory(workspace=ws)
    trashed = LeadFactory(workspace=ws, deleted_at=timezone.now())
    LeadFactory(workspace=other_ws)
    LeadFactory(workspace=other_ws, deleted_at=timezone.now())

    assert _ids(leads_for(ws, include_deleted=True)) == {live.pk, trashed.pk}


def test_trash_for_lists_only_the_workspaces_trash_newest_first(ws, other_ws):
    now = timezone.now()
    older = LeadFactory(workspace=ws, deleted_at=now - timedelta(days=3))
    newer = LeadFactory(workspace=ws, deleted_at=now - timedelta(days=1))
    LeadFactory(workspace=ws)
    LeadFactory(workspace=other_ws, deleted_at=now)

    assert list(trash_for(ws)) == [newer, older]


def test_lead_timeline_never_returns_another_workspaces_activities(ws, other_ws):
    lead = LeadFactory(workspace=ws)
    mine = ActivityFactory(lead=lead)
    ActivityFactory(lead=LeadFactory(workspace=other_ws))
    # A row claiming the lead from another workspace (it can't happen through the services).
    ActivityFactory(lead=lead, workspace=other_ws)

    assert list(lead_timeline(lead)) == [mine]


def test_lead_timeline_lists_only_that_leads_activities(ws):
    lead = LeadFactory(workspace=ws)
    mine = ActivityFactory(lead=lead)
    ActivityFactory(lead=LeadFactory(workspace=ws))

    assert list(lead_timeline(lead)) == [mine]


def test_lead_timeline_orders_newest_first(ws):
    lead = LeadFactory(workspace=ws)
    now = timezone.now()
    middle = ActivityFactory(lead=lead, occurred_at=now - timedelta(hours=2))
    newest = ActivityFactory(lead=lead, occurred_at=now - timedelta(hours=1))
    oldest = ActivityFactory(lead=lead, occurred_at=now - timedelta(hours=3))

    assert list(lead_timeline(lead)) == [newest, middle, oldest]


def test_lead_timeline_orders_activities_at_the_same_time_newest_recorded_first(ws):
    lead = LeadFactory(workspace=ws)
    when = timezone.now() - timedelta(hours=1)
    first = ActivityFactory(lead=lead, occurred_at=when)
    second = ActivityFactory(lead=lead, occurred_at=when)

    assert list(lead_timeline(lead)) == [second, first]


def test_lead_timeline_filters_by_type(ws):
    lead = LeadFactory(workspace=ws)
    now = timezone.now()
    call = ActivityFactory(lead=lead, type=ActivityType.CALL, occurred_at=now - timedelta(hours=2))
    ActivityFactory(lead=lead, type=ActivityType.NOTE, occurred_at=now - timedelta(hours=1))
    meeting = ActivityFactory(lead=lead, type=ActivityType.MEETING, occurred_at=now)

    timeline = lead_timeline(lead, types=[ActivityType.CALL, ActivityType.MEETING])

    assert list(timeline) == [meeting, call]


def test_lead_timeline_without_types_lists_every_type(ws):
    lead = LeadFactory(workspace=ws)
    ActivityFactory(lead=lead, type=ActivityType.CALL)
    ActivityFactory(lead=lead, type=ActivityType.NOTE)

    assert lead_timeline(lead, types=[]).count() == 2


def test_a_static_segment_membership_ties_a_lead_of_the_segments_workspace(db):
    from tests.contacts.factories import SegmentMembershipFactory

    membership = SegmentMembershipFactory()

    assert membership.lead.workspace_id == membership.segment.workspace_id
    assert list(membership.lead.segment_memberships.all()) == [membership]
