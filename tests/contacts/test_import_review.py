"""Review of the import pipeline: updates that must not lose data, double-clicks and races."""

import pytest
from django.core.exceptions import ValidationError

from contacts.importing import jobs, undo
from contacts.models import ImportJob, ImportStatus
from tests.contacts.factories import LeadFactory
from tests.contacts.import_helpers import check, configure, csv_bytes, import_file, lead, upload


def test_a_one_word_full_name_does_not_clear_the_last_name(ws, actor):
    LeadFactory(workspace=ws, email="ada@example.com", first_name="Ada", last_name="Lovelace")

    job = import_file(
        ws,
        actor,
        csv_bytes(["Email", "Full name"], ["ada@example.com", "Augusta"]),
        mapping={"Full name": "full_name"},
    )

    assert job.status == ImportStatus.DONE
    ada = lead(ws, "ada@example.com")
    assert (ada.first_name, ada.last_name) == ("Augusta", "Lovelace")


def test_an_import_being_undone_cannot_be_cancelled(ws, actor, monkeypatch):
    job = import_file(ws, actor, csv_bytes(["Email"], ["ada@example.com"]))
    monkeypatch.setattr(undo, "UNDO_INLINE_LIMIT", 0)  # undo in the background
    undo.import_undo_start(job, actor=actor)  # the task waits for the commit
    job.refresh_from_db()
    assert job.status == ImportStatus.UNDOING

    with pytest.raises(ValidationError):
        jobs.import_cancel(job, actor=actor)

    job.refresh_from_db()
    assert job.status == ImportStatus.UNDOING


def test_discard_refuses_an_import_started_since_the_page_loaded(ws, actor):
    job = check(configure(upload(ws, actor, csv_bytes(["Email"], ["ada@example.com"]))))
    stale = ImportJob.objects.get(pk=job.pk)  # as the discard request loaded it
    jobs.import_start(job, actor=actor, enqueue=False)  # the other tab's click

    with pytest.raises(ValidationError):
        jobs.import_discard(stale)

    assert ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).exists()


class WorkerKilled(BaseException):
    """A worker killed mid-batch, as seen from inside."""


def test_a_resumed_run_keeps_its_heartbeat_while_it_replans_committed_batches(
    ws, actor, monkeypatch
):
    """Replanning the committed batches of a long file takes time; without a heartbeat the
    next poll would take the resumed run for dead too, and start it over, again and again."""
    from datetime import timedelta

    from django.utils import timezone

    from contacts.importing import writer
    from tests.contacts.import_helpers import start

    monkeypatch.setattr(jobs, "BATCH_SIZE", 1)
    rows = [[f"p{i}@example.com"] for i in range(5)]
    job = start(check(configure(upload(ws, actor, csv_bytes(["Email"], *rows)))))
    real_apply = writer.batch_apply

    def apply_then_die(ctx, decisions, *, number):
        if number == 4:
            raise WorkerKilled
        return real_apply(ctx, decisions, number=number)

    monkeypatch.setattr(writer, "batch_apply", apply_then_die)
    with pytest.raises(WorkerKilled):
        jobs.import_run_batches(job.pk, job.run_token)
    monkeypatch.setattr(writer, "batch_apply", real_apply)
    job.refresh_from_db()
    assert job.batches_done == 4

    clock = [timezone.now()]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    real_plan = writer.batch_plan
    resumed_meanwhile = []

    def slow_plan(ctx, valid):
        clock[0] += timedelta(minutes=1)  # each replanned batch takes a minute
        resumed_meanwhile.append(jobs.import_resume_if_stale(ImportJob.objects.get(pk=job.pk)))
        return real_plan(ctx, valid)

    monkeypatch.setattr(writer, "batch_plan", slow_plan)
    jobs.import_run_batches(job.pk, job.run_token)

    job.refresh_from_db()
    assert not any(resumed_meanwhile)
    assert (job.status, job.created) == (ImportStatus.DONE, 5)


def test_undo_does_not_give_a_lead_back_to_a_member_who_has_left(ws, actor, rep, owner):
    """The import moved Bob's lead to Maya; Bob left the workspace since (his leads went to
    the owner, not this one: it was Maya's). Undo must not make a non-member its owner."""
    from leadcrm.services import member_remove

    LeadFactory(workspace=ws, email="ann@example.com", owner=rep.user)
    job = import_file(
        ws,
        actor,
        csv_bytes(["Email", "Owner"], ["ann@example.com", "maya@acme.test"]),
        mapping={"Owner": "owner"},
    )
    assert lead(ws, "ann@example.com").owner == actor
    member_remove(actor=owner.user, membership=rep, reassign_to=owner)

    undo.import_undo(job, actor=actor)

    assert lead(ws, "ann@example.com").owner == actor
