"""As a marketer: find a static segment in the list, remove two members, duplicate it (G1, G5)."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadcrm.demo import demo_workspace_seed
from leadcrm.models import User
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
from tests.contacts.factories import CompanyFactory, LeadFactory, SegmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"
NAMES = [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra")]


def test_marketer_removes_members_and_duplicates_a_segment(page, live_server, log_in, screenshot):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    Segment.objects.filter(workspace=workspace).delete()  # only this journey's segments
    maya = User.objects.get(email="marketer@demo.test")
    company = CompanyFactory(workspace=workspace, name="Analytical Engines")
    fair = SegmentFactory(
        workspace=workspace,
        name="Berlin fair 2026",
        description="People we met at the stand.",
        kind=SegmentKind.STATIC,
        created_by=maya,
    )
    for first, last in NAMES:
        lead = LeadFactory(
            workspace=workspace,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@engines.test",
            company=company,
            score=60,
        )
        SegmentMembership.objects.create(segment=fair, lead=lead)
    SegmentFactory(
        workspace=workspace,
        name="Hot leads",
        kind=SegmentKind.DYNAMIC,
        rules={"match": "all", "children": [{"field": "score", "op": "gt", "value": 50}]},
        member_count=4,
        counted_at=timezone.now(),
        created_by=maya,
        last_used_at=timezone.now(),
    )
    SegmentFactory(workspace=workspace, name="Newsletter 2024", state=SegmentState.RETIRED)

    log_in("marketer@demo.test", PASSWORD)
    page.get_by_role("button", name="Pipeline").click()
    page.get_by_role("link", name="Segments", exact=True).click()
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    rows = page.locator("#segment-results tbody tr")
    expect(rows).to_have_count(2)  # the retired one is hidden
    fair_row = rows.filter(has_text="Berlin fair 2026")
    expect(fair_row.locator("[data-count]")).to_contain_text("4")  # counted when the row loaded
    expect(fair_row.locator("[data-count]")).to_contain_text("as of")
    page.get_by_label("Show retired").check()
    expect(rows).to_have_count(3)
    expect(page.get_by_text("counting…")).to_have_count(0)
    screenshot("segments-list")

    page.get_by_role("link", name="Berlin fair 2026").click()
    expect(page.get_by_role("heading", name="Berlin fair 2026")).to_be_visible()
    members = page.locator("#segment-members tbody tr")
    expect(members).to_have_count(4)
    page.get_by_role("checkbox", name="Select Ada Lovelace").check()
    page.get_by_role("checkbox", name="Select Alan Turing").check()
    expect(page.locator("[data-selection-label]")).to_have_text("2 leads selected")
    screenshot("segment-static-page")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove from segment").click()
    expect(page.get_by_text("2 leads removed from “Berlin fair 2026”.")).to_be_visible()
    expect(members).to_have_count(2)
    assert set(fair.memberships.values_list("lead__last_name", flat=True)) == {"Hopper", "Dijkstra"}

    page.get_by_role("button", name="Remove Grace Hopper from the segment").click()
    expect(page.get_by_text("1 lead removed from “Berlin fair 2026”.")).to_be_visible()
    expect(members).to_have_count(1)

    page.get_by_role("button", name="Duplicate").click()
    expect(page.get_by_role("heading", name="Copy of Berlin fair 2026")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/pipeline/segments/\d+/$"))
    expect(page.locator("#segment-members tbody tr")).to_have_count(1)
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()
