"""As the owner: erase a lead for good (PRODUCT C6) — Actions → Erase (GDPR)…, type its email,
read the report — then try to import it again and watch the import skip it as suppressed.

Tasks go through the database queue as in production; `run_worker()` is the worker.
"""

import pytest
from playwright.sync_api import expect

from contacts.models import ImportJob, ImportStatus, Lead, SuppressedEmail
from contacts.queries import suppression_hash
from leadcrm.demo import demo_workspace_seed
from tests.browser.test_marketer_imports_leads import run_worker
from tests.contacts.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"
EMAIL = "erin.erase@example.com"


@pytest.fixture(autouse=True)
def _queued_tasks(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


def test_owner_erases_a_lead_and_cannot_import_it_again(
    page, live_server, log_in, screenshot, tmp_path
):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    lead = LeadFactory(
        workspace=workspace,
        email=EMAIL,
        first_name="Erin",
        last_name="Erasmus",
        company=None,
    )

    log_in("owner@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/leads/{lead.pk}/")
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name="Erase (GDPR)…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Erase Erin Erasmus for good?")
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    page.get_by_label("Type the lead's email address to confirm").fill("erin@example.com")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_text("Type the lead's email address exactly as shown")).to_be_visible()
    assert Lead.objects.filter(pk=lead.pk).exists()  # a wrong address erased nothing

    page.get_by_label("Type the lead's email address to confirm").fill(EMAIL.upper())
    screenshot("erase-confirm")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_text("1 lead erased.")).to_be_visible()
    report = page.locator("[data-erasure-report]")
    expect(report).to_be_visible()
    expect(report.get_by_role("table", name="What was erased")).to_contain_text("Leads")
    expect(page.locator("body")).not_to_contain_text(EMAIL)
    screenshot("erase-report")
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert SuppressedEmail.objects.filter(
        workspace=workspace, email_hash=suppression_hash(EMAIL)
    ).exists()

    # The same person arrives again in a list: the import skips them as suppressed.
    path = tmp_path / "webinar.csv"
    path.write_text(
        f"Email,First name,Last name\r\n{EMAIL},Erin,Erasmus\r\n"
        "new.person@example.com,Nia,Newcomer\r\n",
        encoding="utf-8",
    )
    page.goto(f"{live_server.url}/pipeline/import/")
    page.get_by_label("File to import").set_input_files(path)
    page.get_by_role("button", name="Upload and map columns").click()
    page.get_by_role("button", name="Check the file").click()
    run_worker()
    import_button = page.get_by_role("button", name="Import 1 Lead")
    expect(import_button).to_be_visible()
    import_button.click()
    run_worker()
    summary = page.get_by_role("list", name="Import summary")
    expect(summary.get_by_role("listitem").filter(has_text="Created")).to_contain_text("1")
    expect(summary.get_by_role("listitem").filter(has_text="Skipped: Suppressed")).to_contain_text(
        "1"
    )
    screenshot("erase-reimport")
    job = ImportJob.objects.get()
    assert (job.status, job.created) == (ImportStatus.DONE, 1)
    assert not Lead.objects.filter(email__iexact=EMAIL).exists()
    assert Lead.objects.filter(email="new.person@example.com").exists()
