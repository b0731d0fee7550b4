"""An import run (PRODUCT I6): atomic checkpointed batches, a killed worker resumed from its
checkpoint, failures, cancelling, a write race, and the uploaded file deleted at the end."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from contacts.importing import jobs, writer
from contacts.importing.undo import import_undo
from contacts.models import (
    Activity,
    ActivityType,
    ConsentEvent,
    ImportBatch,
    ImportJob,
    ImportStatus,
    Lead,
)
from contacts.services import lead_create
from tests.contacts.factories import LeadFactory
from tests.contacts.import_helpers import (
    check,
    configure,
    counts,
    csv_bytes,
    import_file,
    issues,
    run,
    start,
    upload,
)


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch):
    monkeypatch.setattr(jobs, "BATCH_SIZE", 2)


class WorkerKilled(BaseException):
    """What a worker killed mid-batch looks like from inside: not an Exception."""


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def _existing(ws) -> None:
    LeadFactory(workspace=ws, email="old@acme.example", first_name="Old", status="engaged")
    lead_create(
        workspace=ws,
        actor=None,
        email="two@acme.example",
        first_name="Two",
        secondary_emails=["two@home.example"],
    )


# 11 data rows: batches of 2 rows → 6 batches; later batches repeat rows of earlier ones.
CONTENT = csv_bytes(
    ["Email", "First name", "Status", "Tags", "Company"],
    ["a@acme.example", "A", "", "x", "Acme"],  # batch 0
    ["old@acme.example", "Olga", "Qualified", "y", ""],
    ["b@acme.example", "B", "", "", "acme"],  # batch 1
    ["not-an-email", "N", "", "", ""],
    ["c@acme.example", "C", "Unsubscribed", "", "Beta"],  # batch 2: the crash
    ["two@acme.example", "Tove", "", "z", ""],
    ["A@acme.example", "A again", "", "", ""],  # batch 3
    ["two@home.example", "Twice", "", "", ""],
    ["d@acme.example", "D", "", "x; w", ""],  # batch 4
    ["OLD@acme.example", "Old again", "", "", ""],
    ["e@acme.example", "E", "Nonsense", "", ""],  # batch 5
)


def _state(ws) -> dict:
    """What an import left in a workspace, comparable across workspaces."""
    leads = {}
    for lead in Lead.objects.filter(workspace=ws).select_related("company"):
        leads[lead.email] = (
            lead.first_name,
            lead.status,
            lead.email_status,
            lead.consent_status,
            lead.company.name if lead.company else None,
            sorted(lead.tags.values_list("name", flat=True)),
            sorted(lead.activities.values_list("type", flat=True)),
            sorted(lead.consent_events.values_list("status_before", "status", "channel")),
            lead.version,
        )
    return leads


def _crash_on_call(monkeypatch, call: int, error: BaseException):
    """writer.batch_apply writes its batch, then dies on its `call`-th call."""
    real = writer.batch_apply
    calls = []

    def apply(ctx, decisions, *, number):
        calls.append(number)
        outcome = real(ctx, decisions, number=number)
        if len(calls) == call:
            raise error
        return outcome

    monkeypatch.setattr(writer, "batch_apply", apply)
    return calls


def test_a_killed_worker_resumes_from_its_checkpoint(
    ws, other_ws, actor, monkeypatch, django_capture_on_commit_callbacks, tmp_path
):
    _existing(other_ws)
    reference = import_file(other_ws, None, CONTENT)
    assert reference.status == ImportStatus.DONE and reference.batches_done == 6

    _existing(ws)
    before = _state(ws)
    activities = Activity.objects.filter(workspace=ws)
    events = ConsentEvent.objects.filter(workspace=ws)
    rows_before = (activities.count(), events.count())
    job = start(check(configure(upload(ws, actor, CONTENT), actor), actor), actor)
    calls = _crash_on_call(monkeypatch, 3, WorkerKilled())
    with pytest.raises(WorkerKilled):
        jobs.import_run_batches(job.pk, job.run_token)
    assert calls == [0, 1, 2]
    job.refresh_from_db()
    assert (job.status, job.batches_done, job.rows_done) == (ImportStatus.RUNNING, 2, 4)
    assert (job.created, job.updated, job.invalid) == (2, 1, 1)
    assert _files(tmp_path), "the file stays until the import ends"
    # The committed batches stay; the crashed one left nothing behind.
    assert list(ImportBatch.objects.filter(job=job).values_list("number", flat=True)) == [0, 1]
    assert not Lead.objects.filter(workspace=ws, email="c@acme.example").exists()
    assert set(_state(ws)) == {*before, "a@acme.example", "b@acme.example"}
    two = Lead.objects.get(workspace=ws, email="two@acme.example")
    assert (two.first_name, two.version) == ("Two", 1)
    assert not two.activities.exists()
    imported = Activity.objects.filter(workspace=ws, type=ActivityType.IMPORTED)
    assert sorted(a.data["row"] for a in imported) == [2, 3, 4]
    assert ConsentEvent.objects.filter(workspace=ws, channel="import").count() == 2
    # a and b: Imported; old: Imported and Status Changed. Nothing of batch 2's c and two.
    assert (activities.count(), events.count()) == (rows_before[0] + 4, rows_before[1] + 2)
    assert [row for row, _, _ in issues(job)] == [5]

    # Still running, but no heartbeat: not stale yet, then stale and resumed.
    assert not jobs.import_resume_if_stale(job)
    old_token = job.run_token
    ImportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - jobs.STALE_AFTER - timedelta(seconds=1)
    )
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.import_resume_if_stale(job)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.error
    assert calls == [0, 1, 2, 2, 3, 4, 5]  # the resumed run starts at the crashed batch
    assert counts(job) == counts(reference)
    assert issues(job) == issues(reference)
    assert _state(ws) == _state(other_ws)
    assert job.batches_done == 6
    assert not _files(tmp_path)
    # The old worker, back from the dead, finds its token superseded and does nothing.
    jobs.import_run_batches(job.pk, old_token)
    assert _state(ws) == _state(other_ws)


def test_an_error_fails_the_import_and_deletes_its_file(ws, actor, monkeypatch, tmp_path):
    job = start(check(configure(upload(ws, actor, CONTENT), actor), actor), actor)
    _crash_on_call(monkeypatch, 2, RuntimeError("disk full"))
    with pytest.raises(RuntimeError):
        jobs.import_run_batches(job.pk, job.run_token)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.error == "The import stopped: disk full"
    assert job.finished_at is not None
    assert (job.batches_done, job.created) == (1, 2)
    assert set(Lead.objects.filter(workspace=ws).values_list("email", flat=True)) == {
        "a@acme.example",
        "old@acme.example",
    }
    assert job.file_path == "" and not _files(tmp_path)
    # A failed import can be undone: what it committed goes away.
    report = import_undo(job, actor=actor)
    assert report["deleted"] == 2
    assert not Lead.objects.filter(workspace=ws).exists()


def test_cancel_keeps_committed_batches_and_stops_at_the_next(
    ws, actor, monkeypatch, django_capture_on_commit_callbacks, tmp_path
):
    job = start(check(configure(upload(ws, actor, CONTENT), actor), actor), actor)
    real = jobs._batch_commit
    committed = []

    def commit(job_, token, ctx, number, *args):
        real(job_, token, ctx, number, *args)
        committed.append(number)
        if number == 1:  # the user presses Cancel while batch 2 is being read
            jobs.import_cancel(job_, actor=actor)

    monkeypatch.setattr(jobs, "_batch_commit", commit)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.import_run_batches(job.pk, job.run_token)
    assert committed == [0, 1]
    job.refresh_from_db()
    assert (job.status, job.batches_done, job.rows_done) == (ImportStatus.CANCELLED, 2, 4)
    assert set(Lead.objects.filter(workspace=ws).values_list("email", flat=True)) == {
        "a@acme.example",
        "old@acme.example",
        "b@acme.example",
    }
    assert job.file_path == "" and not _files(tmp_path)
    assert jobs.import_cancel(job, actor=actor).status == ImportStatus.CANCELLED  # no-op


def test_a_batch_racing_another_writer_is_planned_again(ws, actor, monkeypatch):
    """Someone adds one of the file's emails between the plan and the insert: the batch rolls
    back and is planned again, and its own rows are not taken for duplicates."""
    real = writer.batch_plan
    raced = []

    def plan(ctx, rows):
        decisions = real(ctx, rows)
        if not raced:
            raced.append(True)
            Lead.objects.create(workspace=ws, email="a@acme.example", first_name="Racer")
        return decisions

    content = csv_bytes(["Email", "First name"], ["a@acme.example", "A"], ["b@acme.example", "B"])
    job = start(check(configure(upload(ws, actor, content), actor), actor), actor)
    monkeypatch.setattr(writer, "batch_plan", plan)
    job = run(job)
    assert raced
    assert job.status == ImportStatus.DONE, job.error
    assert (job.created, job.skipped) == (2, 0)
    assert sorted(Lead.objects.filter(workspace=ws).values_list("email", "first_name")) == [
        ("a@acme.example", "A"),
        ("b@acme.example", "B"),
    ]


def test_the_file_is_kept_until_the_import_ends(ws, actor, settings):
    imports = settings.IMPORT_DIR
    _existing(ws)
    job = upload(ws, actor, CONTENT)
    path = imports / job.file_path
    assert path.is_file() and path.read_bytes() == CONTENT
    job = check(configure(job, actor), actor)
    assert path.is_file()
    job = run(start(job, actor))
    assert job.status == ImportStatus.DONE
    assert job.file_path == "" and not _files(imports)
    assert jobs.import_sample(job) == []
    # What stays is in the database: the report and what undo needs.
    assert job.issues.exists() and job.batches.exists() and job.snapshots.exists()
    import_undo(job, actor=actor)
    assert not _files(imports)
    # what stays: the leads that were there, and the one the file opted out (never undone)
    assert set(Lead.objects.filter(workspace=ws).values_list("email", flat=True)) == {
        "old@acme.example",
        "two@acme.example",
        "c@acme.example",
    }


def test_a_discarded_import_leaves_no_file_and_no_job(ws, actor, tmp_path):
    job = check(configure(upload(ws, actor, CONTENT), actor), actor)
    jobs.import_discard(job)
    assert not ImportJob.objects.filter(pk=job.pk).exists()
    assert not _files(tmp_path)


def test_a_stale_dry_run_starts_again(ws, actor, django_capture_on_commit_callbacks):
    job = configure(upload(ws, actor, CONTENT), actor)
    job = jobs.import_check_start(job, actor=actor, enqueue=False)  # its worker never came
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.import_resume_if_stale(job)
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED
    assert job.dry_run["rows"] == 11
    assert job.dry_run["create"] == 7


def test_progress_reports_rows_and_percent(ws, actor):
    job = run(start(check(configure(upload(ws, actor, CONTENT), actor), actor), actor))
    progress = jobs.import_progress(job)
    assert (progress.rows_done, progress.rows_total, progress.percent) == (11, 11, 100)
    assert progress.reasons == job.skip_reasons == {"Duplicate in the file": 2}


# A large file is read in a second process ----------------------------------------------------


def _mixed_file() -> bytes:
    rows = [["Email", "First name", "Phone", "Country"]]
    for n in range(9):
        rows.append([f"p{n}@acme.example", f"P{n}", f"+49 30 12345{n:02d}", "Germany"])
    rows.append(["not-an-email", "Bad", "", ""])
    rows.append(["p3@acme.example", "Again", "", ""])
    rows.append(["old@acme.example", "Older", "", "XX"])
    return csv_bytes(*rows)


def _outcome(ws, job):
    leads = sorted(Lead.objects.filter(workspace=ws).values_list("email", "first_name", "phone"))
    return counts(job), issues(job), leads


def test_a_large_file_read_by_another_process_imports_the_same(ws, actor, monkeypatch):
    from contacts.importing import reading
    from leadcrm.models import Membership
    from tests.factories import WorkspaceFactory

    _existing(ws)
    in_thread = import_file(ws, actor, _mixed_file())
    other = WorkspaceFactory()
    Membership.objects.create(workspace=other, user=actor, role=actor.memberships.first().role)
    _existing(other)
    monkeypatch.setattr(reading, "PROCESS_ABOVE_BYTES", 0)
    in_process = import_file(other, actor, _mixed_file())

    assert in_process.status == ImportStatus.DONE
    assert _outcome(other, in_process) == _outcome(ws, in_thread)


def test_a_file_the_reading_process_cannot_read_fails_the_import_cleanly(ws, actor, monkeypatch):
    from contacts.importing import reading

    monkeypatch.setattr(reading, "PROCESS_ABOVE_BYTES", 0)
    job = start(check(configure(upload(ws, actor, _mixed_file()), actor), actor), actor)
    # The file no longer is what the check read (here: a CSV read as a workbook).
    ImportJob.objects.filter(pk=job.pk).update(file_info={**job.file_info, "kind": "xlsx"})
    job = run(job)
    assert job.status == ImportStatus.FAILED
    assert "not a readable Excel workbook" in job.error
    assert not Lead.objects.filter(workspace=ws).exists()
