"""Pipeline → Import (PRODUCT I1–I7, I9): upload, map, check, import, undo — through the pages."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.importing.jobs import (
    import_check_start,
    import_configure,
    import_start,
    import_upload,
)
from contacts.models import ImportJob, ImportStatus, Lead
from contacts.queries import leads_for

IMPORT = reverse("pipeline:import")
HTMX = {"headers": {"HX-Request": "true"}}
# Headers as a German spreadsheet has them; "Funktion" is not guessed (the user maps it).
CSV = (
    b"E-Mail-Adresse;Vorname;Surname;Firma;Funktion\r\n"
    b"ada@example.com;Ada;Lovelace;Analytical Engines;Mathematician\r\n"
    b"not-an-email;Bad;Row;Nowhere;Nobody\r\n"
    b"grace@example.com;Grace;Hopper;US Navy;Rear Admiral\r\n"
)
GUESS = ["email", "first_name", "last_name", "company", ""]


def url(name: str, job: ImportJob) -> str:
    return reverse(f"pipeline:{name}", args=[job.pk])


def upload(client, content: bytes = CSV, name: str = "Messe Kontakte.csv"):
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, content)})


def mapping_post(job: ImportJob, **changes) -> dict:
    """The mapping form as a person submits it: the guess, the usual defaults, create+update."""
    data = {f"col_{i}": key for i, key in enumerate(job.mapping)}
    data.update(status="new", consent_status="unknown", consent_type="imported", mode="upsert")
    data.update(changes)
    return data


def files_in(path) -> list:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


@pytest.fixture
def job(ws, marketer):
    upload = SimpleUploadedFile("Messe Kontakte.csv", CSV)
    return import_upload(workspace=ws, actor=marketer.user, upload=upload)


def checked(job: ImportJob, actor, **changes) -> ImportJob:
    """The job configured and its dry run done (the task run by hand)."""
    from contacts.importing.jobs import import_check_run

    mapping = changes.pop("mapping", [*GUESS[:4], "job_title"])
    job = import_configure(job, actor=actor, mapping=mapping, **changes)
    job = import_check_start(job, actor=actor, enqueue=False)
    import_check_run(job.pk, job.run_token)
    job.refresh_from_db()
    return job


# Who may see what -----------------------------------------------------------------------------

JOB_PAGES = ["import-detail", "import-progress", "import-errors", "import-undo"]
JOB_POSTS = ["import-detail", "import-undo", "import-cancel", "import-discard"]


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer"])
def test_owner_admin_and_marketer_open_every_import_page(persona, team, job, as_member, request):
    client = as_member(request.getfixturevalue(persona))

    assert client.get(IMPORT).status_code == 200
    for name in JOB_PAGES:
        assert client.get(url(name, job), **HTMX).status_code == 200, name


@pytest.mark.parametrize("persona", ["rep", "viewer"])
def test_rep_and_viewer_cannot_import(persona, team, job, as_member, request):
    client = as_member(request.getfixturevalue(persona))

    assert client.get(IMPORT).status_code == 403
    assert upload(client).status_code == 403
    for name in JOB_PAGES:
        assert client.get(url(name, job)).status_code == 403, name
    for name in JOB_POSTS:
        assert client.post(url(name, job)).status_code == 403, name
    assert ImportJob.objects.count() == 1


def test_outsider_cannot_see_another_workspaces_import(outsider, job, as_member):
    client = as_member(outsider)

    list_page = client.get(IMPORT)
    assert list_page.status_code == 200  # their own workspace's history, without Acme's job
    assert job.file_name not in list_page.content.decode()
    for name in JOB_PAGES:
        assert client.get(url(name, job)).status_code == 404, name
    for name in JOB_POSTS:
        assert client.post(url(name, job)).status_code == 404, name
    assert ImportJob.objects.filter(pk=job.pk).exists()


def test_anonymous_is_sent_to_log_in(job, client):
    for path in [IMPORT, *(url(name, job) for name in JOB_PAGES)]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.url.startswith(reverse("login")), path


@pytest.mark.parametrize("name", ["import-cancel", "import-discard"])
def test_cancel_and_discard_reject_get(name, marketer, job, as_member):
    assert as_member(marketer).get(url(name, job)).status_code == 405


def test_the_menu_and_the_leads_list_lead_to_import(marketer, rep, as_member):
    leads_page = as_member(marketer).get(reverse("pipeline:lead-list")).content.decode()

    assert f'href="{IMPORT}"' in leads_page
    assert "Import Leads" in leads_page
    assert "Import Leads" not in as_member(rep).get(reverse("pipeline:lead-list")).content.decode()


# Upload ---------------------------------------------------------------------------------------


def test_upload_page_says_the_size_limit(marketer, as_member, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 5 * 1024 * 1024

    content = as_member(marketer).get(IMPORT).content.decode()

    assert "up to 5.0\xa0MB" in content
    assert "No imports yet." in content


def test_upload_stores_the_file_and_opens_its_mapping(marketer, as_member, settings):
    response = upload(as_member(marketer))

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == url("import-detail", job)
    assert job.status == ImportStatus.MAPPING
    assert job.mapping == GUESS
    assert len(files_in(settings.IMPORT_DIR)) == 1


def test_a_file_over_the_limit_is_refused_and_not_stored(marketer, as_member, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100

    response = upload(as_member(marketer), content=CSV * 5)

    assert response.status_code == 400
    assert "is larger than 100\xa0bytes, the most this workspace accepts" in (
        response.content.decode()
    )
    assert not ImportJob.objects.exists()
    assert files_in(settings.IMPORT_DIR) == []


def test_an_unreadable_file_is_refused_with_the_reason(marketer, as_member, settings):
    response = upload(as_member(marketer), content=b"\x00\x01binary\x00", name="photo.csv")

    assert response.status_code == 400
    assert "is not a text file we can read" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert files_in(settings.IMPORT_DIR) == []


def test_posting_no_file_asks_for_one(marketer, as_member):
    response = as_member(marketer).post(IMPORT, {})

    assert response.status_code == 400
    assert "Choose a file to import." in response.content.decode()


# The whole journey ----------------------------------------------------------------------------


def test_marketer_imports_a_file_and_undoes_it(
    ws, marketer, as_member, django_capture_on_commit_callbacks
):
    client = as_member(marketer)
    upload(client)
    job = ImportJob.objects.get()
    detail = url("import-detail", job)

    mapping_page = client.get(detail).content.decode()
    assert '<option value="email" selected>Email</option>' in mapping_page
    assert '<optgroup label="Consent">' in mapping_page
    assert "Mathematician" in mapping_page  # the column's first values

    form = mapping_post(
        job,
        col_4="job_title",  # "Funktion" was not guessed
        source="Trade fair 2026",
        owner=str(marketer.user_id),
        tags="fair, 2026",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(detail, {**form, "action": "check"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED
    assert job.dry_run["create"] == 2
    assert job.dry_run["invalid"] == 1

    preview = client.get(detail).content.decode()
    assert "Import 2 Leads" in preview
    assert "Rear Admiral" in preview  # stored as Job title
    assert 'class="table-danger" data-row="3"' in preview
    assert "<strong>E-Mail-Adresse</strong>: Enter a valid email address." in preview
    assert "Trade fair 2026" in preview  # the default, shown muted

    problems = client.get(url("import-errors", job) + "?dry_run=1")
    assert problems["Content-Type"] == "text/csv; charset=utf-8"
    assert b"not-an-email" in b"".join(problems.streaming_content)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(detail, {"action": "import"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.created, job.updated, job.invalid) == (2, 0, 1)

    ada = leads_for(ws).get(email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.job_title) == ("Ada", "Lovelace", "Mathematician")
    assert ada.source == "Trade fair 2026"
    assert ada.owner_id == marketer.user_id
    assert sorted(ada.tags.values_list("name", flat=True)) == ["2026", "fair"]

    summary = client.get(detail).content.decode()
    assert "Import finished" in summary
    assert "Download error report (CSV)" in summary
    assert "Undo import…" in summary

    report = b"".join(client.get(url("import-errors", job)).streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))
    assert rows[0] == [
        "E-Mail-Adresse",
        "Vorname",
        "Surname",
        "Firma",
        "Funktion",
        "Row",
        "Column",
        "Problem",
    ]
    assert rows[1][:6] == ["not-an-email", "Bad", "Row", "Nowhere", "Nobody", "3"]
    assert rows[1][6] == "E-Mail-Adresse"
    assert len(rows) == 2

    plan = client.get(url("import-undo", job)).content.decode()
    assert "Delete <strong>2</strong> leads the import created" in plan

    response = client.post(url("import-undo", job))
    assert response.status_code == 302
    assert response.url == detail
    job.refresh_from_db()
    assert job.status == ImportStatus.UNDONE
    assert not Lead.objects.filter(workspace=ws).exists()
    assert "Created leads deleted" in client.get(detail).content.decode()


def test_history_lists_the_import(marketer, job, as_member):
    content = as_member(marketer).get(IMPORT).content.decode()

    assert f'href="{url("import-detail", job)}"' in content
    assert "Messe Kontakte.csv" in content
    assert "Mapping columns" in content
    assert "maya@acme.test" in content  # who: the marketer (no full name)


def test_change_mapping_shows_the_form_prefilled(marketer, job, as_member):
    checked(job, marketer.user)

    content = as_member(marketer).get(url("import-detail", job) + "?edit=mapping").content.decode()

    assert 'id="import-mapping"' in content
    assert '<option value="job_title" selected>Job title</option>' in content
    assert "Back to the preview" in content


def test_nothing_to_import_disables_the_button_with_the_reason(marketer, job, as_member):
    checked(job, marketer.user, mode="update")  # no lead of the file exists yet

    content = as_member(marketer).get(url("import-detail", job)).content.decode()

    assert "Import 0 Leads" in content
    assert "disabled" in content
    assert "No row would create or update a lead" in content


def test_a_mapping_without_email_is_refused_keeping_the_choices(marketer, job, as_member):
    data = mapping_post(job, col_0="", col_4="job_title", source="Fair")

    response = as_member(marketer).post(url("import-detail", job), data)

    content = response.content.decode()
    assert response.status_code == 400
    assert "Map a column to Email: it is how leads are matched." in content
    assert '<option value="job_title" selected>Job title</option>' in content
    assert 'value="Fair"' in content
    job.refresh_from_db()
    assert job.status == ImportStatus.MAPPING


def test_importing_as_opted_in_needs_the_confirmation(marketer, job, as_member):
    client = as_member(marketer)
    data = mapping_post(job, consent_status="opted_in", consent_source="Trade fair sign-up")

    response = client.post(url("import-detail", job), data)

    content = response.content.decode()
    assert response.status_code == 400
    assert 'Importing contacts as "Opted In" without actual consent violates' in content
    assert "Confirm that you hold their consent" in content
    assert '<option value="opted_in" selected>Opted In</option>' in content
    job.refresh_from_db()
    assert (job.status, job.opt_in_confirmed) == (ImportStatus.MAPPING, False)

    response = client.post(url("import-detail", job), {**data, "opt_in_confirmed": "on"})

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.opt_in_confirmed
    assert job.status == ImportStatus.CHECKING  # its dry run waits for the commit


def test_the_warning_shows_when_a_column_maps_to_consent_status(marketer, job, as_member):
    data = mapping_post(job, col_4="consent_status")

    content = as_member(marketer).post(url("import-detail", job), data).content.decode()

    assert '<div id="opt-in-warning">' in content
    assert 'name="opt_in_confirmed" id="id_opt_in_confirmed" required' in content


def test_a_new_custom_field_needs_a_usable_key(marketer, job, as_member):
    data = mapping_post(job, col_4="new", new_4_key="Funktion!", new_4_type="text")

    response = as_member(marketer).post(url("import-detail", job), data)

    assert response.status_code == 400
    assert "is not a usable key for a new field" in response.content.decode()


def test_discard_deletes_the_job_and_its_file(marketer, job, as_member, settings):
    response = as_member(marketer).post(url("import-discard", job))

    assert response.status_code == 302
    assert response.url == IMPORT
    assert not ImportJob.objects.exists()
    assert files_in(settings.IMPORT_DIR) == []


def test_cancel_stops_a_queued_import(marketer, job, as_member):
    job = import_start(checked(job, marketer.user), actor=marketer.user, enqueue=False)
    client = as_member(marketer)
    running_page = client.get(url("import-detail", job)).content.decode()
    assert "You can close this page: the import continues in the background." in running_page
    assert "Cancel import" in running_page

    response = client.post(url("import-cancel", job))

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED
    assert not Lead.objects.exists()


def test_a_finished_import_cannot_be_discarded(marketer, job, as_member):
    job = import_start(checked(job, marketer.user), actor=marketer.user, enqueue=False)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE)

    response = as_member(marketer).post(url("import-discard", job))

    assert response.status_code == 302
    assert response.url == url("import-detail", job)
    assert ImportJob.objects.filter(pk=job.pk).exists()


# Progress -------------------------------------------------------------------------------------


def test_progress_card_is_a_fragment_while_the_status_holds(marketer, job, as_member):
    import_configure(job, actor=marketer.user, mapping=GUESS)
    import_check_start(job, actor=marketer.user, enqueue=False)
    progress = url("import-progress", job) + "?shown=checking"

    response = as_member(marketer).get(progress, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "Checking the file…" in content
    assert 'hx-trigger="every 1s"' in content
    assert "HX-Refresh" not in response


def test_progress_reloads_the_page_when_the_status_changes(marketer, job, as_member):
    job = import_start(checked(job, marketer.user), actor=marketer.user, enqueue=False)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE)

    response = as_member(marketer).get(url("import-progress", job) + "?shown=running", **HTMX)

    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"


def test_the_job_page_polls_its_progress(marketer, job, as_member):
    job = import_start(checked(job, marketer.user), actor=marketer.user, enqueue=False)

    content = as_member(marketer).get(url("import-detail", job)).content.decode()

    assert f'hx-get="{url("import-progress", job)}?shown=queued"' in content
    assert "0 of 3 rows" in content.replace("<strong>", "").replace("</strong>", "")


def test_history_runs_a_bounded_number_of_queries(
    ws, marketer, admin, as_member, django_assert_max_num_queries
):
    for actor in (marketer, admin, marketer):
        import_upload(workspace=ws, actor=actor.user, upload=SimpleUploadedFile("leads.csv", CSV))
    client = as_member(marketer)
    client.get(IMPORT)

    with django_assert_max_num_queries(6):  # session, user, membership, role, count, page
        client.get(IMPORT)


def test_a_large_undo_shows_counts_and_runs_in_the_background(
    marketer, job, as_member, monkeypatch, django_capture_on_commit_callbacks
):
    from contacts.importing import jobs as import_jobs
    from contacts.importing import undo

    monkeypatch.setattr(undo, "UNDO_INLINE_LIMIT", 1)
    job = import_start(checked(job, marketer.user), actor=marketer.user, enqueue=False)
    import_jobs.import_run_batches(job.pk, job.run_token)
    job.refresh_from_db()
    assert job.created == 2
    client = as_member(marketer)

    page = client.get(url("import-undo", job)).content.decode()
    assert "Delete the <strong>2</strong> leads the import created" in page
    assert "runs in the background" in page

    response = client.post(url("import-undo", job))  # queued: the task waits for the commit
    job.refresh_from_db()
    assert response.status_code == 302 and job.status == ImportStatus.UNDOING
    undoing = client.get(url("import-detail", job)).content.decode()
    assert "Undoing the import…" in undoing
    assert "the undo continues in the background" in undoing

    undo.import_undo_run(job.pk, job.run_token)
    job.refresh_from_db()
    assert job.status == ImportStatus.UNDONE
    assert not Lead.objects.exists()
