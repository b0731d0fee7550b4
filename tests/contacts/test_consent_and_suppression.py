"""The consent ledger, the suppression list and the erasure registry (PRODUCT C1–C4, C6, C7)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from contacts import erasure
from contacts.consent import consent_record, suppression_add
from contacts.models import (
    Activity,
    ActivityType,
    ConsentEvent,
    ConsentStatus,
    EmailStatus,
    Lead,
    LeadStatus,
    SuppressedEmail,
    SuppressionReason,
)
from contacts.queries import suppressed_emails, suppression_check, suppression_hash
from contacts.services import lead_create
from leadcrm.models import AuditLog, User
from tests.contacts.factories import ConsentEventFactory, LeadFactory, SuppressedEmailFactory


@pytest.fixture
def lead(ws):
    return LeadFactory(workspace=ws)


def _stored(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


# consent_record -----------------------------------------------------------------------------------


def test_consent_record_appends_an_event_per_call(lead, rep):
    consent_record(lead=lead, actor=rep.user, status=ConsentStatus.PENDING)
    consent_record(lead=lead, actor=rep.user, status=ConsentStatus.OPTED_IN, source="Webinar")

    events = list(ConsentEvent.objects.filter(lead=lead).order_by("occurred_at", "id"))
    assert [(e.status_before, e.status) for e in events] == [
        (ConsentStatus.UNKNOWN, ConsentStatus.PENDING),
        (ConsentStatus.PENDING, ConsentStatus.OPTED_IN),
    ]
    assert {e.actor for e in events} == {rep.user}


def test_the_leads_consent_fields_equal_the_latest_event(lead):
    start = timezone.now() - timedelta(hours=3)
    consent_record(
        lead=lead,
        actor=None,
        status=ConsentStatus.OPTED_IN,
        type="explicit",
        source="Trade show badge scan",
        proof="Scan 17",
        gdpr_basis="consent",
        country="Deutschland",
        occurred_at=start,
    )
    consent_record(
        lead=lead,
        actor=None,
        status=ConsentStatus.PENDING,
        type="implied",
        source="Newsletter form",
        gdpr_basis="legitimate_interest",
        country="USA",
        occurred_at=start + timedelta(hours=1),
    )

    latest = ConsentEvent.objects.filter(lead=lead).latest("occurred_at")
    stored = _stored(lead)
    assert (
        stored.consent_status,
        stored.consent_type,
        stored.consent_captured_at,
        stored.consent_source,
        stored.consent_proof,
        stored.gdpr_basis,
        stored.consent_country,
    ) == (
        latest.status,
        latest.type,
        latest.occurred_at,
        latest.source,
        latest.proof,
        latest.gdpr_basis,
        latest.country,
    )
    assert (latest.status, latest.country) == (ConsentStatus.PENDING, "US")


def test_consent_record_bumps_the_version_and_writes_an_audit_entry(lead, owner):
    consent_record(lead=lead, actor=owner.user, status=ConsentStatus.OPTED_IN, source="Form")

    assert _stored(lead).version == 2
    entry = AuditLog.objects.get(action="lead.consent")
    assert entry.changes["consent_status"] == [ConsentStatus.UNKNOWN, ConsentStatus.OPTED_IN]
    assert entry.changes["version"] == [1, 2]


def test_opting_in_needs_a_source(lead):
    with pytest.raises(ValidationError) as error:
        consent_record(lead=lead, actor=None, status=ConsentStatus.OPTED_IN, source="  ")

    assert "source" in error.value.error_dict
    assert not ConsentEvent.objects.exists()
    assert _stored(lead).consent_status == ConsentStatus.UNKNOWN


def test_opting_in_after_an_unsubscribe_needs_proof(ws):
    lead = lead_create(workspace=ws, actor=None, email="ann@example.com", status="unsubscribed")

    with pytest.raises(ValidationError) as error:
        consent_record(lead=lead, actor=None, status=ConsentStatus.OPTED_IN, source="Form")

    assert "proof" in error.value.error_dict
    assert ConsentEvent.objects.filter(lead=lead).count() == 1
    assert _stored(lead).consent_status == ConsentStatus.OPTED_OUT


def test_opting_in_with_proof_after_an_unsubscribe_makes_the_email_active_again(ws):
    lead = lead_create(workspace=ws, actor=None, email="ann@example.com", status="unsubscribed")

    consent_record(
        lead=lead, actor=None, status=ConsentStatus.OPTED_IN, source="Form", proof="Signed form"
    )

    stored = _stored(lead)
    assert (stored.consent_status, stored.email_status, stored.consent_proof) == (
        ConsentStatus.OPTED_IN,
        EmailStatus.ACTIVE,
        "Signed form",
    )


def test_opting_out_goes_through_lead_unsubscribe(lead, rep):
    consent_record(lead=lead, actor=rep.user, status=ConsentStatus.OPTED_OUT, channel="link")

    stored = _stored(lead)
    assert (stored.status, stored.email_status, stored.consent_status) == (
        LeadStatus.UNSUBSCRIBED,
        EmailStatus.UNSUBSCRIBED,
        ConsentStatus.OPTED_OUT,
    )
    event = ConsentEvent.objects.get(lead=lead)
    assert (event.status, event.channel) == (ConsentStatus.OPTED_OUT, "link")
    assert Activity.objects.filter(lead=lead, type=ActivityType.UNSUBSCRIBED).exists()
    assert AuditLog.objects.filter(action="lead.unsubscribe").exists()


def test_consent_record_refuses_an_unknown_status(lead):
    with pytest.raises(ValidationError):
        consent_record(lead=lead, actor=None, status="maybe")

    assert not ConsentEvent.objects.exists()


# The ledger is append-only ------------------------------------------------------------------------


def test_saving_an_existing_consent_event_is_refused(lead):
    event = ConsentEventFactory(lead=lead, source="Form")
    event.source = "Changed"

    with pytest.raises(PermissionError):
        event.save()

    assert ConsentEvent.objects.get(pk=event.pk).source == "Form"


def test_updating_consent_events_in_bulk_is_refused(lead):
    ConsentEventFactory(lead=lead, source="Form")

    with pytest.raises(PermissionError):
        ConsentEvent.objects.filter(lead=lead).update(source="Changed")

    assert ConsentEvent.objects.get(lead=lead).source == "Form"


def test_deleting_consent_events_in_bulk_is_refused(lead):
    ConsentEventFactory(lead=lead)

    with pytest.raises(PermissionError):
        ConsentEvent.objects.all().delete()

    assert ConsentEvent.objects.filter(lead=lead).count() == 1


def test_deleting_one_consent_event_is_refused(lead):
    event = ConsentEventFactory(lead=lead)

    with pytest.raises(PermissionError):
        event.delete()

    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_deleting_the_lead_removes_its_consent_events_by_cascade(lead, ws):
    ConsentEventFactory.create_batch(2, lead=lead)
    kept = ConsentEventFactory(lead=LeadFactory(workspace=ws))

    lead.delete()

    assert list(ConsentEvent.objects.all()) == [kept]


@pytest.fixture
def operator_client(client, db):
    operator = User.objects.create_superuser("root@operator.test", "pw-for-tests-only")
    client.force_login(operator)
    return client


def test_the_admin_refuses_to_change_a_consent_event(operator_client, lead):
    event = ConsentEventFactory(lead=lead, source="Form")
    url = reverse("admin:contacts_consentevent_change", args=[event.pk])

    response = operator_client.post(url, {"source": "Changed", "status": "opted_in"})

    assert response.status_code == 403
    assert ConsentEvent.objects.get(pk=event.pk).source == "Form"


def test_the_admin_refuses_to_delete_a_consent_event(operator_client, lead):
    event = ConsentEventFactory(lead=lead)
    url = reverse("admin:contacts_consentevent_delete", args=[event.pk])

    response = operator_client.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_the_admin_refuses_to_delete_consent_events_from_the_list(operator_client, lead):
    event = ConsentEventFactory(lead=lead)
    url = reverse("admin:contacts_consentevent_changelist")

    operator_client.post(
        url, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )

    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_the_admin_offers_no_way_to_add_a_consent_event(operator_client, lead):
    url = reverse("admin:contacts_consentevent_add")

    response = operator_client.post(
        url, {"lead": lead.pk, "workspace": lead.workspace_id, "status": "opted_in"}
    )

    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


# Suppression --------------------------------------------------------------------------------------


def test_suppression_hash_is_the_same_for_any_spelling_of_the_address():
    assert suppression_hash(" Ann@Example.COM ") == suppression_hash("ann@example.com")


def test_suppression_hash_differs_between_addresses():
    assert suppression_hash("ann@example.com") != suppression_hash("bob@example.com")


def test_suppression_hash_depends_on_the_suppression_key(settings):
    before = suppression_hash("ann@example.com")

    settings.SUPPRESSION_KEY = "another-suppression-key"

    assert suppression_hash("ann@example.com") != before


def test_suppression_hash_does_not_depend_on_the_secret_key(settings):
    before = suppression_hash("ann@example.com")

    settings.SECRET_KEY = "a-rotated-secret-key-that-is-long-enough-for-django-checks"

    assert suppression_hash("ann@example.com") == before


def test_a_suppressed_email_is_stored_without_the_plaintext_address(ws, owner):
    suppression_add(workspace=ws, email="Ann.Secret@Example.com", reason="manual", actor=owner.user)

    row = SuppressedEmail.objects.get()
    stored = " ".join(str(getattr(row, f.attname)) for f in SuppressedEmail._meta.concrete_fields)
    assert "ann.secret" not in stored.lower()
    assert "example.com" not in stored.lower()
    assert row.email_hash == suppression_hash("ann.secret@example.com")


def test_suppression_check_matches_any_spelling_in_the_workspace_only(ws, other_ws):
    suppression_add(workspace=ws, email="ann@example.com", reason="unsubscribed", actor=None)

    assert suppression_check(workspace=ws, email="  ANN@example.com")
    assert not suppression_check(workspace=ws, email="bob@example.com")
    assert not suppression_check(workspace=other_ws, email="ann@example.com")


def test_suppression_check_finds_a_row_stored_by_hash(ws):
    SuppressedEmailFactory(workspace=ws, email="ann@example.com")

    assert suppression_check(workspace=ws, email="Ann@Example.com")


def test_suppressed_emails_returns_the_suppressed_subset_as_given(ws, other_ws):
    suppression_add(workspace=ws, email="ann@example.com", reason="manual", actor=None)
    suppression_add(workspace=other_ws, email="bob@example.com", reason="manual", actor=None)

    found = suppressed_emails(
        workspace=ws, emails=["Ann@Example.com", "bob@example.com", "carl@example.com"]
    )

    assert found == {"Ann@Example.com"}


def test_suppression_add_twice_keeps_one_row_and_one_audit_entry(ws, owner):
    first = suppression_add(
        workspace=ws, email="ann@example.com", reason="manual", actor=owner.user
    )

    second = suppression_add(
        workspace=ws, email="ANN@example.com ", reason="bounced", actor=owner.user
    )

    assert first.pk == second.pk
    assert SuppressedEmail.objects.count() == 1
    assert SuppressedEmail.objects.get().reason == SuppressionReason.MANUAL
    assert AuditLog.objects.filter(action="suppression.add").count() == 1


def test_the_suppression_audit_entry_does_not_name_the_email(ws, owner):
    suppression_add(workspace=ws, email="ann.secret@example.com", reason="manual", actor=owner.user)

    entry = AuditLog.objects.get(action="suppression.add")
    assert "ann.secret" not in entry.object_repr
    assert "ann.secret" not in str(entry.changes)


def test_suppression_add_refuses_an_unknown_reason(ws):
    with pytest.raises(ValidationError):
        suppression_add(workspace=ws, email="ann@example.com", reason="dislike", actor=None)

    assert not SuppressedEmail.objects.exists()


# Erasure-handler registry -------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    """An empty registry for the test; the apps' own handlers come back afterwards."""
    monkeypatch.setattr(erasure, "_handlers", [])
    return erasure


def test_registering_a_handler_twice_keeps_it_once(registry):
    def handler(**kwargs):
        pass

    registry.erasure_handler_register(handler)
    registry.erasure_handler_register(handler)

    assert registry.erasure_handlers() == (handler,)


def test_erasure_handlers_are_called_in_registration_order_with_the_ids(registry, ws):
    calls = []

    @registry.erasure_handler_register
    def first(*, workspace, lead_ids, email_hashes):
        calls.append(("first", workspace, lead_ids, email_hashes))

    @registry.erasure_handler_register
    def second(*, workspace, lead_ids, email_hashes):
        calls.append(("second", workspace, lead_ids, email_hashes))

    registry.erasure_handlers_run(workspace=ws, lead_ids=(3, 5), email_hashes=("h1",))

    assert calls == [("first", ws, [3, 5], ["h1"]), ("second", ws, [3, 5], ["h1"])]
