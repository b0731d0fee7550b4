"""As a marketer: review who unsubscribed (PRODUCT C3) — Pipeline → Unsubscribes, narrow to
those who used the link in an email, search a name, export the list, open a lead and see its
consent history say how it left."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contacts.consent import lead_unsubscribe
from contacts.models import Channel
from leadcrm.demo import demo_workspace_seed
from tests.contacts.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def unsubscribed(workspace, first, last, channel, source, days_ago):
    lead = LeadFactory(
        workspace=workspace,
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}@example.com",
        company=None,
    )
    lead_unsubscribe(
        lead=lead,
        actor=None,
        channel=channel,
        source=source,
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )
    return lead


def test_marketer_reviews_unsubscribes(page, live_server, log_in, screenshot):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    unsubscribed(workspace, "Lena", "Linkman", Channel.LINK, "Spring newsletter", 2)
    unsubscribed(workspace, "Manu", "Manual", Channel.MANUAL, "Asked on the phone", 5)
    unsubscribed(workspace, "Kara", "Kanban", Channel.KANBAN, "Kanban", 9)
    unsubscribed(workspace, "Lars", "Linkwood", Channel.LINK, "Webinar follow-up", 12)
    LeadFactory(workspace=workspace, first_name="Still", last_name="Subscribed", company=None)

    log_in("marketer@demo.test", PASSWORD)
    page.get_by_role("button", name="Pipeline").or_(
        page.get_by_role("link", name="Pipeline")
    ).click()
    page.get_by_role("link", name="Unsubscribes", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribes")
    table = page.get_by_role("table", name="Unsubscribed leads")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Lena Linkman")  # newest first
    expect(rows.first).to_contain_text("Unsubscribe link")
    expect(rows.first).to_contain_text("Spring newsletter")
    expect(table).not_to_contain_text("Still Subscribed")
    screenshot("unsubscribes")

    # How: only the ones who clicked the link in an email.
    page.get_by_label("Unsubscribe link").check()
    expect(rows).to_have_count(2)
    expect(table).not_to_contain_text("Manu Manual")
    expect(page).to_have_url(re.compile(r"how=link"))

    # Search within them.
    page.get_by_label("Search").fill("Linkwood")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lars Linkwood")

    # Export what is shown.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    text = download_info.value.path().read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [row[next(iter(row))] for row in exported] == ["lars.linkwood@example.com"]

    # The lead's own consent history tells the same story.
    rows.first.get_by_role("link", name="Lars Linkwood").click()
    history = page.get_by_role("table", name="Consent history")
    expect(history).to_contain_text("Opted Out")
    expect(history).to_contain_text("Webinar follow-up")
    screenshot("unsubscribes-lead")
