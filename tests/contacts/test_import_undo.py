"""Undoing an import (PRODUCT I7): created leads deleted, updated leads restored field by field,
later changes never lost, opt-outs never undone, and undo refused when it cannot apply."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from contacts.activities import activity_record
from contacts.importing import jobs
from contacts.importing.undo import import_undo, undo_plan, undo_refusal
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    ConsentEvent,
    ConsentStatus,
    EmailStatus,
    ImportStatus,
    Lead,
    LeadStatus,
    Tag,
)
from contacts.services import company_for_name, lead_create, lead_delete, lead_update
from leadcrm.models import AuditLog
from tests.contacts.factories import CustomFieldFactory, LeadFactory
from tests.contacts.import_helpers import (
    check,
    configure,
    csv_bytes,
    import_file,
    lead,
    start,
    tag_names,
    upload,
)


def _kept(report_or_plan) -> dict[str, str]:
    if isinstance(report_or_plan, dict):
        return {k["email"]: k["reason"] for k in report_or_plan["kept_listed"]}
    return {k.email: k.reason for k in report_or_plan.kept}


def test_undo_deletes_the_created_leads_with_everything_they_brought(ws, actor):
    LeadFactory(workspace=ws, email="other@acme.example")
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "First name", "Tags", "Company"],
            ["a@acme.example", "A", "fair; vip", "NewCo"],
            ["b@acme.example", "B", "", ""],
        ),
    )
    ids = list(
        Lead.objects.filter(email__in=["a@acme.example", "b@acme.example"]).values_list(
            "pk", flat=True
        )
    )
    assert len(ids) == 2
    assert Activity.objects.filter(lead_id__in=ids).count() == 2
    assert ConsentEvent.objects.filter(lead_id__in=ids).count() == 2
    plan = undo_plan(job)
    assert sorted(plan.delete_ids) == sorted(ids) and not plan.restore and not plan.kept
    report = import_undo(job, actor=actor)
    assert report == {"deleted": 2, "restored": 0, "kept": 0, "kept_listed": []}
    assert list(Lead.objects.filter(workspace=ws).values_list("email", flat=True)) == [
        "other@acme.example"
    ]
    assert not Activity.objects.filter(lead_id__in=ids).exists()
    assert not ConsentEvent.objects.filter(lead_id__in=ids).exists()
    assert not Lead.tags.through.objects.filter(lead_id__in=ids).exists()
    job.refresh_from_db()
    assert (job.status, job.undone_by, job.undo_report) == (ImportStatus.UNDONE, actor, report)
    assert job.undone_at is not None
    entry = AuditLog.objects.get(action="import.undo")
    assert entry.changes == {"deleted": 2, "restored": 0, "kept": 0}


def test_undo_restores_what_the_import_updated(ws, actor, rep):
    CustomFieldFactory(workspace=ws, key="industry", label="Industry", type="text")
    ann = lead_create(
        workspace=ws,
        actor=actor,
        email="ann@acme.example",
        first_name="Ann",
        job_title="",
        phone="+4930111111",
        company="OldCo",
        owner=rep.user,
        status=LeadStatus.ENGAGED,
        birthday=date(1990, 1, 1),
        attributes={"industry": "SaaS"},
        tags=["vip"],
    )
    from contacts.consent import consent_record

    consent_record(lead=ann, actor=actor, status=ConsentStatus.PENDING, source="Webform")
    bare = LeadFactory(workspace=ws, email="bare@acme.example", first_name="", company=None)
    ann.refresh_from_db()
    before = {f.attname: getattr(ann, f.attname) for f in Lead._meta.concrete_fields}
    job = import_file(
        ws,
        actor,
        csv_bytes(
            [
                "Email",
                "First name",
                "Job title",
                "Company",
                "Owner",
                "Industry",
                "Tags",
                "Consent status",
                "Consent source",
                "Status",
                "Birthday",
                "Secondary emails",
            ],
            [
                "ann@acme.example",
                "Annie",
                "CTO",
                "NewCo",
                "maya@acme.test",
                "Retail",
                "fresh; VIP",
                "Opted In",
                "Double opt-in",
                "Qualified",
                "1991-02-02",
                "ann@home.example",
            ],
            ["bare@acme.example", "Bea", "", "BareCo", "", "", "x", "", "", "", "", ""],
        ),
        mapping={"Industry": "cf.industry"},
        opt_in_confirmed=True,
    )
    assert job.updated == 2
    ann.refresh_from_db()
    assert (ann.first_name, ann.company.name, ann.owner, ann.consent_status) == (
        "Annie",
        "NewCo",
        actor,
        "opted_in",
    )
    assert ann.attributes == {"industry": "Retail"} and tag_names(ann) == ["fresh", "vip"]
    events = ann.consent_events.count()

    report = import_undo(job, actor=actor)
    assert (report["deleted"], report["restored"], report["kept"]) == (0, 2, 0)
    ann.refresh_from_db()
    for name in (
        "first_name",
        "job_title",
        "phone",
        "company_id",
        "owner_id",
        "status",
        "birthday",
        "attributes",
        "secondary_emails",
        "consent_status",
        "consent_type",
        "consent_source",
        "consent_proof",
        "consent_captured_at",
        "gdpr_basis",
        "search_text",
    ):
        assert getattr(ann, name) == before[name], name
    assert tag_names(ann) == ["vip"]
    assert ann.version > before["version"]
    # the ledger only grows: the undo appends the restoring event
    assert ann.consent_events.count() == events + 1
    undo_event = ann.consent_events.order_by("-id").first()
    assert (undo_event.status_before, undo_event.status, undo_event.channel) == (
        "opted_in",
        "pending",
        Channel.IMPORT,
    )
    assert undo_event.source == "Undo of the import of leads.csv"
    assert not ann.activities.filter(type=ActivityType.IMPORTED).exists()
    bare.refresh_from_db()
    assert (bare.first_name, bare.company_id, tag_names(bare)) == ("", None, [])
    # the companies and tags the import created stay (other leads may use them by now)
    assert Tag.objects.filter(workspace=ws, name="fresh").exists()
    assert company_for_name(workspace=ws, name="NewCo") is not None


def test_leads_changed_after_the_import_are_kept(ws, actor):
    changed = LeadFactory(workspace=ws, email="changed@acme.example", job_title="")
    trashed = LeadFactory(workspace=ws, email="trashed@acme.example", job_title="")
    called = LeadFactory(workspace=ws, email="called@acme.example", job_title="")
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Job title"],
            ["new-edited@acme.example", "CTO"],
            ["new-called@acme.example", "CTO"],
            ["new-trashed@acme.example", "CTO"],
            ["new-untouched@acme.example", "CTO"],
            ["changed@acme.example", "CTO"],
            ["trashed@acme.example", "CTO"],
            ["called@acme.example", "CTO"],
        ),
    )
    assert (job.created, job.updated) == (4, 3)
    lead_update(lead=lead(ws, "new-edited@acme.example"), actor=actor, first_name="Edith")
    activity_record(lead=lead(ws, "new-called@acme.example"), type=ActivityType.CALL, actor=actor)
    lead_delete(lead=lead(ws, "new-trashed@acme.example"), actor=actor)
    lead_update(lead=changed, actor=actor, job_title="CEO")
    lead_delete(lead=trashed, actor=actor)
    activity_record(lead=called, type=ActivityType.CALL, actor=actor)

    expected = {
        "new-edited@acme.example": "edited after the import",
        "new-called@acme.example": "has activities logged after the import",
        "new-trashed@acme.example": "moved to the trash after the import",
        "changed@acme.example": "changed after the import (job_title)",
        "trashed@acme.example": "moved to the trash after the import",
    }
    plan = undo_plan(job)
    assert _kept(plan) == expected and plan.kept_count == 5
    report = import_undo(job, actor=actor)
    assert (report["deleted"], report["restored"], report["kept"]) == (1, 1, 5)
    assert _kept(report) == expected
    assert not Lead.objects.filter(email="new-untouched@acme.example").exists()
    assert lead(ws, "new-edited@acme.example").first_name == "Edith"
    assert lead(ws, "new-called@acme.example").activities.filter(type="call").exists()
    changed.refresh_from_db()
    assert changed.job_title == "CEO"
    trashed.refresh_from_db()
    assert trashed.job_title == "CTO" and trashed.is_deleted
    # an activity logged on an updated lead loses nothing by the restore: it is restored
    called.refresh_from_db()
    assert called.job_title == "" and called.activities.filter(type="call").exists()


def test_a_later_import_counts_as_a_later_change(ws, actor):
    first = import_file(ws, actor, csv_bytes(["Email", "City"], ["a@acme.example", "Oslo"]))
    import_file(ws, actor, csv_bytes(["Email", "City"], ["a@acme.example", "Bergen"]))
    report = import_undo(first, actor=actor)
    assert report["deleted"] == 0 and _kept(report) == {"a@acme.example": "edited after the import"}
    assert lead(ws, "a@acme.example").city == "Bergen"


def test_an_opt_out_brought_by_the_import_stays_after_undo(ws, actor):
    fan = LeadFactory(
        workspace=ws,
        email="fan@acme.example",
        first_name="Fan",
        status=LeadStatus.ENGAGED,
        consent_status=ConsentStatus.OPTED_IN,
    )
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "First name", "Status"],
            ["fan@acme.example", "Fanny", "Unsubscribed"],
            ["quit@acme.example", "Quinn", "Unsubscribed"],
        ),
    )
    assert (job.created, job.updated) == (1, 1)
    report = import_undo(job, actor=actor)
    fan.refresh_from_db()
    assert fan.first_name == "Fan"  # the other fields are restored
    assert (fan.status, fan.email_status, fan.consent_status) == (
        LeadStatus.UNSUBSCRIBED,
        EmailStatus.UNSUBSCRIBED,
        ConsentStatus.OPTED_OUT,
    )
    # A lead the import created already opted out: deleting it would forget the opt-out.
    quit_ = lead(ws, "quit@acme.example")
    assert quit_.consent_status == ConsentStatus.OPTED_OUT
    assert quit_.status == LeadStatus.UNSUBSCRIBED
    assert "opted out" in _kept(report)["quit@acme.example"]
    assert report["deleted"] == 0


def test_undo_twice_is_refused(ws, actor):
    job = import_file(ws, actor, csv_bytes(["Email"], ["a@acme.example"]))
    assert undo_refusal(job) == ""
    import_undo(job, actor=actor)
    job.refresh_from_db()
    assert undo_refusal(job) == "This import has already been undone."
    with pytest.raises(ValidationError, match="already been undone"):
        import_undo(job, actor=actor)
    assert AuditLog.objects.filter(action="import.undo").count() == 1


@pytest.mark.parametrize("status", ["mapping", "checked", "queued", "running"])
def test_undo_of_an_import_that_has_not_ended_is_refused(ws, actor, status):
    job = check(configure(upload(ws, actor, csv_bytes(["Email"], ["a@acme.example"])), actor))
    if status in ("queued", "running"):
        job = start(job, actor)
        job.status = status
        job.save(update_fields=["status"])
    else:
        job.status = status
        job.save(update_fields=["status"])
    with pytest.raises(ValidationError, match="once it has ended"):
        import_undo(job, actor=actor)
    job.refresh_from_db()
    assert job.status == status


def test_undo_of_a_cancelled_import_removes_what_it_committed(ws, actor, monkeypatch):
    monkeypatch.setattr(jobs, "BATCH_SIZE", 1)
    job = start(
        check(
            configure(
                upload(ws, actor, csv_bytes(["Email"], ["a@acme.example"], ["b@acme.example"])),
                actor,
            ),
            actor,
        ),
        actor,
    )
    real = jobs._batch_commit

    def commit(job_, token, ctx, number, *args):
        real(job_, token, ctx, number, *args)
        jobs.import_cancel(job_, actor=actor)

    monkeypatch.setattr(jobs, "_batch_commit", commit)
    jobs.import_run_batches(job.pk, job.run_token)
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED and job.created == 1
    assert import_undo(job, actor=actor)["deleted"] == 1
    assert not Lead.objects.filter(workspace=ws).exists()


def test_undo_never_lifts_do_not_contact_the_import_set(ws, actor):
    quiet = LeadFactory(workspace=ws, email="quiet@acme.example", first_name="Quiet")
    job = import_file(
        ws,
        actor,
        csv_bytes(["Email", "First name", "Do not contact"], ["quiet@acme.example", "Q", "Yes"]),
    )
    assert job.updated == 1
    import_undo(job, actor=actor)
    quiet.refresh_from_db()
    assert quiet.first_name == "Quiet"  # restored
    assert quiet.do_not_contact  # honoured like an opt-out


def test_a_large_undo_runs_in_the_background(
    ws, actor, monkeypatch, django_capture_on_commit_callbacks
):
    from contacts.importing import undo

    monkeypatch.setattr(undo, "UNDO_INLINE_LIMIT", 1)
    job = import_file(ws, actor, csv_bytes(["Email"], ["one@acme.example"], ["two@acme.example"]))
    with django_capture_on_commit_callbacks(execute=True):
        assert undo.import_undo_start(job, actor=actor) is None  # queued, not done here
    job.refresh_from_db()
    assert job.status == ImportStatus.UNDONE and job.undone_by == actor
    assert job.undo_report["deleted"] == 2
    assert not Lead.objects.filter(workspace=ws).exists()


def test_a_failed_background_undo_changes_nothing_and_says_why(
    ws, actor, monkeypatch, django_capture_on_commit_callbacks
):
    from contacts.importing import undo

    monkeypatch.setattr(undo, "UNDO_INLINE_LIMIT", 1)
    job = import_file(ws, actor, csv_bytes(["Email"], ["one@acme.example"], ["two@acme.example"]))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(undo, "_restore", broken)
    monkeypatch.setattr(undo.Lead.objects, "filter", broken)
    with django_capture_on_commit_callbacks(execute=True):  # the task fails (and is logged)
        undo.import_undo_start(job, actor=actor)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert "Undo failed: disk full" in job.error
    monkeypatch.undo()
    assert Lead.objects.filter(workspace=ws).count() == 2
