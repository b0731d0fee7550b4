"""`import_leads FILE --workspace SLUG …` (PRODUCT 13): the web import pipeline from the shell."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts.models import ConsentStatus, ImportJob, ImportStatus, Lead
from tests.contacts.factories import LeadFactory
from tests.contacts.import_helpers import check, configure, csv_bytes, start, upload


@pytest.fixture
def import_dir(settings) -> Path:
    return settings.IMPORT_DIR  # a test's own (tests/conftest.py)


def _stored(import_dir: Path) -> list[Path]:
    return [p for p in import_dir.rglob("*") if p.is_file()] if import_dir.exists() else []


@pytest.fixture
def leads_file(tmp_path) -> Path:
    path = tmp_path / "fair leads.csv"
    path.write_bytes(
        csv_bytes(
            ["Email", "First name", "Title", "Notes"],
            ["old@acme.example", "Olga", "CTO", "Met at booth"],
            ["new@acme.example", "Nia", "CEO", ""],
            ["bad", "X", "", ""],
            ["NEW@acme.example", "Dup", "", ""],
        )
    )
    return path


def _call(*args) -> str:
    out = io.StringIO()
    call_command("import_leads", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_the_command_imports_and_prints_the_summary(ws, leads_file, import_dir):
    LeadFactory(workspace=ws, email="old@acme.example", first_name="Old", job_title="")
    output = _call(leads_file, "--workspace", "acme")
    assert "  Email → email" in output
    assert "  Title → job_title" in output
    assert "Dry run: 4 rows: 1 to create, 1 to update, 0 unchanged, 1 to skip " in output
    assert "(1 duplicate in the file), 1 invalid" in output
    assert "Imported: 1 created, 1 updated, 0 unchanged, 1 skipped, 1 invalid" in output
    job = ImportJob.objects.get(workspace=ws)
    assert f"Import #{job.pk}." in output
    assert (job.status, job.file_name, job.created_by) == (
        ImportStatus.DONE,
        "fair leads.csv",
        None,
    )
    assert Lead.objects.get(email="old@acme.example").job_title == "CTO"
    assert Lead.objects.get(email="new@acme.example").first_name == "Nia"
    assert leads_file.exists()  # the user's own file is left alone
    assert not _stored(import_dir)  # our copy is gone


def test_dry_run_writes_nothing_and_leaves_no_job(ws, leads_file, import_dir):
    output = _call(leads_file, "--workspace", "acme", "--dry-run")
    assert "Dry run: 4 rows: 2 to create, 0 to update" in output
    assert "Imported" not in output
    assert not Lead.objects.exists()
    assert not ImportJob.objects.exists()
    assert not _stored(import_dir)


def test_map_overrides_the_guess(ws, leads_file):
    _call(leads_file, "--workspace", "acme", "--map", "Title=skip", "--map", "4=job_title")
    assert Lead.objects.get(email="old@acme.example").job_title == "Met at booth"
    assert Lead.objects.get(email="new@acme.example").job_title == ""
    assert ImportJob.objects.get().mapping == ["email", "first_name", "", "job_title"]


def test_modes_fill_blanks_and_defaults(ws, owner, rep, leads_file):
    LeadFactory(workspace=ws, email="old@acme.example", first_name="Old", job_title="")
    output = _call(
        leads_file,
        "--workspace",
        "acme",
        "--mode",
        "update",
        "--fill-blanks",
        "--as",
        "ALICE@acme.test",
        "--default",
        "source=Fair",
    )
    assert "Imported: 0 created, 1 updated" in output
    old = Lead.objects.get(email="old@acme.example")
    assert (old.first_name, old.job_title) == ("Old", "CTO")  # filled the blank only
    assert not Lead.objects.filter(email="new@acme.example").exists()
    assert ImportJob.objects.get().created_by == owner.user
    _call(
        leads_file,
        "--workspace",
        "acme",
        "--mode",
        "create",
        "--default",
        "source=Fair",
        "--default",
        "owner=bob@acme.test",
        "--default",
        "tags=fair, 2025",
    )
    new = Lead.objects.get(email="new@acme.example")
    assert (new.source, new.owner) == ("Fair", rep.user)
    assert sorted(new.tags.values_list("name", flat=True)) == ["2025", "fair"]
    assert Lead.objects.get(email="old@acme.example").source == ""  # create only


def test_opting_in_needs_the_confirmation(ws, leads_file):
    args = [
        leads_file,
        "--workspace",
        "acme",
        "--default",
        "consent_status=opted_in",
        "--default",
        "consent_source=Signed forms",
    ]
    with pytest.raises(CommandError, match="CASL"):
        _call(*args)
    assert not ImportJob.objects.exists() and not Lead.objects.exists()
    _call(*args, "--confirm-opt-in")
    new = Lead.objects.get(email="new@acme.example")
    assert (new.consent_status, new.consent_source) == (ConsentStatus.OPTED_IN, "Signed forms")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--workspace", "nope"], "No workspace"),
        (["--workspace", "acme", "--map", "Phone number=phone"], "no column"),
        (["--workspace", "acme", "--map", "Title"], "use COL=FIELD"),
        (["--workspace", "acme", "--map", "Title=shoe_size"], "choose a field"),
        (["--workspace", "acme", "--map", "Email=skip"], "Map a column to Email"),
        (["--workspace", "acme", "--default", "status=unsubscribed"], "cannot mark"),
        (["--workspace", "acme", "--default", "source"], "use KEY=VALUE"),
        (["--workspace", "acme", "--as", "charlie@globex.test"], "not a member"),
    ],
)
def test_bad_arguments_are_command_errors(ws, outsider, leads_file, import_dir, extra, message):
    with pytest.raises(CommandError, match=message):
        _call(leads_file, *extra)
    assert not ImportJob.objects.exists()
    assert not Lead.objects.exists()
    assert not _stored(import_dir)


def test_a_missing_or_unreadable_file_is_a_command_error(ws, tmp_path, import_dir):
    with pytest.raises(CommandError, match="No file"):
        _call(tmp_path / "missing.csv", "--workspace", "acme")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(CommandError):
        _call(broken, "--workspace", "acme")
    assert not ImportJob.objects.exists()
    assert not _stored(import_dir)


def test_xlsx_and_vcard_files(ws, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["E-mail Address", "Given Name"])
    workbook.active.append(["x@acme.example", "Xena"])
    xlsx = tmp_path / "people.xlsx"
    workbook.save(xlsx)
    assert "Imported: 1 created" in _call(xlsx, "--workspace", "acme")
    vcf = tmp_path / "people.vcf"
    vcf.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Young;Yan;;;\r\nFN:Yan Young\r\n"
        "EMAIL:y@acme.example\r\nEND:VCARD\r\n"
    )
    assert "Imported: 1 created" in _call(vcf, "--workspace", "acme")
    assert dict(Lead.objects.values_list("email", "first_name")) == {
        "x@acme.example": "Xena",
        "y@acme.example": "Yan",
    }


def test_resume_imports_requeues_only_stale_runs(ws, marketer, django_capture_on_commit_callbacks):
    actor = marketer.user
    job = configure(upload(ws, actor, csv_bytes(["Email"], ["a@acme.example"])), actor)
    job = start(check(job, actor), actor)  # QUEUED, never picked up by a worker
    fresh = configure(upload(ws, actor, csv_bytes(["Email"], ["b@acme.example"])), actor)
    fresh = start(check(fresh, actor), actor)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_imports", stdout=out)
    assert "1 import(s) resumed" in out.getvalue()
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.created == 1
    assert fresh.status == ImportStatus.QUEUED
