"""Compliance on the lead view (PRODUCT C1/C2, C4–C6): the Do Not Contact toggle, the consent
history, GDPR access export and erasure of one lead."""

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from compliance.models import ErasureRequest
from contacts.models import (
    ConsentEvent,
    ConsentStatus,
    EmailStatus,
    Lead,
    LeadStatus,
    SuppressedEmail,
)
from contacts.queries import suppression_check
from leadcrm.models import AuditLog
from tests.contacts.factories import (
    ActivityFactory,
    ConsentEventFactory,
    LeadFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

HTMX = {"headers": {"HX-Request": "true"}}
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"


def page_url(lead, query: str = "") -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk]) + query


def dnc_url(lead) -> str:
    return reverse("compliance:lead-do-not-contact", args=[lead.pk])


def export_url(lead) -> str:
    return reverse("compliance:lead-gdpr-export", args=[lead.pk])


def erase_url(lead) -> str:
    return reverse("compliance:lead-erase", args=[lead.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def trash(lead) -> None:
    lead.deleted_at = timezone.now()
    lead.save()


@pytest.fixture
def lead(ws, rep):
    return LeadFactory(
        workspace=ws,
        owner=rep.user,
        email="ada@example.test",
        first_name="Ada",
        last_name="Lovelace",
    )


# Do Not Contact (C4) ---------------------------------------------------------------------------


def test_marking_do_not_contact_sets_the_flag(lead, rep, as_member):
    as_member(rep).post(dnc_url(lead), {"value": "on"})

    lead.refresh_from_db()
    assert lead.do_not_contact is True


def test_marking_do_not_contact_writes_the_audit_entry(lead, rep, as_member):
    as_member(rep).post(dnc_url(lead), {"value": "on"})

    entry = AuditLog.objects.get(action="lead.do_not_contact")
    assert entry.actor == rep.user
    assert entry.object_id == str(lead.pk)
    assert entry.changes["do_not_contact"] == [False, True]


def test_allowing_contact_again_clears_the_flag_and_is_audited(lead, rep, as_member):
    lead.do_not_contact = True
    lead.save()

    as_member(rep).post(dnc_url(lead), {"value": "off"})

    lead.refresh_from_db()
    assert lead.do_not_contact is False
    entry = AuditLog.objects.get(action="lead.do_not_contact")
    assert entry.changes["do_not_contact"] == [True, False]


def test_the_toggle_redirects_back_to_the_consent_card_with_a_message(lead, rep, as_member):
    response = as_member(rep).post(dnc_url(lead), {"value": "on"})

    assert response.status_code == 302
    assert response["Location"] == page_url(lead) + "#consent"
    assert messages_of(response) == [
        "Ada Lovelace is marked Do Not Contact: no email, call or sequence step goes to them."
    ]


def test_htmx_toggle_answers_with_the_consent_card_and_the_header_badge(lead, rep, as_member):
    headers = {"HX-Request": "true", "HX-Target": "consent"}

    response = as_member(rep).post(dnc_url(lead), {"value": "on"}, headers=headers, follow=True)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.strip().startswith('<section class="card mb-3" id="consent"')
    assert "Allow contact again" in content
    assert (
        '<span class="badge text-bg-danger" id="dnc-badge" hx-swap-oob="true">Do not contact</span>'
        in content
    )


def test_the_lead_page_offers_mark_do_not_contact(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert dnc_url(lead) in content
    assert "Mark Do Not Contact" in content
    assert '<span class="badge text-bg-danger" id="dnc-badge"></span>' in content


def test_allowing_contact_again_asks_for_confirmation(lead, rep, as_member):
    lead.do_not_contact = True
    lead.save()

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "Allow contact again" in content
    assert 'hx-confirm="Allow contact with Ada Lovelace again?' in content
    assert '<span class="badge text-bg-danger" id="dnc-badge">Do not contact</span>' in content


def test_viewer_sees_no_do_not_contact_toggle(lead, viewer, as_member):
    content = as_member(viewer).get(page_url(lead)).content.decode()

    assert dnc_url(lead) not in content


def test_viewer_gets_403_on_the_toggle_and_nothing_changes(lead, viewer, as_member):
    response = as_member(viewer).post(dnc_url(lead), {"value": "on"})

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.do_not_contact is False


def test_an_unknown_value_is_a_400(lead, rep, as_member):
    response = as_member(rep).post(dnc_url(lead), {"value": "maybe"})

    assert response.status_code == 400
    assert not AuditLog.objects.filter(action="lead.do_not_contact").exists()


def test_a_trashed_lead_is_refused_with_a_message(lead, rep, as_member):
    trash(lead)

    response = as_member(rep).post(dnc_url(lead), {"value": "on"})

    assert response.status_code == 302
    assert response["Location"] == reverse("pipeline:trash")
    assert messages_of(response) == ["This lead is in the trash; restore it to change it."]
    lead.refresh_from_db()
    assert lead.do_not_contact is False


def test_htmx_on_a_trashed_lead_gets_the_reason_as_text(lead, rep, as_member):
    trash(lead)

    response = as_member(rep).post(dnc_url(lead), {"value": "on"}, **HTMX)

    assert response.status_code == 409
    assert response.content.decode() == "This lead is in the trash; restore it to change it."


def test_the_toggle_rejects_get(lead, rep, as_member):
    assert as_member(rep).get(dnc_url(lead)).status_code == 405


# Consent history (C1/C2) -----------------------------------------------------------------------


def test_the_history_shows_the_request_ip_and_user_agent(lead, rep, as_member):
    ConsentEventFactory(lead=lead, ip_address="198.51.100.4", user_agent=UA)

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "198.51.100.4" in content
    assert f'title="{UA}">Mozilla/5.0 (Macintosh; Intel M…</div>' in content


def test_the_history_shows_the_consent_type_and_gdpr_basis(lead, rep, as_member):
    ConsentEventFactory(lead=lead, type="explicit", gdpr_basis="legitimate_interest")

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert 'Explicit · <span title="GDPR basis">Legitimate Interest</span>' in content


def _events(lead, count: int) -> None:
    start = timezone.now() - timedelta(days=count)
    for i in range(count):
        ConsentEventFactory(lead=lead, source=f"source {i}", occurred_at=start + timedelta(days=i))


def test_a_long_history_offers_to_show_all_changes(lead, rep, as_member):
    _events(lead, 55)

    response = as_member(rep).get(page_url(lead))

    content = response.content.decode()
    assert len(response.context["ledger"]) == 50
    assert "Show all 55 changes" in content
    assert "source 54" in content
    assert "source 4<" not in content


def test_show_all_lists_every_change(lead, rep, as_member):
    _events(lead, 55)

    response = as_member(rep).get(page_url(lead, "?ledger=all"))

    assert len(response.context["ledger"]) == 55
    assert "source 0<" in response.content.decode()
    assert "Show all" not in response.content.decode()


def test_htmx_show_all_returns_only_the_history(lead, rep, as_member):
    _events(lead, 55)
    headers = {"HX-Request": "true", "HX-Target": "consent-history"}

    response = as_member(rep).get(page_url(lead, "?ledger=all"), headers=headers)

    content = response.content.decode()
    assert "<html" not in content
    assert content.strip().startswith('<div id="consent-history">')
    assert content.count("data-consent-event=") == 55


def test_show_all_is_bounded(lead, rep, as_member, monkeypatch):
    monkeypatch.setattr("pipeline.lead_views.LEDGER_ALL_LIMIT", 52)
    _events(lead, 55)

    response = as_member(rep).get(page_url(lead, "?ledger=all"))

    assert len(response.context["ledger"]) == 52
    assert "Showing the latest 52 of 55 changes." in response.content.decode()


def test_an_unsubscribed_lead_says_opting_in_again_needs_source_and_proof(ws, rep, as_member):
    lead = LeadFactory(
        workspace=ws,
        status=LeadStatus.UNSUBSCRIBED,
        email_status=EmailStatus.UNSUBSCRIBED,
        consent_status=ConsentStatus.OPTED_OUT,
    )

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert 'id="consent-resubscribe"' in content
    assert "This lead unsubscribed. To opt them in again" in content


def test_a_subscribed_lead_has_no_resubscribe_note(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert 'id="consent-resubscribe"' not in content


def test_opting_in_an_unsubscribed_lead_without_proof_is_refused(ws, rep, as_member):
    lead = LeadFactory(
        workspace=ws,
        status=LeadStatus.UNSUBSCRIBED,
        email_status=EmailStatus.UNSUBSCRIBED,
        consent_status=ConsentStatus.OPTED_OUT,
    )
    before = Lead.objects.values().get(pk=lead.pk)

    response = as_member(rep).post(
        reverse("pipeline:lead-consent", args=[lead.pk]),
        {"status": "opted_in", "source": "Came back at the fair", "proof": ""},
    )

    assert response.status_code == 400
    assert "record the proof of their new consent" in response.content.decode()
    assert Lead.objects.values().get(pk=lead.pk) == before
    assert not ConsentEvent.objects.filter(lead=lead).exists()


# GDPR access export (C5) -----------------------------------------------------------------------


def _document(response) -> dict:
    return json.loads(b"".join(response.streaming_content))


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owner_and_admin_export_the_lead_as_json(persona, team, lead, as_member, request):
    response = as_member(request.getfixturevalue(persona)).get(export_url(lead))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = _document(response)
    assert document["lead"]["email"] == "ada@example.test"
    assert document["lead"]["last_name"] == "Lovelace"


def test_the_export_is_an_attachment_named_after_the_lead_id(lead, owner, as_member):
    response = as_member(owner).get(export_url(lead))

    assert response["Content-Disposition"] == (
        f'attachment; filename="lead-{lead.pk}-gdpr-export.json"'
    )


def test_the_export_writes_an_audit_entry_without_personal_data(lead, owner, as_member):
    response = as_member(owner).get(export_url(lead))
    _document(response)

    entry = AuditLog.objects.get(action="lead.gdpr_export")
    assert entry.actor == owner.user
    assert entry.object_id == str(lead.pk)
    changes = json.dumps(entry.changes)
    assert "ada@example.test" not in changes
    assert "Lovelace" not in changes


def test_a_trashed_lead_can_be_exported(lead, owner, as_member):
    trash(lead)

    response = as_member(owner).get(export_url(lead))

    assert response.status_code == 200
    assert _document(response)["lead"]["email"] == "ada@example.test"


def test_the_export_rejects_post(lead, owner, as_member):
    assert as_member(owner).post(export_url(lead)).status_code == 405


# Who sees and may use GDPR actions (W3) --------------------------------------------------------


@pytest.mark.parametrize("persona", ["marketer", "rep", "viewer"])
@pytest.mark.parametrize("url", [export_url, erase_url])
def test_roles_without_gdpr_permissions_get_403(persona, url, team, lead, as_member, request):
    client = as_member(request.getfixturevalue(persona))

    assert client.get(url(lead)).status_code == 403
    assert client.post(erase_url(lead), {"confirmation": lead.email}).status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert not AuditLog.objects.filter(action="lead.gdpr_export").exists()


@pytest.mark.parametrize("persona", ["marketer", "rep", "viewer"])
def test_roles_without_gdpr_permissions_see_no_actions_menu(
    persona, team, lead, as_member, request
):
    content = as_member(request.getfixturevalue(persona)).get(page_url(lead)).content.decode()

    assert 'id="lead-actions"' not in content
    assert "Export data (GDPR)" not in content
    assert "Erase (GDPR)" not in content


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owner_and_admin_see_the_gdpr_actions(persona, team, lead, as_member, request):
    content = as_member(request.getfixturevalue(persona)).get(page_url(lead)).content.decode()

    assert 'id="lead-actions"' in content
    assert f'href="{export_url(lead)}" download' in content
    assert f'href="{erase_url(lead)}"' in content
    history = f"{reverse('audit-log')}?object_type=contacts.lead&amp;object_id={lead.pk}"
    assert history in content
    # Edit and Delete stay as buttons of their own.
    assert reverse("pipeline:lead-edit", args=[lead.pk]) in content


@pytest.mark.parametrize(
    "method, url, data",
    [
        ("post", dnc_url, {"value": "on"}),
        ("get", export_url, {}),
        ("get", erase_url, {}),
        ("post", erase_url, {"confirmation": "ada@example.test"}),
    ],
)
def test_outsider_gets_404_for_another_workspaces_lead(
    method, url, data, lead, outsider, as_member
):
    response = getattr(as_member(outsider), method)(url(lead), data)

    assert response.status_code == 404
    lead.refresh_from_db()
    assert lead.do_not_contact is False


# GDPR erasure (C6) -----------------------------------------------------------------------------


def test_the_erase_page_says_what_will_be_erased(ws, lead, owner, as_member):
    ActivityFactory.create_batch(3, lead=lead)
    ConsentEventFactory(lead=lead)
    SegmentMembershipFactory(segment=SegmentFactory(workspace=ws), lead=lead)

    response = as_member(owner).get(erase_url(lead))

    content = response.content.decode()
    assert response.status_code == 200
    assert dict(response.context["erased"]) == {
        "leads": 1,
        "activities": 3,
        "consent events": 1,
        "segment memberships": 1,
        "sequence enrolments": 0,
        "import undo snapshots": 0,
        "import error-report rows": 0,
        "tag links": 0,
    }
    assert '<li data-erase="activities">Activities: <strong>3</strong></li>' in content
    assert "This cannot be undone." in content
    assert "suppression list" in content
    assert "Type the lead&#x27;s email address to confirm" in content
    assert "Erase for good" in content


def test_the_erase_page_runs_a_bounded_number_of_queries(
    lead, owner, as_member, django_assert_max_num_queries
):
    client = as_member(owner)
    # session, user, membership, permissions, lead, 7 counts, error-report rows, audit entries
    with django_assert_max_num_queries(14):
        client.get(erase_url(lead))


def test_a_wrong_email_is_a_400_and_erases_nothing(lead, owner, as_member):
    response = as_member(owner).post(erase_url(lead), {"confirmation": "ada@example.org"})

    assert response.status_code == 400
    assert response.context["form"].errors["confirmation"] == [
        "Type the lead's email address exactly as shown to confirm."
    ]
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert not ErasureRequest.objects.exists()
    assert not SuppressedEmail.objects.exists()


def test_an_empty_confirmation_is_a_400(lead, owner, as_member):
    response = as_member(owner).post(erase_url(lead), {})

    assert response.status_code == 400
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_the_right_email_in_another_case_erases_the_lead(lead, owner, as_member):
    response = as_member(owner).post(erase_url(lead), {"confirmation": "  ADA@Example.test "})

    erasure = ErasureRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("erasure-detail", args=[erasure.pk])
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert messages_of(response) == ["1 lead erased. Its address is on the suppression list."]


def test_an_erased_address_is_on_the_suppression_list(ws, lead, owner, as_member):
    as_member(owner).post(erase_url(lead), {"confirmation": "ada@example.test"})

    assert suppression_check(workspace=ws, email="ada@example.test")


def test_a_trashed_lead_can_be_erased(lead, owner, as_member):
    trash(lead)
    client = as_member(owner)

    page = client.get(erase_url(lead))
    response = client.post(erase_url(lead), {"confirmation": "ada@example.test"})

    assert page.status_code == 200
    assert f'href="{reverse("pipeline:trash")}"' in page.content.decode()
    assert response.status_code == 302
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_htmx_erase_is_sent_on_with_hx_redirect(lead, owner, as_member):
    response = as_member(owner).post(erase_url(lead), {"confirmation": "ada@example.test"}, **HTMX)

    erasure = ErasureRequest.objects.get()
    assert response["HX-Redirect"] == reverse("erasure-detail", args=[erasure.pk])
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_htmx_wrong_email_returns_the_form_with_its_error(lead, owner, as_member):
    response = as_member(owner).post(erase_url(lead), {"confirmation": "nope"}, **HTMX)

    content = response.content.decode()
    assert response.status_code == 400
    assert "<html" not in content
    assert content.strip().startswith('<div class="card border-danger" id="lead-erase">')
    assert "exactly as shown to confirm" in content
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_erase_rejects_other_methods(lead, owner, as_member):
    assert as_member(owner).put(erase_url(lead)).status_code == 405
