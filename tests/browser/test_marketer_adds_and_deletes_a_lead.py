"""As a marketer: add a lead (country and phone normalised), delete it, restore it (L6)."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Lead
from leadcrm.demo import demo_workspace_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def test_marketer_adds_deletes_and_restores_a_lead(page, live_server, log_in, screenshot):
    demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    log_in("marketer@demo.test", PASSWORD)

    page.goto(f"{live_server.url}/pipeline/leads/")
    page.get_by_role("link", name="Add Lead").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add lead")
    page.get_by_label("Email", exact=True).fill("Jane.Doe@Example.com")
    page.get_by_label("First name").fill("Jane")
    page.get_by_label("Last name").fill("Doe")
    page.get_by_label("Phone", exact=True).fill("(415) 555-0100")
    page.get_by_label("Company name").fill("Example Inc")
    page.get_by_label("Country", exact=True).fill("USA")
    screenshot("lead-form")
    page.get_by_role("button", name="Add lead").click()

    expect(page.get_by_text("Lead Jane Doe added.")).to_be_visible()
    lead = Lead.objects.get(email="jane.doe@example.com")
    assert (lead.country, lead.phone) == ("US", "+14155550100")
    expect(page).to_have_url(re.compile(rf"/pipeline/leads/{lead.pk}/$"))
    expect(page.get_by_text("+14155550100").first).to_be_visible()

    page.goto(f"{live_server.url}/pipeline/leads/{lead.pk}/edit/")
    expect(page.get_by_label("Country", exact=True)).to_have_value("US")
    expect(page.get_by_label("Phone", exact=True)).to_have_value("+14155550100")
    page.get_by_role("link", name="Delete lead").click()
    page.get_by_role("button", name="Move to trash").click()

    expect(page.get_by_text("Jane Doe moved to the trash.")).to_be_visible()
    lead.refresh_from_db()
    assert lead.deleted_at is not None
    page.locator("#toasts").get_by_role("link", name="Trash").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trash")
    screenshot("trash")
    page.get_by_role("button", name="Restore Jane Doe").click()

    expect(page.get_by_text("Jane Doe restored from the trash.")).to_be_visible()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()
    lead.refresh_from_db()
    assert lead.deleted_at is None
