"""As a sales rep: open a lead's page, log a call, see it in the timeline without a reload."""

import pytest
from playwright.sync_api import expect

from contacts.models import Activity, Company
from leadcrm.demo import demo_workspace_seed
from leadcrm.models import User
from tests.contacts.factories import ActivityFactory, LeadFactory, TagFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def test_rep_logs_a_call_from_the_lead_page(page, live_server, log_in, screenshot):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    rep = User.objects.get(email="rep@demo.test")
    company = Company.objects.create(workspace=workspace, name="Initech", domain="initech.test")
    lead = LeadFactory(
        workspace=workspace,
        owner=rep,
        first_name="Jane",
        last_name="Doe",
        email="jane@initech.test",
        company=company,
        job_title="Head of Operations",
        country="DE",
        city="Berlin",
        status="engaged",
    )
    lead.tags.add(TagFactory(workspace=workspace, name="vip"))
    ActivityFactory(lead=lead, type="email_opened", subject="Spring newsletter")

    log_in("rep@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/leads/{lead.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jane Doe")
    page.evaluate("window.notReloaded = true")

    form = page.locator("#log-activity")
    form.get_by_role("button", name="Log activity").click()
    expect(form.get_by_text("Say what happened: a subject or some notes.")).to_be_visible()

    form.get_by_text("Call", exact=True).click()
    form.get_by_label("Subject").fill("Discovery call about pricing")
    form.get_by_label("Notes").fill("Wants a demo next week.")
    form.get_by_role("button", name="Log activity").click()

    timeline = page.locator("#timeline")
    expect(timeline.get_by_text("Discovery call about pricing")).to_be_visible()
    expect(page.get_by_text("Call logged.")).to_be_visible()
    expect(page.locator("#record")).to_contain_text("Last contacted")
    expect(page.locator("#record")).not_to_contain_text("never")
    expect(page.locator("#log-activity").get_by_label("Subject")).to_have_value("")
    assert page.evaluate("window.notReloaded") is True
    activity = Activity.objects.get(lead=lead, type="call")
    assert (activity.subject, activity.actor) == ("Discovery call about pricing", rep)
    screenshot("lead-detail")
