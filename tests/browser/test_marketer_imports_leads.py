"""As a marketer: import a CSV with unusual headers — fix a column's mapping, set a default,
check the preview (an invalid row shows), import, watch the progress finish, then find an
imported lead in the leads list (PRODUCT I1–I6).

Tasks go through the database queue as in production (not the tests' immediate backend), so
the pages really wait for a worker: `run_worker()` is that worker (`manage.py db_worker`,
drained once), and each page's htmx polling notices the new status and reloads itself.
"""

import re
import signal

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from contacts.models import ImportJob, ImportStatus, Lead
from leadcrm.demo import demo_workspace_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"
CSV = (
    "E-Mail-Adresse,Frist name,Surname,Firma,Funktion\r\n"
    "ada.import@example.com,Ada,Lovelace,Analytical Engines,Mathematician\r\n"
    "not-an-email,Bad,Row,Nowhere,Nobody\r\n"
    "grace.import@example.com,Grace,Hopper,US Navy,Rear Admiral\r\n"
)


@pytest.fixture(autouse=True)
def _queued_tasks(settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


def run_worker() -> None:
    """Run every queued task, then stop (the worker sets signal handlers: put ours back)."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_marketer_imports_leads_from_a_csv(page, live_server, log_in, screenshot, tmp_path):
    demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    path = tmp_path / "Messe Kontakte.csv"
    path.write_text(CSV, encoding="utf-8")

    log_in("marketer@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/leads/")
    page.get_by_role("link", name="Import Leads").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import leads")
    page.get_by_label("File to import").set_input_files(path)
    page.get_by_role("button", name="Upload and map columns").click()

    # Map: the guess got the typo'd and German headers; "Funktion" needs a hand.
    expect(page.get_by_role("heading", level=1)).to_have_text("Messe Kontakte.csv")
    expect(page.get_by_label("E-Mail-Adresse")).to_have_value("email")
    expect(page.get_by_label("Frist name")).to_have_value("first_name")
    expect(page.get_by_label("Funktion")).to_have_value("")
    page.get_by_label("Funktion").select_option(label="Job title")
    page.get_by_label("Source", exact=True).fill("Trade fair 2026")
    expect(page.locator("#opt-in-warning")).to_be_hidden()
    screenshot("import-mapping")
    page.get_by_role("button", name="Check the file").click()

    # Check: the dry run waits for the worker, then the page shows the preview.
    expect(page.get_by_role("heading", name="Checking the file…")).to_be_visible()
    run_worker()
    import_button = page.get_by_role("button", name="Import 2 Leads")
    expect(import_button).to_be_visible()
    invalid_row = page.locator('tr[data-row="3"]')
    expect(invalid_row).to_contain_text("E-Mail-Adresse: Enter a valid email address.")
    preview = page.get_by_role("table", name="Preview")
    expect(preview.get_by_role("cell", name="Rear Admiral")).to_be_visible()
    expect(preview.get_by_role("cell", name="Trade fair 2026").first).to_be_visible()
    screenshot("import-preview")
    import_button.click()

    # Import: progress until the worker has done it, then the summary.
    expect(page.get_by_role("heading", name="Waiting for a worker…")).to_be_visible()
    expect(page.get_by_text("You can close this page: the import continues")).to_be_visible()
    screenshot("import-progress")
    run_worker()
    expect(page.get_by_text("Import finished: 3 rows")).to_be_visible()
    summary = page.get_by_role("list", name="Import summary")
    expect(summary.get_by_role("listitem").filter(has_text="Created")).to_contain_text("2")
    expect(summary.get_by_role("listitem").filter(has_text="Invalid")).to_contain_text("1")
    screenshot("import-done")
    job = ImportJob.objects.get()
    assert (job.status, job.created, job.invalid) == (ImportStatus.DONE, 2, 1)
    ada = Lead.objects.get(email="ada.import@example.com")
    assert (ada.job_title, ada.source) == ("Mathematician", "Trade fair 2026")

    page.get_by_role("link", name="See imported leads").click()
    page.get_by_label("Search leads").fill("Lovelace")
    expect(page).to_have_url(re.compile(r"q=Lovelace"))
    results = page.locator("#lead-results")
    expect(results.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(results.get_by_role("link", name="Grace Hopper")).to_have_count(0)
