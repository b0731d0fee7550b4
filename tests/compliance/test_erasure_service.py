"""GDPR erasure, the service (PRODUCT C6): nothing of an erased lead is left but a hash.

The scenario gives a lead one of every kind of record the product keeps about a person, then
erases it and searches every column of every table for its addresses and its name.
"""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from compliance.erasure import (
    erasure_request_create,
    lead_erase,
    leads_erase,
    report_lines,
)
from compliance.models import ErasureRequest
from contacts.activities import activity_record
from contacts.consent import consent_record, lead_unsubscribe
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    ConsentEvent,
    ConsentStatus,
    ImportIssue,
    ImportSnapshot,
    Lead,
    SuppressedEmail,
    SuppressionReason,
)
from contacts.queries import suppression_check, suppression_hash
from contacts.services import lead_create, lead_delete, lead_update
from leadcrm.models import AuditLog
from pipeline.models import SendingSettings, SequenceEnrollment, SequenceSend
from pipeline.sequences import lead_enrol, sequence_save, sequence_send_next, step_save
from segments.models import SegmentKind, SegmentMembership
from segments.services import segment_add_leads, segment_create
from tests.contacts.factories import LeadFactory
from tests.contacts.import_helpers import csv_bytes, import_file

EMAIL = "Erin.Zyxwvut@Example.test"
HOME = "erin.home@example.test"
SURNAME = "Zyxwvut"
NEEDLES = [EMAIL.lower(), HOME, SURNAME.lower()]


def _everything_about_erin(ws, actor):
    """A lead with one of each kind of record, made the way the product makes them."""
    lead = lead_create(
        workspace=ws,
        actor=actor,
        email=EMAIL,
        first_name="Erin",
        last_name=SURNAME,
        phone="+44 20 7946 0000",
        secondary_emails=[HOME],
        tags=["Webinar"],
    )
    lead = lead_update(lead=lead, actor=actor, job_title="Head of Zyxwvut Labs")
    activity_record(
        lead=lead,
        type=ActivityType.NOTE,
        actor=actor,
        subject=f"Call with Erin {SURNAME}",
        body=f"Write to {EMAIL} or {HOME}.",
    )
    consent_record(
        lead=lead,
        actor=actor,
        status=ConsentStatus.OPTED_IN,
        source=f"Form signed by Erin {SURNAME}",
        proof=f"Ticked the box as {EMAIL}",
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0",
    )
    segment = segment_create(workspace=ws, actor=actor, name="VIP", kind=SegmentKind.STATIC)
    segment_add_leads(
        workspace=ws, segment=segment, leads=Lead.objects.filter(pk=lead.pk), actor=actor
    )
    SendingSettings.objects.create(
        workspace=ws,
        from_name="Acme",
        from_email="sales@acme.test",
        postal_address="1 Main Street",
    )
    sequence = sequence_save(workspace=ws, actor=actor, name="Welcome")
    step_save(sequence=sequence, actor=actor, subject="Hello {{ first_name }}", body="Hi!")
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=actor)
    sequence_send_next(enrollment=enrollment, actor=actor, site_url="https://crm.test/")
    # An import that updates her (undo snapshot), skips a duplicate row naming her and cannot
    # read a row with her home address (error-report rows, one without a lead).
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "First name", "Last name", "Phone"],
            [EMAIL, "Erin", SURNAME, "+44 20 7946 0001"],
            [EMAIL.upper(), "Erin", SURNAME, ""],
            [HOME, "Erin", SURNAME, "not a phone at all"],
        ),
    )
    lead_unsubscribe(lead=lead, actor=actor, channel=Channel.LINK, source=f"Erin {SURNAME}")
    return Lead.objects.get(pk=lead.pk), job


def _columns_holding(needle: str) -> list[str]:
    """Every table.column whose text contains `needle` (case-insensitive), all tables."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                name = connection.ops.quote_name(column.name)
                cursor.execute(
                    f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)} "
                    f"WHERE LOWER(CAST({name} AS TEXT)) LIKE %s",
                    [f"%{needle}%"],
                )
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column.name}")
    return found


@pytest.mark.django_db(transaction=True)
def test_erasing_a_lead_leaves_no_trace_of_it_but_the_hash(ws, owner):
    lead, job = _everything_about_erin(ws, owner.user)
    assert ImportIssue.objects.filter(job=job).count() >= 2
    assert ImportSnapshot.objects.filter(lead=lead).exists()
    assert SequenceSend.objects.filter(enrollment__lead=lead).exists()
    for needle in NEEDLES:  # the scenario did put her everywhere
        assert len(_columns_holding(needle)) >= 3, needle

    request = lead_erase(lead=lead, actor=owner.user, confirmation=f"  {EMAIL.upper()} ")

    for needle in NEEDLES:
        assert _columns_holding(needle) == [], needle
    assert request.status == ErasureRequest.Status.DONE
    report = dict(report_lines(request.report))
    assert report["leads"] == 1
    assert report["activities"] >= 4
    assert report["consent events"] == 2
    assert report["segment memberships"] == 1
    assert report["sequence enrolments"] == 1
    assert report["sequence emails sent"] == 1
    assert report["import undo snapshots"] == 1
    assert report["import error-report rows"] >= 2
    assert report["audit entries redacted"] >= 4
    assert report["addresses suppressed"] == 2
    assert suppression_check(workspace=ws, email=EMAIL)
    assert suppression_check(workspace=ws, email=HOME)
    assert SuppressedEmail.objects.get(workspace=ws, email_hash=suppression_hash(EMAIL)).reason == (
        SuppressionReason.ERASED
    )
    assert not Activity.objects.filter(lead_id=lead.pk).exists()
    assert not ConsentEvent.objects.filter(lead_id=lead.pk).exists()
    assert not SegmentMembership.objects.filter(lead_id=lead.pk).exists()
    assert not SequenceEnrollment.objects.filter(lead_id=lead.pk).exists()


def test_the_audit_trail_keeps_what_changed_but_no_value(ws, owner):
    lead = lead_create(workspace=ws, actor=owner.user, email=EMAIL, last_name=SURNAME)
    lead_update(lead=lead, actor=owner.user, last_name="Other")

    lead_erase(lead=lead, actor=owner.user, confirmation=EMAIL)

    entries = AuditLog.objects.filter(object_type="contacts.lead", object_id=str(lead.pk))
    by_action = {entry.action: entry for entry in entries}
    assert set(by_action) == {"lead.create", "lead.update", "lead.erase"}
    assert by_action["lead.update"].changes == {"last_name": "[erased]", "version": "[erased]"}
    assert by_action["lead.update"].object_repr == f"Erased lead #{lead.pk}"
    assert by_action["lead.update"].actor == owner.user
    erase = by_action["lead.erase"]
    assert erase.actor == owner.user
    assert erase.changes["leads"] == 1
    assert SURNAME.lower() not in json.dumps(erase.changes).lower() + erase.object_repr.lower()


def test_the_typed_email_must_match(ws, owner):
    lead = LeadFactory(workspace=ws, email="ada@example.test")

    for typed in ["", "ada@example", "someone@example.test"]:
        with pytest.raises(ValidationError) as refused:
            lead_erase(lead=lead, actor=owner.user, confirmation=typed)
        assert "confirmation" in refused.value.message_dict

    assert Lead.objects.filter(pk=lead.pk).exists()
    assert not SuppressedEmail.objects.exists()
    assert not ErasureRequest.objects.exists()


def test_a_lead_in_the_trash_can_be_erased(ws, owner):
    lead = LeadFactory(workspace=ws, email="trashed@example.test")
    lead_delete(lead=lead, actor=owner.user)

    lead_erase(lead=lead, actor=owner.user, confirmation="trashed@example.test")

    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_an_erased_address_cannot_come_back(ws, owner):
    lead = LeadFactory(workspace=ws, email="gone@example.test")
    lead_erase(lead=lead, actor=owner.user, confirmation="gone@example.test")

    with pytest.raises(ValidationError) as refused:
        lead_create(workspace=ws, actor=owner.user, email="Gone@Example.test")
    assert "suppression list" in str(refused.value)
    job = import_file(
        ws, owner.user, csv_bytes(["Email", "First name"], ["gone@example.test", "G"])
    )
    assert job.created == 0
    assert not Lead.objects.filter(email__iexact="gone@example.test").exists()


def test_erasure_stays_inside_its_workspace(ws, other_ws, owner):
    mine = LeadFactory(workspace=ws, email="same@example.test")
    theirs = LeadFactory(workspace=other_ws, email="same@example.test")

    report = leads_erase(workspace=ws, lead_ids=[mine.pk, theirs.pk], email_hashes=[], actor=None)

    assert report["leads"] == 1
    assert Lead.objects.filter(pk=theirs.pk).exists()
    assert not suppression_check(workspace=other_ws, email="same@example.test")


# Bulk ---------------------------------------------------------------------------------------


def test_a_bulk_request_holds_ids_and_hashes_only_and_erases_in_the_background(
    ws, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from compliance import erasure

    ada = LeadFactory(workspace=ws, email="ada@example.test")
    bob = LeadFactory(workspace=ws, email="bob@example.test")
    kept = LeadFactory(workspace=ws, email="kept@example.test")
    import_file(  # an error-report row for an address no lead has
        ws, owner.user, csv_bytes(["Email", "Phone"], ["nobody@example.test", "not a phone"])
    )
    assert ImportIssue.objects.filter(email_hash=suppression_hash("nobody@example.test")).exists()
    captured, original = [], erasure._erasure_step

    def step(request_id):  # what the task finds in the request, each time it takes a chunk
        request = ErasureRequest.objects.get(pk=request_id)
        captured.append(
            json.dumps([request.lead_ids, request.email_hashes, request.reference]).lower()
        )
        return original(request_id)

    monkeypatch.setattr(erasure, "_erasure_step", step)
    with django_capture_on_commit_callbacks(execute=True):
        request = erasure_request_create(
            workspace=ws,
            actor=owner.user,
            origin=ErasureRequest.Origin.UPLOAD,
            emails=["ADA@example.test", "bob@example.test ", "nobody@example.test"],
            reference="DSR-2026-117",
        )

    request.refresh_from_db()
    assert captured and all("@" not in text for text in captured)
    assert request.status == ErasureRequest.Status.DONE
    assert (request.leads_total, request.addresses_total, request.leads_erased) == (2, 3, 2)
    assert request.lead_ids == [] and request.email_hashes == []
    assert request.report["leads"] == 2
    assert request.report["addresses suppressed"] == 3
    assert request.report["import error-report rows"] == 1
    assert not Lead.objects.filter(pk__in=[ada.pk, bob.pk]).exists()
    assert Lead.objects.filter(pk=kept.pk).exists()
    for address in ["ada@example.test", "bob@example.test", "nobody@example.test"]:
        assert suppression_check(workspace=ws, email=address)
    bulk = AuditLog.objects.get(action="lead.bulk_erase")
    assert sorted(bulk.changes["lead_ids"]) == sorted([ada.pk, bob.pk])
    assert "@" not in json.dumps(bulk.changes) + bulk.object_repr


def test_a_bulk_request_erases_in_chunks_and_resumes_after_a_crash(ws, owner, monkeypatch):
    from compliance import erasure

    monkeypatch.setattr(erasure, "CHUNK", 2)
    leads = [LeadFactory(workspace=ws, email=f"p{i}@example.test") for i in range(5)]
    request = erasure_request_create(
        workspace=ws,
        actor=owner.user,
        origin=ErasureRequest.Origin.SELECTION,
        lead_ids=[lead.pk for lead in leads],
        enqueue=False,
    )
    assert erasure._erasure_step(request.pk) is True  # the worker dies after one chunk
    request.refresh_from_db()
    assert request.leads_erased == 2 and request.status == ErasureRequest.Status.RUNNING
    assert Lead.objects.filter(workspace=ws).count() == 3

    erasure.erasure_request_run(request.pk)

    request.refresh_from_db()
    assert request.status == ErasureRequest.Status.DONE
    assert request.leads_erased == 5 and request.report["leads"] == 5
    assert not Lead.objects.filter(workspace=ws).exists()
    assert AuditLog.objects.filter(action="lead.bulk_erase").count() == 3


def test_a_request_with_nothing_to_erase_is_refused(ws, owner):
    with pytest.raises(ValidationError):
        erasure_request_create(
            workspace=ws, actor=owner.user, origin=ErasureRequest.Origin.UPLOAD, emails=["  "]
        )
    assert not ErasureRequest.objects.exists()


def test_selected_ids_of_another_workspace_are_ignored(ws, other_ws, owner):
    theirs = LeadFactory(workspace=other_ws)

    with pytest.raises(ValidationError):
        erasure_request_create(
            workspace=ws,
            actor=owner.user,
            origin=ErasureRequest.Origin.SELECTION,
            lead_ids=[theirs.pk],
        )
    assert Lead.objects.filter(pk=theirs.pk).exists()


def test_an_uploaded_address_finds_the_lead_it_is_a_secondary_email_of(ws, owner):
    lead = LeadFactory(
        workspace=ws, email="work@example.test", secondary_emails=["Home@Example.test"]
    )

    request = erasure_request_create(
        workspace=ws,
        actor=owner.user,
        origin=ErasureRequest.Origin.UPLOAD,
        emails=["home@example.test"],
        enqueue=False,
    )

    assert request.lead_ids == [lead.pk]
