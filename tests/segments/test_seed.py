"""seed_demo's segments (PRODUCT G4, 13): the seed examples hold the leads they describe."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from contacts.models import Activity, ActivityType, Lead
from leadcrm.models import AuditLog, Workspace
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
from segments.rules import rules_clean, segment_leads


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--leads", "200", stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(db) -> Workspace:
    seed()
    return Workspace.objects.get(slug="demo")


def members(demo: Workspace, name: str, now=None) -> set[int]:
    segment = Segment.objects.get(workspace=demo, name=name)
    return set(segment_leads(segment, now=now).values_list("pk", flat=True))


def live_leads(demo: Workspace) -> list[Lead]:
    return list(Lead.objects.for_workspace(demo).alive())


def test_technology_in_the_usa_holds_the_us_technology_leads(demo):
    expected = {
        lead.pk
        for lead in live_leads(demo)
        if lead.attributes.get("industry") == "Technology" and lead.country == "US"
    }

    assert expected  # the demo data has some
    assert members(demo, "Technology in the USA") == expected


def test_opened_an_email_in_the_last_30_days_holds_the_recent_openers(demo):
    now = timezone.now()
    latest_open: dict[int, object] = {}
    for lead_id, occurred_at in Activity.objects.filter(
        workspace=demo, type=ActivityType.EMAIL_OPENED
    ).values_list("lead_id", "occurred_at"):
        latest_open[lead_id] = max(occurred_at, latest_open.get(lead_id, occurred_at))
    expected = {
        lead.pk
        for lead in live_leads(demo)
        if lead.pk in latest_open and latest_open[lead.pk] >= now - timedelta(days=30)
    }

    assert expected
    assert members(demo, "Opened an email in the last 30 days", now) == expected


def test_lead_score_over_50_holds_the_leads_scoring_more_than_50(demo):
    expected = {lead.pk for lead in live_leads(demo) if lead.score > 50}

    assert expected
    assert members(demo, "Lead score over 50") == expected


def test_the_seed_examples_are_active_dynamic_segments_with_clean_rules(demo):
    names = ["Technology in the USA", "Opened an email in the last 30 days", "Lead score over 50"]
    for segment in Segment.objects.filter(workspace=demo, name__in=names):
        assert (segment.kind, segment.state) == (SegmentKind.DYNAMIC, SegmentState.ACTIVE)
        assert rules_clean(segment.rules, workspace=demo, segment=segment) == segment.rules
    assert Segment.objects.get(workspace=demo, name="Technology in the USA").rules == {
        "match": "all",
        "children": [
            {"field": "cf.industry", "op": "is", "value": "Technology"},
            {"field": "country", "op": "is", "value": "US"},
        ],
    }


def test_a_static_segment_holds_tagged_leads(demo):
    segment = Segment.objects.get(workspace=demo, name="Trade show follow-up")
    member_leads = Lead.objects.filter(segment_memberships__segment=segment)

    assert segment.kind == SegmentKind.STATIC
    assert 0 < member_leads.count() <= 40
    assert all(lead.tags.filter(name="event-lead").exists() for lead in member_leads)
    assert members(demo, "Trade show follow-up") == set(member_leads.values_list("pk", flat=True))


def test_there_are_segments_in_every_state_and_of_both_kinds(demo):
    segments = Segment.objects.filter(workspace=demo)

    assert set(segments.values_list("state", flat=True)) == set(SegmentState.values)
    assert set(segments.values_list("kind", flat=True)) == set(SegmentKind.values)
    assert segments.filter(created_by__email="marketer@demo.test").count() == segments.count()


def test_a_draft_refers_to_another_demo_segment_by_id(demo):
    us_tech = Segment.objects.get(workspace=demo, name="Technology in the USA")
    draft = Segment.objects.get(workspace=demo, name="New US tech leads, warm or hot")

    assert {"field": "segment", "op": "in", "value": us_tech.pk} in draft.rules["children"]
    assert members(demo, draft.name) <= members(demo, us_tech.name)


def test_running_it_twice_creates_no_segment_member_or_audit_entry(demo):
    before = (
        Segment.objects.count(),
        SegmentMembership.objects.count(),
        AuditLog.objects.count(),
    )

    output = seed()

    assert "8 segments (0 created now)" in output
    assert (
        Segment.objects.count(),
        SegmentMembership.objects.count(),
        AuditLog.objects.count(),
    ) == before


def test_it_reports_the_segments(db):
    assert "8 segments (8 created now)" in seed()
