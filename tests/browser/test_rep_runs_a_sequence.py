"""As a sales rep: enrol a lead in a sequence, send its next step, see Email Sent in the
timeline, stop the sequence (PRODUCT A5, seed 001)."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from contacts.models import Activity, Company
from leadcrm.demo import demo_workspace_seed
from leadcrm.models import User
from pipeline.models import EnrollmentStatus, SendingSettings, SequenceEnrollment
from pipeline.sequences import sequence_save, step_save
from tests.contacts.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def test_rep_enrols_a_lead_sends_the_next_step_and_stops_the_sequence(
    page, live_server, log_in, screenshot, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    rep = User.objects.get(email="rep@demo.test")
    marketer = User.objects.get(email="marketer@demo.test")
    SendingSettings.objects.update_or_create(
        workspace=workspace,
        defaults={
            "from_name": "Demo Sales",
            "from_email": "sales@demo.test",
            "postal_address": "1 Demo Street, Springfield",
        },
    )
    sequence = sequence_save(workspace=workspace, actor=marketer, name="Browser onboarding")
    step_save(
        sequence=sequence,
        actor=marketer,
        subject="Welcome, {{ first_name }}",
        body="Hi {{ first_name }},\n\nThanks for your interest.",
    )
    step_save(
        sequence=sequence,
        actor=marketer,
        subject="How {{ company }} can save a day a week",
        body="Hi {{ first_name }}, a short case study.",
        wait_days=3,
    )
    company = Company.objects.create(workspace=workspace, name="Initech", domain="initech.test")
    lead = LeadFactory(
        workspace=workspace,
        owner=rep,
        first_name="Jane",
        last_name="Doe",
        email="jane@initech.test",
        company=company,
    )

    log_in("rep@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/leads/{lead.pk}/")
    panel = page.locator("#sequence-execution")
    expect(panel.get_by_role("heading", name="Sequence Execution")).to_be_visible()
    expect(panel.get_by_text("Not enrolled in any sequence.")).to_be_visible()

    panel.get_by_label("Sequence", exact=True).select_option(label="Browser onboarding")
    panel.get_by_role("button", name="Enrol in sequence").click()
    expect(panel.get_by_text("Step 1 of 2")).to_be_visible()
    expect(panel.get_by_role("link", name="Browser onboarding")).to_be_visible()
    expect(page.get_by_text("Jane Doe enrolled in “Browser onboarding”.")).to_be_visible()

    panel.get_by_role("button", name="Send next step").click()
    expect(panel.get_by_text("Step 2 of 2")).to_be_visible()
    expect(panel.get_by_text("How Initech can save a day a week")).to_be_visible()
    timeline = page.get_by_role("list", name="Activities")
    expect(timeline.get_by_text("Email Sent")).to_be_visible()
    expect(timeline.get_by_text("Welcome, Jane")).to_be_visible()
    expect(panel.get_by_role("table", name="Sequence emails sent")).to_contain_text("Welcome, Jane")
    assert [m.subject for m in mail.outbox] == ["Welcome, Jane"]
    screenshot("lead-sequence-execution")

    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Stop sequence").click()
    expect(panel.get_by_text("Not enrolled in any sequence.")).to_be_visible()
    expect(panel.get_by_role("list", name="Ended sequences")).to_contain_text("Stopped")
    expect(page.get_by_text("“Browser onboarding” stopped for Jane Doe.")).to_be_visible()

    enrollment = SequenceEnrollment.objects.get(lead=lead)
    assert (enrollment.status, enrollment.steps_sent) == (EnrollmentStatus.STOPPED, 1)
    assert Activity.objects.filter(lead=lead, type="email_sent", actor=rep).count() == 1
    screenshot("lead-sequence-stopped")
