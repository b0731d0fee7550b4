"""Changing consent from the lead page (PRODUCT L7, C1/C2, "Unsubscribing")."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from contacts.models import (
    ConsentEvent,
    ConsentStatus,
    EmailStatus,
    Lead,
    LeadStatus,
)
from tests.contacts.factories import LeadFactory

HTMX = {"headers": {"HX-Request": "true"}}


def consent_url(lead) -> str:
    return reverse("pipeline:lead-consent", args=[lead.pk])


def page_url(lead) -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk])


def data(**values) -> dict:
    return {
        "status": "opted_in",
        "type": "explicit",
        "source": "Berlin fair 2025",
        "proof": "Signed paper form #42",
        "gdpr_basis": "consent",
        "country": "Germany",
        **values,
    }


@pytest.fixture
def lead(ws, rep):
    return LeadFactory(workspace=ws, owner=rep.user)


@pytest.fixture
def unsubscribed(ws):
    return LeadFactory(
        workspace=ws,
        status=LeadStatus.UNSUBSCRIBED,
        email_status=EmailStatus.UNSUBSCRIBED,
        consent_status=ConsentStatus.OPTED_OUT,
    )


# Recording ------------------------------------------------------------------------------------


def test_a_consent_change_writes_a_consent_event(lead, rep, as_member):
    as_member(rep).post(consent_url(lead), data())

    event = ConsentEvent.objects.get(lead=lead)
    assert (event.status_before, event.status) == ("unknown", "opted_in")
    assert (event.source, event.proof) == ("Berlin fair 2025", "Signed paper form #42")
    assert (event.type, event.gdpr_basis, event.country) == ("explicit", "consent", "DE")
    assert event.actor == rep.user
    assert event.ip_address == "127.0.0.1"


def test_a_consent_change_redirects_to_the_consent_panel_with_a_message(lead, rep, as_member):
    response = as_member(rep).post(consent_url(lead), data())

    assert response.status_code == 302
    assert response["Location"] == page_url(lead) + "#consent"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Consent recorded: Opted In."]


def test_the_panel_shows_the_new_consent(lead, rep, as_member):
    client = as_member(rep)
    client.post(consent_url(lead), data())

    content = client.get(page_url(lead)).content.decode()

    assert '<dd class="col-sm-8" data-consent="status">Opted In</dd>' in content
    assert "Berlin fair 2025" in content
    assert "Signed paper form #42" in content
    assert "Unknown → <strong>Opted In</strong>" in content


def test_opting_out_unsubscribes_the_lead(lead, rep, as_member):
    response = as_member(rep).post(consent_url(lead), data(status="opted_out", proof=""))

    lead.refresh_from_db()
    assert lead.consent_status == ConsentStatus.OPTED_OUT
    assert lead.email_status == EmailStatus.UNSUBSCRIBED
    assert lead.status == LeadStatus.UNSUBSCRIBED
    assert lead.activities.filter(type="unsubscribed").exists()
    assert "unsubscribed from email" in str(list(get_messages(response.wsgi_request))[0])


def test_opting_in_an_unsubscribed_lead_without_proof_shows_the_error(unsubscribed, rep, as_member):
    response = as_member(rep).post(consent_url(unsubscribed), data(proof=""))

    assert response.status_code == 400
    assert "record the proof of their new consent" in response.content.decode()
    assert "<html" in response.content.decode()


def test_opting_in_an_unsubscribed_lead_without_proof_changes_nothing(unsubscribed, rep, as_member):
    before = Lead.objects.values().get(pk=unsubscribed.pk)

    as_member(rep).post(consent_url(unsubscribed), data(proof=""))

    assert Lead.objects.values().get(pk=unsubscribed.pk) == before
    assert not ConsentEvent.objects.exists()


def test_opting_in_an_unsubscribed_lead_with_proof_makes_the_email_active(
    unsubscribed, rep, as_member
):
    as_member(rep).post(consent_url(unsubscribed), data())

    unsubscribed.refresh_from_db()
    assert unsubscribed.consent_status == ConsentStatus.OPTED_IN
    assert unsubscribed.email_status == EmailStatus.ACTIVE


def test_opting_in_needs_a_source(lead, rep, as_member):
    response = as_member(rep).post(consent_url(lead), data(source="  "))

    assert response.status_code == 400
    assert response.context["consent_form"].errors["source"] == [
        "Say where the consent comes from."
    ]
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"status": "maybe"}, "status"),
        ({"type": "telepathic"}, "type"),
        ({"gdpr_basis": "vibes"}, "gdpr_basis"),
        ({"country": "Atlantis"}, "country"),
        ({"source": "s" * 201}, "source"),
    ],
)
def test_invalid_input_is_refused_with_400(values, field, lead, rep, as_member):
    response = as_member(rep).post(consent_url(lead), data(**values))

    assert response.status_code == 400
    assert field in response.context["consent_form"].errors
    assert not ConsentEvent.objects.exists()


def test_htmx_invalid_input_returns_the_consent_panel_with_the_error(unsubscribed, rep, as_member):
    response = as_member(rep).post(consent_url(unsubscribed), data(proof=""), **HTMX)

    content = response.content.decode()
    assert response.status_code == 400
    assert "<html" not in content
    assert content.strip().startswith('<section class="card mb-3" id="consent"')
    assert "record the proof of their new consent" in content
    assert '<details class="mt-3" open>' in content


def test_htmx_success_reloads_the_page(lead, rep, as_member):
    response = as_member(rep).post(consent_url(lead), data(), **HTMX)

    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert ConsentEvent.objects.filter(lead=lead).count() == 1


# Who may change consent ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer", "rep"])
def test_members_who_may_change_consent_can(persona, team, lead, as_member, request):
    response = as_member(request.getfixturevalue(persona)).post(consent_url(lead), data())

    assert response.status_code == 302
    assert ConsentEvent.objects.filter(lead=lead).count() == 1


def test_viewer_gets_403_and_nothing_changes(lead, viewer, as_member):
    response = as_member(viewer).post(consent_url(lead), data())

    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


def test_outsider_gets_404_and_nothing_changes(lead, outsider, as_member):
    response = as_member(outsider).post(consent_url(lead), data())

    assert response.status_code == 404
    assert not ConsentEvent.objects.exists()


def test_a_trashed_lead_is_a_404(lead, rep, as_member):
    lead.deleted_at = timezone.now()
    lead.save()

    assert as_member(rep).post(consent_url(lead), data()).status_code == 404


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_it_rejects_other_methods(method, lead, rep, as_member):
    assert getattr(as_member(rep), method)(consent_url(lead)).status_code == 405
