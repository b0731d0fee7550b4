"""As a marketer: search the leads list with the query language, fix a typo the page points
at, filter some more, and save what the list shows as a dynamic segment (PRODUCT L3, 10)."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import CustomFieldType
from leadcrm.demo import demo_workspace_seed
from segments.models import Segment, SegmentKind, SegmentState
from segments.rules import segment_leads
from tests.contacts.factories import CustomFieldFactory, LeadFactory, TagFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def test_marketer_saves_a_search_as_a_dynamic_segment(page, live_server, log_in, screenshot):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    CustomFieldFactory(
        workspace=workspace,
        key="industry",
        label="Industry",
        type=CustomFieldType.CHOICE,
        choices=["SaaS", "Retail"],
    )
    vip = TagFactory(workspace=workspace, name="vip")
    for i, (industry, score, status) in enumerate(
        [("SaaS", 80, "new"), ("SaaS", 60, "qualified"), ("SaaS", 20, "new"), ("Retail", 90, "new")]
    ):
        lead = LeadFactory(
            workspace=workspace,
            first_name=f"Lead{i}",
            last_name="Tester",
            email=f"lead{i}@journey.test",
            score=score,
            status=status,
            attributes={"industry": industry},
        )
        lead.tags.add(vip)

    log_in("marketer@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/leads/")
    rows = page.locator("#lead-results tbody tr")
    expect(rows).to_have_count(4)

    search = page.get_by_role("searchbox", name="Search leads")
    search.fill("industry:SaaS scroe:>50")
    error = page.locator("#query-error")
    expect(error).to_contain_text("There is no field “scroe”")
    expect(error.locator("mark")).to_have_text("scroe")
    expect(page.locator("#query-problem")).to_contain_text("the search could not be read")
    screenshot("query-error")

    search.fill("industry:SaaS score:>50")
    expect(rows).to_have_count(2)
    expect(error).to_be_hidden()
    expect(page).to_have_url(re.compile(r"q=industry(%3A|:)SaaS(\+|%20)score(%3A|:)(%3E|>)50"))

    page.get_by_role("button", name="Filters").click()
    page.get_by_role("group", name="Status").get_by_label("New", exact=True).check()
    expect(rows).to_have_count(1)

    page.get_by_role("button", name="Save as segment").click()
    page.get_by_label("Name of the dynamic segment").fill("Hot new SaaS")
    page.get_by_role("button", name="Save as dynamic segment").click()

    segment = Segment.objects.get(workspace=workspace, name="Hot new SaaS")
    expect(page).to_have_url(re.compile(rf"/pipeline/segments/{segment.pk}/$"))
    assert (segment.kind, segment.state) == (SegmentKind.DYNAMIC, SegmentState.DRAFT)
    assert [lead.email for lead in segment_leads(segment)] == ["lead0@journey.test"]
    screenshot("saved-search-segment")
