"""The import pipeline from upload to committed rows (PRODUCT I2–I5, L8, C1–C4): modes and
matching, duplicates in the file, protection of opt-outs and suppressed emails, consent,
activities, invalid rows and the error report, defaults, new custom fields, the dry run, and
XLSX and vCard files."""

import csv
import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from contacts.consent import lead_unsubscribe, suppression_add
from contacts.export import csv_stream, lead_column_keys, lead_columns, leads_export_rows
from contacts.importing import jobs
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    Company,
    ConsentEvent,
    ConsentStatus,
    ConsentType,
    CustomField,
    EmailStatus,
    ImportBatch,
    ImportIssue,
    ImportSnapshot,
    ImportStatus,
    Lead,
    LeadStatus,
    SuppressionReason,
)
from contacts.services import lead_create, lead_delete
from leadcrm.models import AuditLog
from tests.contacts.factories import CustomFieldFactory, LeadFactory
from tests.contacts.import_helpers import (
    check,
    configure,
    counts,
    csv_bytes,
    dry_counts,
    dry_run,
    import_file,
    issues,
    lead,
    run,
    start,
    tag_names,
    upload,
)
from tests.factories import WorkspaceFactory

HEADER = ["Email", "First name", "Last name", "Job title", "City"]


# Modes and matching (I5) ----------------------------------------------------------------------


def test_create_only_skips_existing_emails(ws, actor):
    LeadFactory(workspace=ws, email="ann@acme.example", first_name="Ann", job_title="")
    job = import_file(
        ws,
        actor,
        csv_bytes(HEADER, ["ANN@Acme.example", "Annie", "", "CTO", ""], ["new@acme.example", "N"]),
        mode="create",
    )
    assert job.status == ImportStatus.DONE
    assert (job.created, job.updated, job.skipped) == (1, 0, 1)
    assert job.skip_reasons == {"Already exists": 1}
    assert issues(job) == [(2, "", "Already exists")]
    ann = lead(ws, "ann@acme.example")
    assert (ann.first_name, ann.job_title, ann.version) == ("Ann", "", 1)
    assert lead(ws, "new@acme.example").first_name == "N"


def test_update_only_skips_unknown_emails(ws, actor):
    LeadFactory(workspace=ws, email="ann@acme.example", first_name="Ann")
    job = import_file(
        ws,
        actor,
        csv_bytes(HEADER, ["ann@acme.example", "Annie"], ["nobody@acme.example", "Nobody"]),
        mode="update",
    )
    assert (job.created, job.updated, job.skipped) == (0, 1, 1)
    assert issues(job) == [(3, "", "No lead with this email")]
    assert lead(ws, "ann@acme.example").first_name == "Annie"
    assert not Lead.objects.filter(email="nobody@acme.example").exists()


def test_upsert_creates_and_updates(ws, actor):
    LeadFactory(workspace=ws, email="ann@acme.example", first_name="Ann", city="")
    job = import_file(
        ws,
        actor,
        csv_bytes(
            HEADER,
            ["ann@acme.example", "", "", "", "Berlin"],
            ["new@acme.example", "Nia", "New", "", "Paris"],
        ),
    )
    assert (job.created, job.updated, job.unchanged, job.skipped, job.invalid) == (1, 1, 0, 0, 0)
    ann = lead(ws, "ann@acme.example")
    assert (ann.first_name, ann.city, ann.version) == ("Ann", "Berlin", 2)
    new = lead(ws, "new@acme.example")
    assert (new.first_name, new.last_name, new.city, new.status) == ("Nia", "New", "Paris", "new")
    assert new.domain == "acme.example"
    actions = list(AuditLog.objects.filter(workspace=ws).values_list("action", flat=True))
    assert {"import.upload", "import.start", "lead.import", "import.finish"} <= set(actions)
    entry = AuditLog.objects.get(workspace=ws, action="lead.import")
    assert sorted(entry.changes["lead_ids"]) == sorted([ann.pk, new.pk])


def test_primary_email_matches_case_insensitively(ws, actor):
    stored = LeadFactory(workspace=ws, email="Ann.Lee@Acme.example", first_name="Ann")
    job = import_file(ws, actor, csv_bytes(HEADER, ["ann.lee@ACME.EXAMPLE", "Annie"]))
    assert (job.created, job.updated) == (0, 1)
    stored.refresh_from_db()
    assert stored.first_name == "Annie"
    assert Lead.objects.filter(workspace=ws).count() == 1


def test_secondary_email_match_updates_that_lead(ws, actor):
    ann = lead_create(
        workspace=ws,
        actor=actor,
        email="ann@acme.example",
        first_name="Ann",
        secondary_emails=["Ann.Private@Mail.example"],
    )
    job = import_file(
        ws, actor, csv_bytes(HEADER, ["ANN.PRIVATE@mail.example", "Annie", "", "CEO"])
    )
    assert (job.created, job.updated) == (0, 1)
    ann.refresh_from_db()
    assert (ann.email, ann.first_name, ann.job_title) == ("ann@acme.example", "Annie", "CEO")
    assert Lead.objects.filter(workspace=ws).count() == 1


def test_second_row_reaching_the_same_lead_is_skipped(ws, actor):
    ann = lead_create(
        workspace=ws,
        actor=actor,
        email="ann@acme.example",
        first_name="Ann",
        secondary_emails=["ann@home.example"],
    )
    job = import_file(
        ws,
        actor,
        csv_bytes(HEADER, ["ann@acme.example", "", "", "CTO"], ["Ann@Home.example", "", "", "CEO"]),
    )
    assert (job.updated, job.skipped) == (1, 1)
    assert issues(job) == [(3, "", "Same lead as an earlier row: row 2 already matched this lead")]
    ann.refresh_from_db()
    assert ann.job_title == "CTO"


@pytest.mark.parametrize("mode", ["create", "upsert", "update"])
def test_email_in_the_trash_is_skipped(ws, actor, mode):
    trashed = LeadFactory(workspace=ws, email="gone@acme.example", first_name="Gone")
    lead_delete(lead=trashed, actor=actor)
    job = import_file(ws, actor, csv_bytes(HEADER, ["GONE@acme.example", "Back"]), mode=mode)
    assert job.skip_reasons == {"In the trash": 1}
    assert issues(job)[0][2].startswith("In the trash")
    assert Lead.objects.filter(workspace=ws).count() == 1
    trashed.refresh_from_db()
    assert trashed.is_deleted and trashed.first_name == "Gone"


def test_fill_blanks_only_fills_empty_values(ws, actor):
    CustomFieldFactory(workspace=ws, key="industry", label="Industry", type="text")
    CustomFieldFactory(workspace=ws, key="region_code", label="Region code", type="text")
    full = LeadFactory(
        workspace=ws,
        email="full@acme.example",
        first_name="Fay",
        job_title="CTO",
        attributes={"industry": "SaaS", "region_code": "EU"},
        consent_status=ConsentStatus.PENDING,
    )
    empty = LeadFactory(
        workspace=ws, email="empty@acme.example", first_name="", job_title="", attributes={}
    )
    header = ["Email", "First name", "Job title", "Industry", "Region code", "Consent status"]
    job = import_file(
        ws,
        actor,
        csv_bytes(
            header,
            ["full@acme.example", "Fiona", "CEO", "Retail", "US", "Opted In"],
            ["empty@acme.example", "Emma", "CFO", "Retail", "US", "Opted In"],
        ),
        mapping={"Industry": "cf.industry", "Region code": "cf.region_code"},
        fill_blanks=True,
        defaults={"consent_source": "Webinar sign-up sheet"},
        opt_in_confirmed=True,
    )
    assert (job.updated, job.unchanged) == (1, 1)
    full.refresh_from_db()
    assert (full.first_name, full.job_title) == ("Fay", "CTO")
    assert full.attributes == {"industry": "SaaS", "region_code": "EU"}
    assert full.consent_status == ConsentStatus.PENDING
    assert full.version == 1
    assert not full.consent_events.exists()
    empty.refresh_from_db()
    assert (empty.first_name, empty.job_title) == ("Emma", "CFO")
    assert empty.attributes == {"industry": "Retail", "region_code": "US"}
    assert empty.consent_status == ConsentStatus.OPTED_IN
    assert empty.consent_source == "Webinar sign-up sheet"
    event = empty.consent_events.get()
    assert (event.status_before, event.status, event.channel) == ("unknown", "opted_in", "import")


def test_fill_blanks_fills_one_empty_custom_value_and_keeps_the_other(ws, actor):
    CustomFieldFactory(workspace=ws, key="industry", label="Industry", type="text")
    CustomFieldFactory(workspace=ws, key="seats", label="Seats", type="number")
    half = LeadFactory(workspace=ws, email="half@acme.example", attributes={"industry": "SaaS"})
    import_file(
        ws,
        actor,
        csv_bytes(["Email", "Industry", "Seats"], ["half@acme.example", "Retail", "12"]),
        mapping={"Industry": "cf.industry", "Seats": "cf.seats"},
        fill_blanks=True,
    )
    half.refresh_from_db()
    assert half.attributes == {"industry": "SaaS", "seats": 12}


def test_blank_cells_never_clear_a_value(ws, actor):
    CustomFieldFactory(workspace=ws, key="industry", label="Industry", type="text")
    kept = LeadFactory(
        workspace=ws,
        email="kept@acme.example",
        first_name="Kim",
        last_name="Kept",
        job_title="CTO",
        city="Oslo",
        attributes={"industry": "SaaS"},
    )
    job = import_file(
        ws,
        actor,
        csv_bytes([*HEADER, "Industry", "Company", "Tags"], ["kept@acme.example", "", " ", "", ""]),
        mapping={"Industry": "cf.industry"},
    )
    assert (job.updated, job.unchanged) == (0, 1)
    kept.refresh_from_db()
    assert (kept.first_name, kept.last_name, kept.job_title, kept.city) == (
        "Kim",
        "Kept",
        "CTO",
        "Oslo",
    )
    assert kept.attributes == {"industry": "SaaS"}
    assert kept.version == 1


def test_tags_are_only_added(ws, actor):
    tagged = lead_create(workspace=ws, actor=actor, email="tag@acme.example", tags=["VIP", "old"])
    job = import_file(
        ws,
        actor,
        csv_bytes(["Email", "Tags"], ["tag@acme.example", "vip; fresh"], ["two@acme.example", ""]),
    )
    assert (job.created, job.updated) == (1, 1)
    assert tag_names(tagged) == ["VIP", "fresh", "old"]
    again = import_file(ws, actor, csv_bytes(["Email", "Tags"], ["tag@acme.example", "FRESH"]))
    assert (again.updated, again.unchanged) == (0, 1)
    assert tag_names(tagged) == ["VIP", "fresh", "old"]


def test_companies_are_found_or_created_case_insensitively(ws, actor, other_ws):
    """Regression: a company name with a non-ASCII capital ("Ökotech") failed the import on
    SQLite, whose lower() only folds ASCII."""
    apfel = Company.objects.create(workspace=ws, name="Äpfel AG")
    acme = Company.objects.create(workspace=ws, name="Acme Corp")
    theirs = Company.objects.create(workspace=other_ws, name="Ökotech GmbH")
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Company"],
            ["a@acme.example", "Ökotech GmbH"],
            ["b@acme.example", "ÖKOTECH GMBH"],
            ["c@acme.example", "Äpfel AG"],
            ["d@acme.example", "ACME CORP"],
            ["e@acme.example", "Neue Straße AG"],
        ),
    )
    assert (job.status, job.created) == (ImportStatus.DONE, 5), job.error
    company = dict(Lead.objects.values_list("email", "company"))
    assert company["a@acme.example"] == company["b@acme.example"] != theirs.pk
    assert company["c@acme.example"] == apfel.pk
    assert company["d@acme.example"] == acme.pk
    assert Company.objects.filter(workspace=ws).count() == 4
    assert lead(ws, "a@acme.example").company.name.casefold() == "ökotech gmbh"


def test_naming_the_current_company_changes_nothing(ws, actor):
    """Regression: a row naming the lead's own company counted as an update (version bumped,
    an "Updated" activity, an empty undo snapshot) though nothing changed."""
    acme = Company.objects.create(workspace=ws, name="Acme Corp")
    same = LeadFactory(workspace=ws, email="same@acme.example", company=acme)
    moved = LeadFactory(workspace=ws, email="moved@acme.example", company=acme)
    content = csv_bytes(
        ["Email", "Company"], ["same@acme.example", "ACME corp"], ["moved@acme.example", "Beta"]
    )
    checked = dry_run(ws, actor, content)
    job = import_file(ws, actor, content)
    assert (job.updated, job.unchanged) == (1, 1)
    assert dry_counts(checked) == counts(job)
    same.refresh_from_db()
    assert (same.company_id, same.version) == (acme.pk, 1)
    assert not same.activities.exists()
    moved.refresh_from_db()
    assert moved.company.name == "Beta" and moved.version == 2
    assert list(job.snapshots.values_list("lead_id", "before")) == [
        (moved.pk, {"company_id": acme.pk})
    ]


def test_other_workspaces_are_never_matched(ws, actor, other_ws):
    theirs = LeadFactory(workspace=other_ws, email="shared@acme.example", first_name="Theirs")
    job = import_file(ws, actor, csv_bytes(HEADER, ["shared@acme.example", "Ours"]))
    assert (job.created, job.updated) == (1, 0)
    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs"
    assert lead(ws, "shared@acme.example").first_name == "Ours"


# Duplicates inside the file -------------------------------------------------------------------


def test_first_valid_row_of_an_email_wins(ws, actor):
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "First name", "Country"],
            ["dup@acme.example", "Invalid", "Narnia"],
            ["DUP@acme.example", "Second", "DE"],
            ["dup@acme.example", "Third", "FR"],
        ),
    )
    assert (job.created, job.skipped, job.invalid) == (1, 1, 1)
    dup = lead(ws, "dup@acme.example")
    assert (dup.first_name, dup.country) == ("Second", "DE")
    report = issues(job)
    assert report[0][:2] == (2, "Country")
    assert report[1] == (4, "", "Duplicate in the file: same email as row 3")


def test_duplicates_across_batches(ws, actor, monkeypatch):
    monkeypatch.setattr(jobs, "BATCH_SIZE", 2)
    rows = [
        ["a@acme.example", "A1"],
        ["b@acme.example", "B1"],
        ["c@acme.example", "C1"],
        ["A@acme.example", "A2"],
        ["d@acme.example", "D1"],
        ["b@ACME.example", "B2"],
        ["c@acme.example", "C2"],
    ]
    content = csv_bytes(["Email", "First name"], *rows)
    checked = dry_run(ws, actor, content)
    job = import_file(ws, actor, content)
    assert job.batches_done == 4
    assert (job.created, job.skipped) == (4, 3)
    assert dry_counts(checked) == counts(job)
    expected = [
        (5, "", "Duplicate in the file: same email as row 2"),
        (7, "", "Duplicate in the file: same email as row 3"),
        (8, "", "Duplicate in the file: same email as row 4"),
    ]
    assert issues(job) == expected
    assert issues(checked, dry_run=True) == expected
    names = dict(Lead.objects.filter(workspace=ws).values_list("email", "first_name"))
    assert names == {
        "a@acme.example": "A1",
        "b@acme.example": "B1",
        "c@acme.example": "C1",
        "d@acme.example": "D1",
    }


# Protection (I5, C4, PRODUCT 2 "Unsubscribing") -----------------------------------------------


@pytest.mark.parametrize("mode", ["create", "upsert", "update"])
def test_suppressed_emails_are_never_imported(ws, actor, mode):
    suppression_add(workspace=ws, email="Gone@acme.example", reason="manual", actor=actor)
    # A lead may still exist with a suppressed address: an import never touches it either.
    kept = LeadFactory(workspace=ws, email="kept@acme.example", first_name="Kept")
    suppression_add(workspace=ws, email="kept@acme.example", reason="manual", actor=actor)
    job = import_file(
        ws,
        actor,
        csv_bytes(HEADER, ["gone@ACME.example", "Back"], ["KEPT@acme.example", "Changed"]),
        mode=mode,
    )
    assert job.skip_reasons == {"Suppressed": 2}
    assert (job.created, job.updated) == (0, 0)
    assert not Lead.objects.filter(email__iexact="gone@acme.example").exists()
    kept.refresh_from_db()
    assert (kept.first_name, kept.version) == ("Kept", 1)


@pytest.mark.parametrize(
    "opted_out",
    [
        {"status": LeadStatus.UNSUBSCRIBED},
        {"email_status": EmailStatus.UNSUBSCRIBED},
        {"consent_status": ConsentStatus.OPTED_OUT},
    ],
    ids=["status", "email_status", "consent"],
)
@pytest.mark.parametrize("mode", ["upsert", "update"])
def test_unsubscribed_leads_are_never_changed(ws, actor, opted_out, mode):
    gone = LeadFactory(workspace=ws, email="out@acme.example", first_name="Out", **opted_out)
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "First name", "Status", "Email status", "Consent status", "Consent source"],
            ["out@acme.example", "Back", "New", "Active", "Opted In", "Fair"],
        ),
        mode=mode,
        opt_in_confirmed=True,
    )
    assert job.skip_reasons == {"Unsubscribed": 1}
    gone.refresh_from_db()
    assert gone.first_name == "Out" and gone.version == 1
    for name, value in opted_out.items():
        assert getattr(gone, name) == value
    assert not gone.consent_events.exists()
    assert not gone.activities.exists()


def test_a_lead_unsubscribed_through_the_service_stays_unsubscribed(ws, actor):
    out = LeadFactory(workspace=ws, email="out@acme.example", status=LeadStatus.ENGAGED)
    lead_unsubscribe(lead=out, actor=actor, channel=Channel.LINK)
    events = out.consent_events.count()
    job = import_file(
        ws,
        actor,
        csv_bytes(["Email", "Status", "Tags"], ["out@acme.example", "Qualified", "hot"]),
    )
    assert job.skip_reasons == {"Unsubscribed": 1}
    out.refresh_from_db()
    assert (out.status, out.email_status, out.consent_status) == (
        "unsubscribed",
        "unsubscribed",
        "opted_out",
    )
    assert out.consent_events.count() == events
    assert tag_names(out) == []


def test_a_row_saying_unsubscribed_unsubscribes(ws, actor):
    by_status = LeadFactory(workspace=ws, email="s@acme.example", status=LeadStatus.ENGAGED)
    by_consent = LeadFactory(
        workspace=ws, email="c@acme.example", consent_status=ConsentStatus.OPTED_IN
    )
    customer = LeadFactory(workspace=ws, email="won@acme.example", status=LeadStatus.CONVERTED)
    header = ["Email", "First name", "Status", "Email status", "Consent status"]
    job = import_file(
        ws,
        actor,
        csv_bytes(
            header,
            ["s@acme.example", "", "Unsubscribed", "", ""],
            ["c@acme.example", "", "", "", "Opted Out"],
            ["won@acme.example", "", "", "Unsubscribed", ""],
            ["new@acme.example", "Nina", "Unsubscribed", "", ""],
        ),
        opt_in_confirmed=True,
    )
    assert (job.created, job.updated, job.skipped) == (1, 3, 0)
    new = lead(ws, "new@acme.example")
    for lead_ in (by_status, by_consent, new):
        lead_.refresh_from_db()
        assert lead_.status == LeadStatus.UNSUBSCRIBED
        assert lead_.email_status == EmailStatus.UNSUBSCRIBED
        assert lead_.consent_status == ConsentStatus.OPTED_OUT
    customer.refresh_from_db()
    assert customer.status == LeadStatus.CONVERTED  # a customer stays a customer
    assert customer.email_status == EmailStatus.UNSUBSCRIBED
    assert customer.consent_status == ConsentStatus.OPTED_OUT
    for lead_ in (by_status, by_consent, customer, new):
        opt_out = lead_.consent_events.get(status=ConsentStatus.OPTED_OUT)
        assert opt_out.channel == Channel.IMPORT
        assert opt_out.source == "Import of leads.csv"
        assert lead_.activities.filter(type=ActivityType.UNSUBSCRIBED).count() == 1
    by_status_change = by_status.activities.get(type=ActivityType.STATUS_CHANGED)
    assert by_status_change.data == {"from": "engaged", "to": "unsubscribed"}
    # the new lead: its creation event, then the opt-out
    assert list(new.consent_events.order_by("id").values_list("status_before", "status")) == [
        ("unknown", "unknown"),
        ("unknown", "opted_out"),
    ]


def test_do_not_contact_can_be_set_never_lifted(ws, actor):
    blocked = LeadFactory(workspace=ws, email="blocked@acme.example", do_not_contact=True)
    free = LeadFactory(workspace=ws, email="free@acme.example", do_not_contact=False)
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Do not contact"],
            ["blocked@acme.example", "No"],
            ["free@acme.example", "Yes"],
            ["new@acme.example", "yes"],
            ["new2@acme.example", "no"],
        ),
    )
    assert (job.created, job.updated, job.unchanged) == (2, 1, 1)
    blocked.refresh_from_db()
    free.refresh_from_db()
    assert blocked.do_not_contact and blocked.version == 1
    assert free.do_not_contact
    assert lead(ws, "new@acme.example").do_not_contact
    assert not lead(ws, "new2@acme.example").do_not_contact


# Consent (C1/C2, I3) --------------------------------------------------------------------------


def test_every_created_lead_gets_one_import_consent_event(ws, actor):
    job = import_file(
        ws, actor, csv_bytes(HEADER, ["a@acme.example"], ["b@acme.example"]), name="fair.csv"
    )
    assert job.created == 2
    events = ConsentEvent.objects.filter(workspace=ws)
    assert events.count() == 2
    for event in events:
        assert event.channel == Channel.IMPORT
        assert event.type == ConsentType.IMPORTED
        assert event.status_before == event.status == ConsentStatus.UNKNOWN
        assert event.source == "Import of fair.csv"
        assert event.actor == actor
    a = lead(ws, "a@acme.example")
    assert (a.consent_status, a.consent_type, a.consent_source) == (
        "unknown",
        "imported",
        "Import of fair.csv",
    )
    assert a.consent_captured_at is not None


def test_the_default_consent_source_names_the_events(ws, actor):
    import_file(
        ws,
        actor,
        csv_bytes(HEADER, ["a@acme.example"]),
        defaults={"consent_source": "Trade fair 2025", "consent_type": "implied"},
    )
    event = ConsentEvent.objects.get(workspace=ws)
    assert (event.source, event.type) == ("Trade fair 2025", "implied")


def test_opted_in_needs_a_source_and_the_confirmation(ws, actor):
    job = upload(ws, actor, csv_bytes(HEADER, ["a@acme.example"]))
    with pytest.raises(ValidationError) as caught:
        configure(job, actor, defaults={"consent_status": "opted_in", "consent_source": ""})
    assert "consent_source" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        configure(job, actor, defaults={"consent_status": "opted_in", "consent_source": "Fair"})
    assert "opt_in_confirmed" in caught.value.message_dict
    job.refresh_from_db()
    assert job.defaults.get("consent_status") != "opted_in"  # nothing saved
    job = configure(
        job,
        actor,
        defaults={"consent_status": "opted_in", "consent_source": "Fair"},
        opt_in_confirmed=True,
    )
    run(start(check(job, actor), actor))
    a = lead(ws, "a@acme.example")
    assert (a.consent_status, a.consent_source) == ("opted_in", "Fair")


def test_a_consent_column_needs_the_confirmation(ws, actor):
    job = upload(ws, actor, csv_bytes(["Email", "Consent status"], ["a@acme.example", "Pending"]))
    with pytest.raises(ValidationError) as caught:
        configure(job, actor)
    assert "opt_in_confirmed" in caught.value.message_dict


def test_an_opted_in_row_without_a_source_is_invalid(ws, actor):
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Consent status", "Consent source"],
            ["a@acme.example", "Opted In", ""],
            ["b@acme.example", "Opted In", "Newsletter form"],
        ),
        opt_in_confirmed=True,
    )
    assert (job.created, job.invalid) == (1, 1)
    assert issues(job) == [
        (2, "Consent status", "Opted In needs a consent source (a column or the default).")
    ]
    b = lead(ws, "b@acme.example")
    assert (b.consent_status, b.consent_source, b.consent_type) == (
        "opted_in",
        "Newsletter form",
        "imported",
    )


def test_a_consent_change_on_update_appends_an_event(ws, actor):
    pending = LeadFactory(
        workspace=ws, email="p@acme.example", consent_status=ConsentStatus.PENDING
    )
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Consent status", "Consent source"],
            ["p@acme.example", "Opted In", "Double opt-in 2025-03-01"],
        ),
        opt_in_confirmed=True,
    )
    assert job.updated == 1
    pending.refresh_from_db()
    assert pending.consent_status == ConsentStatus.OPTED_IN
    assert pending.consent_source == "Double opt-in 2025-03-01"
    event = pending.consent_events.get()
    assert (event.status_before, event.status, event.channel, event.type) == (
        "pending",
        "opted_in",
        "import",
        "imported",
    )


# Activities (A2) ------------------------------------------------------------------------------


def test_created_and_updated_leads_get_an_imported_activity(ws, actor):
    old = LeadFactory(workspace=ws, email="old@acme.example", first_name="Old")
    same = LeadFactory(workspace=ws, email="same@acme.example", first_name="Same")
    job = import_file(
        ws,
        actor,
        csv_bytes(
            HEADER,
            ["new@acme.example", "New"],
            ["old@acme.example", "Older"],
            ["same@acme.example", "Same"],
        ),
    )
    assert (job.created, job.updated, job.unchanged) == (1, 1, 1)
    new = lead(ws, "new@acme.example")
    for lead_, row in ((new, 2), (old, 3)):
        activity = lead_.activities.get(type=ActivityType.IMPORTED)
        assert activity.data == {"import": job.pk, "row": row}
        assert activity.source == Channel.IMPORT
        assert activity.actor == actor
        lead_.refresh_from_db()
        assert lead_.last_activity_at == activity.occurred_at
    assert not same.activities.exists()


def test_a_status_change_records_the_old_status(ws, actor):
    engaged = LeadFactory(workspace=ws, email="e@acme.example", status=LeadStatus.ENGAGED)
    import_file(ws, actor, csv_bytes(["Email", "Status"], ["e@acme.example", "Qualified"]))
    engaged.refresh_from_db()
    assert engaged.status == LeadStatus.QUALIFIED
    change = engaged.activities.get(type=ActivityType.STATUS_CHANGED)
    assert change.data == {"from": "engaged", "to": "qualified"}
    assert change.source == Channel.IMPORT


# Invalid rows and the error report (I4, I6) ---------------------------------------------------


def _report(job, **kwargs) -> list[list[str]]:
    text = "".join(jobs.import_error_report(job, **kwargs))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_invalid_rows_are_reported_with_row_column_and_reason(ws, actor):
    content = csv_bytes(
        ["Email", "First name", "Country", "Birthday"],
        ["not-an-email", "Bad", "DE", ""],
        ["ok@acme.example", "Ok", "DE", "1990-02-03"],
        ["bad@acme.example", "Bad", "Atlantis", "31/02/1990"],
        ["", "No email", "", ""],
    )
    job = import_file(ws, actor, content)
    assert (job.created, job.invalid, job.rows_done) == (1, 3, 4)
    assert lead(ws, "ok@acme.example").birthday == date(1990, 2, 3)
    assert not Lead.objects.filter(email="bad@acme.example").exists()
    found = issues(job)
    assert [(row, column) for row, column, _ in found] == [
        (2, "Email"),
        (4, "Country"),
        (4, "Birthday"),
        (5, "Email"),
    ]
    assert found[3][2] == "No email address."
    assert all(reason for _, _, reason in found)
    assert ImportIssue.objects.filter(job=job, kind="invalid").count() == 4
    report = _report(job)
    assert report[0] == ["Email", "First name", "Country", "Birthday", "Row", "Column", "Problem"]
    assert report[1][:6] == ["not-an-email", "Bad", "DE", "", "2", "Email"]
    assert report[2][:6] == ["bad@acme.example", "Bad", "Atlantis", "31/02/1990", "4", "Country"]
    assert report[3][4:6] == ["4", "Birthday"]
    assert report[4][4:] == ["5", "Email", "No email address."]
    assert len(report) == 5


def test_an_owner_who_is_not_a_member_makes_the_row_invalid(ws, actor, outsider):
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Owner"],
            ["a@acme.example", "charlie@globex.test"],
            ["b@acme.example", "MAYA@acme.test"],
        ),
    )
    assert (job.created, job.invalid) == (1, 1)
    assert issues(job) == [
        (2, "Owner", "No member “charlie@globex.test” in this workspace (use their email).")
    ]
    assert lead(ws, "b@acme.example").owner == actor


def test_the_error_report_neutralises_formulas(ws, actor):
    job = import_file(ws, actor, csv_bytes(["Email", "First name"], ["=HYPERLINK(1)", "@SUM"]))
    assert job.invalid == 1
    assert _report(job)[1][:2] == ["'=HYPERLINK(1)", "'@SUM"]


def test_the_dry_run_report_lists_the_same_problems(ws, actor):
    content = csv_bytes(HEADER, ["nope", "X"], ["ok@acme.example"], ["OK@acme.example"])
    checked = dry_run(ws, actor, content)
    assert issues(checked, dry_run=True) == [
        (2, "Email", "Enter a valid email address."),
        (4, "", "Duplicate in the file: same email as row 3"),
    ]
    assert len(_report(checked, dry_run=True)) == 3


def test_exported_formula_cells_round_trip(ws, actor, other_ws):
    tricky = LeadFactory(
        workspace=ws,
        email="tricky@acme.example",
        first_name="=1+2",
        last_name="-Minus",
        job_title="@handle",
        city="+City",
        bant_need="'=already quoted",
    )
    columns = lead_columns(ws, lead_column_keys(ws))
    exported = "".join(
        csv_stream(columns, leads_export_rows(Lead.objects.filter(pk=tricky.pk), columns))
    )
    assert "'=1+2" in exported
    content = exported.encode()
    # into a fresh workspace: the lead arrives exactly as it was
    fresh = import_file(other_ws, None, content, name="export.csv", opt_in_confirmed=True)
    assert (fresh.created, fresh.invalid) == (1, 0), list(fresh.issues.values())
    copy = lead(other_ws, "tricky@acme.example")
    assert (copy.first_name, copy.last_name, copy.job_title, copy.city, copy.bant_need) == (
        "=1+2",
        "-Minus",
        "@handle",
        "+City",
        "'=already quoted",
    )
    # back into the same workspace: nothing to change
    back = import_file(ws, actor, content, name="export.csv", opt_in_confirmed=True)
    assert (back.updated, back.unchanged) == (0, 1)
    tricky.refresh_from_db()
    assert tricky.first_name == "=1+2" and tricky.version == 1


def test_a_full_export_imports_back_unchanged(ws, actor, rep):
    CustomFieldFactory(workspace=ws, key="seats", label="Seats", type="number")
    CustomFieldFactory(workspace=ws, key="renewal", label="Renewal", type="date")
    CustomFieldFactory(workspace=ws, key="vip", label="VIP", type="boolean")
    rich = lead_create(
        workspace=ws,
        actor=actor,
        email="rich@acme.example",
        secondary_emails=["rich@home.example"],
        first_name="Ríchard",
        last_name="O'Neil, Jr.",
        phone="+49 30 1234567",
        job_title='Head of "Ops"',
        contact_role="decision_maker",
        company="Rich & Co; Ltd",
        owner=rep.user,
        street="Hauptstr. 1",
        city="Berlin",
        country="DE",
        birthday=date(1980, 2, 29),
        status=LeadStatus.QUALIFIED,
        do_not_contact=True,
        bant_need="-5 seats",
        attributes={"seats": 12.5, "renewal": "2026-01-31", "vip": True},
        tags=["vip", "=sum"],
    )
    rich.refresh_from_db()
    columns = lead_columns(ws, lead_column_keys(ws))
    exported = "".join(csv_stream(columns, leads_export_rows(Lead.objects.all(), columns)))
    job = import_file(ws, actor, exported.encode(), name="export.csv", opt_in_confirmed=True)
    assert (job.updated, job.unchanged, job.invalid) == (0, 1, 0), list(job.snapshots.values())
    after = Lead.objects.get(pk=rich.pk)
    assert after.version == rich.version
    assert tag_names(after) == ["=sum", "vip"]


# Defaults (I3) and new custom fields (I2) -----------------------------------------------------


def test_defaults_fill_the_blank_cells_of_new_leads(ws, actor, rep):
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Status", "Source", "Owner", "Tags", "Consent status"],
            ["plain@acme.example", "", "", "", "", ""],
            ["given@acme.example", "Qualified", "Referral", "maya@acme.test", "vip", "Pending"],
        ),
        defaults={
            "status": "contacted",
            "source": "Trade fair",
            "owner": "bob@acme.test",
            "tags": "fair, 2025",
            "consent_status": "pending",
            "consent_type": "implied",
            "consent_source": "Fair badge scan",
        },
        opt_in_confirmed=True,
    )
    assert job.created == 2
    plain = lead(ws, "plain@acme.example")
    assert (plain.status, plain.source, plain.owner) == ("contacted", "Trade fair", rep.user)
    assert tag_names(plain) == ["2025", "fair"]
    assert (plain.consent_status, plain.consent_type, plain.consent_source) == (
        "pending",
        "implied",
        "Fair badge scan",
    )
    given_ = lead(ws, "given@acme.example")
    assert (given_.status, given_.source, given_.owner) == ("qualified", "Referral", actor)
    assert tag_names(given_) == ["2025", "fair", "vip"]
    assert given_.consent_status == "pending"
    event = given_.consent_events.get()
    assert (event.status, event.source) == ("pending", "Fair badge scan")


def test_defaults_never_overwrite_existing_leads(ws, actor, rep):
    old = LeadFactory(workspace=ws, email="old@acme.example", status=LeadStatus.ENGAGED, source="")
    import_file(
        ws,
        actor,
        csv_bytes(["Email", "First name"], ["old@acme.example", "Olga"]),
        defaults={"status": "contacted", "source": "Trade fair", "owner": "bob@acme.test"},
    )
    old.refresh_from_db()
    assert (old.first_name, old.status, old.source, old.owner) == ("Olga", "engaged", "", None)


def test_bad_defaults_are_refused(ws, actor):
    job = upload(ws, actor, csv_bytes(HEADER, ["a@acme.example"]))
    with pytest.raises(ValidationError) as caught:
        configure(job, actor, defaults={"owner": "charlie@globex.test", "status": "unsubscribed"})
    assert set(caught.value.message_dict) == {"owner", "status"}


def test_new_custom_fields_are_created_when_the_import_starts(ws, actor):
    content = csv_bytes(
        ["Email", "Seats", "Renewal", "Plan"],
        ["a@acme.example", "1200.50", "2025-06-30", "gold"],
        ["b@acme.example", "3", "", "Silver"],
        ["c@acme.example", "many", "soon", "bronze"],
    )
    job = configure(
        upload(ws, actor, content),
        actor,
        mapping={"Seats": "new", "Renewal": "new", "Plan": "new"},
        new_fields={
            "1": {"key": "seats", "label": "Seats", "type": "number"},
            "2": {"key": "renewal", "label": "Renewal", "type": "date"},
            "3": {"key": "plan", "label": "Plan", "type": "choice", "choices": "Gold, Silver"},
        },
    )
    job = check(job, actor)
    assert job.dry_run["create"] == 2 and job.dry_run["invalid"] == 1
    assert not CustomField.objects.filter(workspace=ws).exists()  # not before the start
    job = jobs.import_start(job, actor=actor, enqueue=False)
    assert job.mapping == ["email", "cf.seats", "cf.renewal", "cf.plan"]
    fields = {f.key: f for f in CustomField.objects.filter(workspace=ws)}
    assert {k: f.type for k, f in fields.items()} == {
        "seats": "number",
        "renewal": "date",
        "plan": "choice",
    }
    assert fields["plan"].choices == ["Gold", "Silver"]
    jobs.import_run_batches(job.pk, job.run_token)
    job.refresh_from_db()
    assert (job.status, job.created, job.invalid) == ("done", 2, 1)
    assert lead(ws, "a@acme.example").attributes == {
        "seats": 1200.5,
        "renewal": "2025-06-30",
        "plan": "Gold",
    }
    assert lead(ws, "b@acme.example").attributes == {"seats": 3, "plan": "Silver"}
    assert {column for _, column, _ in issues(job)} == {"Seats", "Renewal", "Plan"}


def test_a_new_field_must_not_clash_with_an_existing_key(ws, actor):
    CustomFieldFactory(workspace=ws, key="seats", label="Seats", type="number")
    job = upload(ws, actor, csv_bytes(["Email", "Licences"], ["a@acme.example", "3"]))
    with pytest.raises(ValidationError) as caught:
        configure(
            job,
            actor,
            mapping={"Licences": "new"},
            new_fields={"1": {"key": "seats", "label": "Licences", "type": "number"}},
        )
    assert "mapping" in caught.value.message_dict


# The dry run (I4) -----------------------------------------------------------------------------


def _mixed_file(ws, actor) -> bytes:
    LeadFactory(workspace=ws, email="old@acme.example", first_name="Old")
    LeadFactory(workspace=ws, email="same@acme.example", first_name="Same")
    LeadFactory(workspace=ws, email="out@acme.example", status=LeadStatus.UNSUBSCRIBED)
    lead_delete(lead=LeadFactory(workspace=ws, email="trash@acme.example"), actor=actor)
    suppression_add(
        workspace=ws, email="gone@acme.example", reason=SuppressionReason.MANUAL, actor=actor
    )
    return csv_bytes(
        ["Email", "First name", "Status"],
        ["new@acme.example", "New", ""],
        ["old@acme.example", "Older", "Qualified"],
        ["same@acme.example", "Same", ""],
        ["out@acme.example", "Back", ""],
        ["trash@acme.example", "Back", ""],
        ["gone@acme.example", "Back", ""],
        ["NEW@acme.example", "Dup", ""],
        ["bad email", "X", ""],
        ["x@acme.example", "X", "Sleeping"],
        ["quit@acme.example", "Quit", "Unsubscribed"],
    )


def test_the_dry_run_counts_what_the_import_does_and_writes_nothing(ws, actor):
    content = _mixed_file(ws, actor)
    before = (Lead.objects.count(), Activity.objects.count(), ConsentEvent.objects.count())
    checked = dry_run(ws, actor, content)
    assert (Lead.objects.count(), Activity.objects.count(), ConsentEvent.objects.count()) == before
    assert not ImportBatch.objects.exists() and not ImportSnapshot.objects.exists()
    assert not AuditLog.objects.filter(action="lead.import").exists()
    assert checked.dry_run["rows"] == 10
    assert jobs.import_to_write(checked) == 3
    job = run(start(checked, actor))
    assert dry_counts(checked) == counts(job)
    assert counts(job) == {
        "rows": 10,
        "create": 2,
        "update": 1,
        "unchanged": 1,
        "invalid": 2,
        "skipped": {
            "Unsubscribed": 1,
            "In the trash": 1,
            "Suppressed": 1,
            "Duplicate in the file": 1,
        },
    }


def test_the_preview_shows_rows_as_stored(ws, actor):
    job = configure(
        upload(
            ws,
            actor,
            csv_bytes(
                ["E-mail", "Name", "Country", "Phone"],
                [" Ann@Acme.example ", "Lee, Ann", "Germany", "030 1234567"],
                ["nope", "", "", ""],
            ),
        ),
        actor,
        defaults={"source": "Fair"},
    )
    columns, rows = jobs.import_preview(job)
    assert columns[:4] == ["Email", "Full name", "Country", "Phone"]
    cells = {label: value for label, value, _ in rows[0].cells}
    assert cells["Email"] == "ann@acme.example"
    assert cells["Full name"] == "Ann Lee"
    assert (cells["Country"], cells["Phone"], cells["Source"]) == ("DE", "+49301234567", "Fair")
    assert rows[1].problems == [("E-mail", "Enter a valid email address.")]


# XLSX and vCard files (I1) --------------------------------------------------------------------


def test_an_xlsx_file_goes_through_the_whole_pipeline(ws, actor):
    LeadFactory(workspace=ws, email="old@acme.example", first_name="Old", birthday=None)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Email", "First name", "Birthday", "Employees", "Company"])
    sheet.append(["old@acme.example", "Olga", date(1980, 5, 17), 12, "Acme Corp"])
    sheet.append(["NEW@acme.example", "'=cmd", None, 3.0, "acme corp"])
    sheet.append(["broken", "X", None, None, None])
    out = io.BytesIO()
    workbook.save(out)
    CustomFieldFactory(workspace=ws, key="employees", label="Employees", type="number")
    job = import_file(
        ws, actor, out.getvalue(), name="leads.xlsx", mapping={"Employees": "cf.employees"}
    )
    assert job.file_kind == "xlsx"
    assert (job.status, job.created, job.updated, job.invalid) == ("done", 1, 1, 1)
    old = lead(ws, "old@acme.example")
    assert (old.first_name, old.birthday, old.attributes) == (
        "Olga",
        date(1980, 5, 17),
        {"employees": 12},
    )
    new = lead(ws, "new@acme.example")
    assert (new.first_name, new.attributes) == ("=cmd", {"employees": 3})
    assert old.company_id == new.company_id and old.company.name == "Acme Corp"
    assert issues(job)[0][:2] == (4, "Email")


def test_a_vcard_file_goes_through_the_whole_pipeline(ws, actor):
    LeadFactory(workspace=ws, email="ann@acme.example", first_name="Ann", job_title="")
    cards = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\n"
        "EMAIL;TYPE=INTERNET,PREF:ann@acme.example\r\nTITLE:Chief Technology\r\n"
        "  Officer\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Nguyen;Bao;;;\r\nFN:Bao Nguyen\r\n"
        "EMAIL;TYPE=work:bao@acme.example\r\nEMAIL;TYPE=home:bao@home.example\r\n"
        "TEL;TYPE=cell:+49 30 1234567\r\nORG:Nguyen GmbH\r\n"
        "ADR;TYPE=work:;;Hauptstr. 1;Berlin;;10115;Germany\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Mail\r\nEND:VCARD\r\n"
    )
    job = import_file(ws, actor, cards.encode(), name="contacts.vcf")
    assert job.file_kind == "vcf"
    assert (job.status, job.created, job.updated, job.invalid) == ("done", 1, 1, 1)
    ann = lead(ws, "ann@acme.example")
    assert ann.job_title == "Chief Technology Officer"
    bao = lead(ws, "bao@acme.example")
    assert (bao.first_name, bao.last_name, bao.city, bao.country) == (
        "Bao",
        "Nguyen",
        "Berlin",
        "DE",
    )
    assert bao.secondary_emails == ["bao@home.example"]
    assert bao.company.name == "Nguyen GmbH"
    assert bao.mobile == "+49301234567"
    assert issues(job)[0][:2] == (3, "Email")  # cards are numbered 1, 2, 3


# A property: counts add up, and the dry run predicts the import ------------------------------

POOL = ["ann", "bob", "cy", "dee", "eve", "fay"]
_email = st.builds(
    lambda name, case: case(f"{name}@acme.example"),
    st.sampled_from(POOL),
    st.sampled_from([str.lower, str.upper, str.title]),
)
_cell_email = st.one_of(_email, _email, _email, st.just("not-an-email"), st.just(""))
_row = st.tuples(
    _cell_email,
    st.sampled_from(["", "Ann", "Bob", "=1+2"]),
    st.sampled_from(["", "New", "Qualified", "Unsubscribed", "Nonsense"]),
    st.sampled_from(["", "a", "b; c"]),
    st.sampled_from(["", "dee@acme.example", "Ann@acme.example", "zed@acme.example", "bad@"]),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(_row, min_size=1, max_size=12),
    mode=st.sampled_from(["create", "update", "upsert"]),
    fill_blanks=st.booleans(),
    batch_size=st.sampled_from([2, 3, 5000]),
)
def test_counts_add_up_and_the_dry_run_predicts_them(
    roles, monkeypatch, rows, mode, fill_blanks, batch_size
):
    monkeypatch.setattr(jobs, "BATCH_SIZE", batch_size)
    ws = WorkspaceFactory()
    LeadFactory(workspace=ws, email="ann@acme.example", first_name="")
    LeadFactory(workspace=ws, email="bob@acme.test", status=LeadStatus.UNSUBSCRIBED)
    lead_create(
        workspace=ws, actor=None, email="cy@acme.example", secondary_emails=["dee@acme.example"]
    )
    lead_delete(lead=LeadFactory(workspace=ws, email="eve@acme.example"), actor=None)
    suppression_add(workspace=ws, email="fay@acme.example", reason="manual", actor=None)
    header = ["Email", "First name", "Status", "Tags", "Secondary emails"]
    content = csv_bytes(header, *[list(r) for r in rows])
    checked = dry_run(ws, None, content, mode=mode, fill_blanks=fill_blanks)
    job = run(start(checked))
    assert job.status == ImportStatus.DONE
    data_rows = sum(1 for r in rows if any(r))
    total = job.created + job.updated + job.unchanged + job.skipped + job.invalid
    assert total == job.rows_done == data_rows
    assert dry_counts(checked) == counts(job)
    assert Lead.objects.filter(workspace=ws, deleted_at__isnull=True).count() == 3 + job.created


def test_a_hard_bounce_is_never_lifted_by_a_file(ws, actor):
    bounced = LeadFactory(workspace=ws, email="bounced@acme.example", email_status="bounced")
    job = import_file(
        ws, actor, csv_bytes(["Email", "Email status"], ["bounced@acme.example", "Active"])
    )
    bounced.refresh_from_db()
    assert (job.updated, job.unchanged) == (0, 1)
    assert bounced.email_status == "bounced"


def test_unknown_consent_in_a_file_never_overwrites_a_known_one(ws, actor):
    known = LeadFactory(workspace=ws, email="known@acme.example", consent_status="pending")
    job = import_file(
        ws,
        actor,
        csv_bytes(["Email", "Consent status"], ["known@acme.example", "Unknown"]),
        opt_in_confirmed=True,
    )
    known.refresh_from_db()
    assert (job.updated, job.unchanged) == (0, 1)
    assert known.consent_status == "pending"
