"""Review of Pipeline → Import: inputs and double-clicks that must not break an import."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.importing.sources import MAX_COLUMNS
from contacts.models import ImportJob, ImportStatus

IMPORT = reverse("pipeline:import")


def url(name: str, job: ImportJob) -> str:
    return reverse(f"pipeline:{name}", args=[job.pk])


def test_a_file_as_wide_as_the_column_limit_can_be_mapped(marketer, as_member):
    """Every column has five inputs on the mapping form: a file of MAX_COLUMNS columns must
    not exceed Django's cap on the number of fields of a POST (a bare 400 page)."""
    client = as_member(marketer)
    headers = ["Email", *(f"Extra {i}" for i in range(1, MAX_COLUMNS))]
    row = ["ada@example.com", *("x" for _ in range(1, MAX_COLUMNS))]
    content = (",".join(headers) + "\r\n" + ",".join(row) + "\r\n").encode()
    client.post(IMPORT, {"file": SimpleUploadedFile("wide.csv", content)})
    job = ImportJob.objects.get()
    data = {
        "mode": "upsert",
        "status": "new",
        "consent_status": "unknown",
        "consent_type": "imported",
    }
    for index in range(len(job.headers)):
        data[f"col_{index}"] = "email" if index == 0 else ""
        for name in ("key", "label", "type", "choices"):
            data[f"new_{index}_{name}"] = "text" if name == "type" else ""

    response = client.post(url("import-detail", job), data)

    assert response.status_code == 302, response.content[:500]
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKING


def test_a_vcard_cut_short_opens_its_mapping_page_and_the_check_says_why(marketer, as_member):
    """The upload reads the card's properties; the missing END:VCARD only shows when the rows
    are read (the mapping page's samples): a clear message, not a server error."""
    client = as_member(marketer)
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:ada@example.com\r\nFN:Ada Lovelace\r\n"
    client.post(IMPORT, {"file": SimpleUploadedFile("cut.vcf", card)})
    job = ImportJob.objects.get()

    response = client.get(url("import-detail", job))

    assert response.status_code == 200


def test_an_import_discarded_in_another_tab_sends_the_member_back_to_the_list(
    marketer, as_member, monkeypatch
):
    from contacts.importing import jobs
    from pipeline import import_views

    client = as_member(marketer)
    upload = SimpleUploadedFile("leads.csv", b"Email\r\nada@acme.example\r\n")
    job = jobs.import_upload(workspace=marketer.workspace, actor=marketer.user, upload=upload)
    real_configure = import_views.import_configure

    def discarded_first(job, **kwargs):
        jobs.import_discard(job)  # the other tab wins the race
        return real_configure(job, **kwargs)

    monkeypatch.setattr(import_views, "import_configure", discarded_first)
    page = client.get(url("import-detail", job)).content.decode()
    assert "Check the file" in page
    response = client.post(
        url("import-detail", job),
        {"action": "check", "col_0": "email", "mode": "upsert", "consent_type": "imported"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("pipeline:import")
    assert "it was discarded meanwhile" in response.content.decode()
