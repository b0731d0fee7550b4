"""Every way in consults the suppression list (PRODUCT C4): the lead form (new and edit), an
import, and sequences (one lead and bulk enrolment, and the send itself)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from contacts.consent import REFUSAL_SUPPRESSED, suppression_add
from contacts.models import Lead, SuppressionReason
from pipeline.models import SendingSettings
from pipeline.sequences import (
    lead_enrol,
    leads_enrol,
    sequence_save,
    sequence_send_next,
    step_save,
)
from tests.contacts.factories import LeadFactory
from tests.contacts.import_helpers import csv_bytes, import_file
from tests.pipeline.test_lead_edit import form_data

SUPPRESSED = "blocked@example.test"


@pytest.fixture
def suppressed(ws):
    return suppression_add(
        workspace=ws, email=SUPPRESSED, reason=SuppressionReason.MANUAL, actor=None
    )


@pytest.fixture
def sequence(ws, marketer):
    SendingSettings.objects.create(
        workspace=ws, from_name="Acme", from_email="sales@acme.test", postal_address="1 Main St"
    )
    sequence = sequence_save(workspace=ws, actor=marketer.user, name="Welcome")
    step_save(sequence=sequence, actor=marketer.user, subject="Hello", body="Hi!")
    return sequence


def test_the_lead_form_refuses_a_suppressed_address(ws, rep, suppressed, as_member):
    response = as_member(rep).post(
        reverse("pipeline:lead-new"),
        {"email": "Blocked@Example.test", "status": "new", "email_status": "active"},
    )

    assert response.status_code == 400
    assert "on the suppression list" in response.context["form"].errors["email"][0]
    assert not Lead.objects.filter(workspace=ws).exists()


def test_editing_a_lead_onto_a_suppressed_address_is_refused(ws, rep, suppressed, as_member):
    lead = LeadFactory(workspace=ws, email="free@example.test", owner=rep.user)
    client = as_member(rep)

    response = client.post(
        reverse("pipeline:lead-edit", args=[lead.pk]), form_data(client, lead, email=SUPPRESSED)
    )

    assert response.status_code == 400
    assert "on the suppression list" in response.context["form"].errors["email"][0]
    lead.refresh_from_db()
    assert lead.email == "free@example.test"


def test_a_lead_whose_own_address_is_suppressed_can_still_be_edited(ws, rep, as_member):
    lead = LeadFactory(workspace=ws, email="own@example.test", owner=rep.user)
    suppression_add(workspace=ws, email="own@example.test", reason="manual", actor=None)
    client = as_member(rep)

    response = client.post(
        reverse("pipeline:lead-edit", args=[lead.pk]),
        form_data(client, lead, email="OWN@example.test", job_title="CTO"),
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.job_title == "CTO"


def test_an_import_skips_a_suppressed_row_and_never_creates_it(ws, marketer, suppressed):
    job = import_file(
        ws,
        marketer.user,
        csv_bytes(["Email", "First name"], ["BLOCKED@example.test", "B"], ["ok@example.test", "O"]),
    )

    assert (job.created, job.skipped) == (1, 1)
    assert job.skip_reasons == {"Suppressed": 1}
    assert not Lead.objects.filter(email__iexact=SUPPRESSED).exists()
    assert Lead.objects.filter(email="ok@example.test").exists()


def test_a_suppressed_lead_cannot_be_enrolled_or_sent_to(ws, rep, sequence):
    lead = LeadFactory(workspace=ws, email="later@example.test")
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=rep.user)
    suppression_add(workspace=ws, email="later@example.test", reason="complaint", actor=None)

    with pytest.raises(ValidationError) as refused:
        sequence_send_next(enrollment=enrollment, actor=rep.user, site_url="https://crm.test/")
    assert REFUSAL_SUPPRESSED in refused.value.messages

    other = LeadFactory(workspace=ws, email=SUPPRESSED)
    suppression_add(workspace=ws, email=SUPPRESSED, reason="manual", actor=None)
    with pytest.raises(ValidationError) as refused:
        lead_enrol(lead=other, sequence=sequence, actor=rep.user)
    assert REFUSAL_SUPPRESSED in refused.value.messages


def test_bulk_enrolment_skips_suppressed_leads(ws, rep, sequence, suppressed):
    LeadFactory(workspace=ws, email=SUPPRESSED)
    LeadFactory(workspace=ws, email="fine@example.test")

    result = leads_enrol(
        workspace=ws, sequence=sequence, leads=Lead.objects.filter(workspace=ws), actor=rep.user
    )

    assert result.enrolled == 1
    assert result.skipped == {REFUSAL_SUPPRESSED: 1}
