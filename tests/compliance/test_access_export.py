"""GDPR access, the document (PRODUCT C5): one of every kind of record held on a lead is in it."""

import json

from compliance.access import lead_access_data, lead_access_document
from contacts.activities import activity_record
from contacts.consent import consent_record, suppression_add
from contacts.models import ActivityType, ConsentStatus, CustomFieldType, Lead, SuppressionReason
from contacts.services import lead_update
from leadcrm.audit import audit_record
from pipeline.models import SendingSettings
from pipeline.sequences import lead_enrol, sequence_save, sequence_send_next, step_save
from segments.models import SegmentKind
from segments.services import segment_add_leads, segment_create
from tests.contacts.factories import CustomFieldFactory, LeadFactory
from tests.contacts.import_helpers import csv_bytes, import_file


def test_the_export_holds_every_kind_of_record_about_the_lead(ws, owner):
    actor = owner.user
    CustomFieldFactory(workspace=ws, key="industry", label="Industry", type=CustomFieldType.TEXT)
    lead = LeadFactory(
        workspace=ws,
        email="ada@example.test",
        first_name="Ada",
        last_name="Lovelace",
        attributes={"industry": "Engines"},
        secondary_emails=["ada.home@example.test"],
    )
    lead_update(lead=lead, actor=actor, tags=["Analytical"], job_title="Countess")
    activity_record(lead=lead, type=ActivityType.NOTE, actor=actor, subject="Met at the salon")
    consent_record(
        lead=lead,
        actor=actor,
        status=ConsentStatus.OPTED_IN,
        source="Signed form",
        proof="Paper form #12",
        ip_address="198.51.100.4",
        user_agent="Mozilla/5.0 (X11)",
    )
    segment = segment_create(workspace=ws, actor=actor, name="Pioneers", kind=SegmentKind.STATIC)
    segment_add_leads(
        workspace=ws, segment=segment, leads=Lead.objects.filter(pk=lead.pk), actor=actor
    )
    SendingSettings.objects.create(
        workspace=ws, from_name="Acme", from_email="sales@acme.test", postal_address="1 Main St"
    )
    sequence = sequence_save(workspace=ws, actor=actor, name="Welcome")
    step_save(sequence=sequence, actor=actor, subject="Hello {{ first_name }}", body="Hi!")
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=actor)
    sequence_send_next(enrollment=enrollment, actor=actor, site_url="https://crm.test/")
    job = import_file(
        ws,
        actor,
        csv_bytes(
            ["Email", "Job title"],
            ["ada@example.test", "Mathematician"],
            ["ADA@example.test", "Duplicate row"],
        ),
        name="salon-guests.csv",
    )
    suppression_add(
        workspace=ws, email="ada.home@example.test", reason=SuppressionReason.MANUAL, actor=actor
    )
    audit_record(actor=actor, workspace=ws, action="lead.viewed_test", obj=lead)

    data = lead_access_data(Lead.objects.get(pk=lead.pk))

    assert data["lead"]["email"] == "ada@example.test"
    assert data["lead"]["secondary_emails"] == ["ada.home@example.test"]
    assert data["lead"]["job_title"] == "Mathematician"
    assert data["lead"]["owner"] == (
        {"name": lead.owner.display_name, "email": lead.owner.email} if lead.owner else None
    )
    assert {"key": "industry", "label": "Industry", "type": "text", "value": "Engines"} in data[
        "custom_fields"
    ]
    assert data["tags"] == ["Analytical"]
    subjects = [a["subject"] for a in data["activities"]]
    assert "Met at the salon" in subjects
    assert any(a["type"] == "email_sent" for a in data["activities"])
    assert any(a["type"] == "imported" for a in data["activities"])
    opted_in = [e for e in data["consent_events"] if e["status"] == "opted_in"]
    assert opted_in[0]["proof"] == "Paper form #12"
    assert opted_in[0]["ip_address"] == "198.51.100.4"
    assert opted_in[0]["user_agent"] == "Mozilla/5.0 (X11)"
    assert opted_in[0]["actor"]["email"] == actor.email
    assert [m["segment"] for m in data["segment_memberships"]] == ["Pioneers"]
    (enrolment,) = data["sequence_enrolments"]
    assert enrolment["sequence"] == "Welcome"
    assert enrolment["sends"][0]["subject"] == "Hello Ada"
    (imported,) = data["import_provenance"]["imports"]
    assert imported["import_id"] == job.pk
    assert imported["file_name"] == "salon-guests.csv"
    assert imported["rows"] == [2]
    assert imported["changed"][0]["before"]["job_title"] == "Countess"
    assert imported["error_report_rows"][0]["row_number"] == 3
    assert data["suppression"] == [
        {
            "email": "ada.home@example.test",
            "reason": "manual",
            "since": data["suppression"][0]["since"],
        }
    ]
    actions = [entry["action"] for entry in data["audit_entries"]]
    assert "lead.update" in actions and "lead.viewed_test" in actions


def test_the_document_is_one_json_object_even_for_a_lead_with_nothing(ws):
    lead = LeadFactory(workspace=ws, attributes={})

    text = "".join(lead_access_document(lead))

    data = json.loads(text)
    assert data["activities"] == [] and data["consent_events"] == []
    assert data["segment_memberships"] == [] and data["import_provenance"] == {"imports": []}
    assert data["format"] == "LeadCRM GDPR access export"


def test_odd_unicode_survives_the_round_trip(ws):
    lead = LeadFactory(workspace=ws, first_name="Zoë", last_name="O’Brien‮ ", attributes={})

    data = lead_access_data(lead)

    assert data["lead"]["first_name"] == "Zoë"
    assert data["lead"]["last_name"] == lead.last_name
