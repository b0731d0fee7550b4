"""As a sales rep: filter my leads, sort them, bulk-move three to Contacted (PRODUCT L1–L5)."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Lead, LeadStatus
from leadcrm.demo import demo_workspace_seed
from leadcrm.models import User
from tests.contacts.factories import CompanyFactory, LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"
NAMES = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Frances", "Allen"),
    ("Ken", "Thompson"),
    ("Margaret", "Hamilton"),
    ("Dennis", "Ritchie"),
    ("Radia", "Perlman"),
    ("John", "Backus"),
]


def test_rep_filters_sorts_and_bulk_updates_their_leads(page, live_server, log_in, screenshot):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    rep = User.objects.get(email="rep@demo.test")
    company = CompanyFactory(workspace=workspace, name="Analytical Engines")
    for i, (first, last) in enumerate(NAMES):
        LeadFactory(
            workspace=workspace,
            owner=rep,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@engines.test",
            company=company,
            status=LeadStatus.NEW if i % 3 else LeadStatus.CONTACTED,
            score=(i * 37) % 100,
        )
    LeadFactory(workspace=workspace, first_name="Not", last_name="Mine", status=LeadStatus.NEW)
    new_leads = Lead.objects.filter(workspace=workspace, owner=rep, status=LeadStatus.NEW)
    assert new_leads.count() == 8

    log_in("rep@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/leads/")
    expect(page).to_have_url(re.compile(r"\?owner=me$"))
    rows = page.locator("#lead-results tbody tr")
    expect(rows).to_have_count(12)

    page.get_by_role("button", name="Filters").click()
    page.get_by_role("group", name="Status").get_by_label("New", exact=True).check()
    expect(rows).to_have_count(8)
    expect(page).to_have_url(re.compile(r"status=new"))
    expect(page.locator("#filter-count")).to_have_text("2")  # owner = me, status = New

    page.locator("#lead-results thead").get_by_role("link", name="Score").click()
    expect(page).to_have_url(re.compile(r"sort=score"))
    by_score = sorted(new_leads, key=lambda x: (x.score, x.pk))
    expect(rows.first).to_contain_text(by_score[0].full_name)
    expect(rows.last).to_contain_text(by_score[-1].full_name)

    chosen = by_score[:3]
    for lead in chosen:
        page.get_by_role("checkbox", name=f"Select {lead.full_name}").check()
    expect(page.get_by_text("3 leads selected")).to_be_visible()
    page.get_by_label("Bulk update").select_option(label="Set status")
    page.get_by_label("New status").select_option(label="Contacted")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Apply", exact=True).click()

    toast = page.locator(".toast", has_text="3 leads set to Contacted.")
    expect(toast).to_be_visible()
    expect(toast).to_have_class(re.compile(r"\bshow\b"))
    expect(toast).not_to_have_class(re.compile(r"\bshowing\b"))
    expect(rows).to_have_count(5)
    for lead in chosen:
        expect(page.locator("#lead-results")).not_to_contain_text(lead.full_name)
    expect(rows.first).to_contain_text(by_score[3].full_name)
    screenshot("leads-list")
    assert [Lead.objects.get(pk=x.pk).status for x in chosen] == [LeadStatus.CONTACTED] * 3
    assert Lead.objects.get(first_name="Not").status == LeadStatus.NEW

    # Then open one lead and log a call; it shows in the timeline without a reload.
    opened = by_score[3]
    page.locator("#lead-results").get_by_role("link", name=opened.full_name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(opened.full_name)
    form = page.locator("#log-activity")
    form.get_by_text("Call", exact=True).click()
    form.get_by_label("Subject").fill("Follow-up on pricing")
    form.get_by_role("button", name="Log activity").click()
    expect(page.locator("#timeline").get_by_text("Follow-up on pricing")).to_be_visible()
    assert opened.activities.filter(type="call", subject="Follow-up on pricing").exists()
