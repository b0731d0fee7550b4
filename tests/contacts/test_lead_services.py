"""lead_create/update/delete/restore, the trash purge, reassign and tags (PRODUCT 2, L6)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.consent import consent_record, suppression_add
from contacts.models import (
    Activity,
    ActivityType,
    Company,
    ConsentEvent,
    ConsentStatus,
    CustomFieldType,
    EmailStatus,
    Lead,
    LeadStatus,
    Tag,
)
from contacts.queries import leads_for, trash_for
from contacts.services import (
    LeadChanged,
    lead_create,
    lead_delete,
    lead_restore,
    lead_update,
    leads_purge_trash,
    leads_reassign,
    tags_for_names,
)
from leadcrm.models import AuditLog
from tests.contacts.factories import (
    ActivityFactory,
    CompanyFactory,
    ConsentEventFactory,
    CustomFieldFactory,
    LeadFactory,
    TagFactory,
)


def _create(ws, actor=None, email="ann@example.com", **fields):
    return lead_create(workspace=ws, actor=actor, email=email, **fields)


def _error_codes(error: ValidationError, field: str) -> list[str]:
    return [e.code for e in error.error_dict[field]]


# lead_create: email -------------------------------------------------------------------------------


def test_lead_create_lower_cases_and_trims_the_email(ws):
    lead = _create(ws, email="  Ann.Smith@Example.COM ")

    assert Lead.objects.get(pk=lead.pk).email == "ann.smith@example.com"


def test_lead_create_refuses_an_invalid_email(ws):
    with pytest.raises(ValidationError) as error:
        _create(ws, email="not-an-email")

    assert "email" in error.value.error_dict
    assert not Lead.objects.exists()


def test_lead_create_refuses_a_duplicate_email_in_the_same_workspace_case_insensitively(ws):
    first = _create(ws, email="ann@example.com")

    with pytest.raises(ValidationError) as error:
        _create(ws, email="ANN@Example.com")

    (email_error,) = error.value.error_dict["email"]
    assert email_error.code == "duplicate"
    assert email_error.params == {"lead_id": first.pk}
    assert Lead.objects.count() == 1


def test_lead_create_allows_the_same_email_in_another_workspace(ws, other_ws):
    _create(ws, email="ann@example.com")

    _create(other_ws, email="ann@example.com")

    assert Lead.objects.filter(email="ann@example.com").count() == 2


def test_lead_create_refuses_an_email_that_is_in_the_trash(ws):
    trashed = _create(ws, email="ann@example.com")
    lead_delete(lead=trashed, actor=None)

    with pytest.raises(ValidationError) as error:
        _create(ws, email="Ann@example.com")

    (email_error,) = error.value.error_dict["email"]
    assert email_error.code == "in_trash"
    assert email_error.params == {"lead_id": trashed.pk}
    assert Lead.objects.count() == 1


def test_database_refuses_a_second_live_lead_with_the_same_lower_cased_email(ws):
    LeadFactory(workspace=ws, email="ann@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.create(workspace=ws, email="ANN@example.com")


def test_database_allows_a_live_lead_with_the_email_of_a_lead_in_the_trash(ws):
    LeadFactory(workspace=ws, email="ann@example.com", deleted_at=timezone.now())

    Lead.objects.create(workspace=ws, email="ANN@example.com")

    assert Lead.objects.filter(email__iexact="ann@example.com").count() == 2


# lead_create: phone, country, domain --------------------------------------------------------------


def test_lead_create_normalises_the_phone_to_e164_with_the_country(ws):
    lead = _create(ws, phone="030 1234567", country="DE")

    assert Lead.objects.get(pk=lead.pk).phone == "+49301234567"


def test_lead_create_normalises_a_phone_with_a_plus_prefix_to_e164_without_a_country(ws):
    lead = _create(ws, phone="+1 (415) 555-2671")

    assert Lead.objects.get(pk=lead.pk).phone == "+14155552671"


def test_lead_create_keeps_a_phone_as_typed_without_a_country(ws):
    lead = _create(ws, phone="(030) 123-4567")

    assert Lead.objects.get(pk=lead.pk).phone == "(030) 123-4567"


def test_lead_create_refuses_an_invalid_phone(ws):
    with pytest.raises(ValidationError) as error:
        _create(ws, phone="call me maybe")

    assert "phone" in error.value.error_dict
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("USA", "US"), ("United States", "US"), ("uk", "GB"), ("Deutschland", "DE")],
)
def test_lead_create_stores_country_aliases_as_iso_codes(ws, typed, stored):
    lead = _create(ws, country=typed)

    assert Lead.objects.get(pk=lead.pk).country == stored


def test_lead_create_refuses_an_unknown_country(ws):
    with pytest.raises(ValidationError) as error:
        _create(ws, country="Narnia")

    assert "country" in error.value.error_dict
    assert not Lead.objects.exists()


def test_lead_create_defaults_the_domain_to_the_email_domain(ws):
    lead = _create(ws, email="ann@acme-corp.com")

    assert Lead.objects.get(pk=lead.pk).domain == "acme-corp.com"


def test_lead_create_leaves_the_domain_empty_for_free_mail(ws):
    lead = _create(ws, email="ann@gmail.com")

    assert Lead.objects.get(pk=lead.pk).domain == ""


# lead_create: company, owner, tags ----------------------------------------------------------------


def test_lead_create_reuses_a_company_given_by_name_case_insensitively(ws):
    first = _create(ws, email="ann@example.com", company="Acme Corp")
    second = _create(ws, email="bob@example.com", company="  ACME   corp ")

    assert Company.objects.filter(workspace=ws).count() == 1
    assert Lead.objects.get(pk=first.pk).company_id == Lead.objects.get(pk=second.pk).company_id


def test_lead_create_accepts_a_member_as_owner(ws, rep):
    lead = _create(ws, owner=rep.user)

    assert Lead.objects.get(pk=lead.pk).owner == rep.user


def test_lead_create_refuses_an_owner_who_is_not_a_member(ws, outsider):
    with pytest.raises(ValidationError) as error:
        _create(ws, owner=outsider.user)

    assert "owner" in error.value.error_dict
    assert not Lead.objects.exists()


def test_lead_create_creates_tags_by_name_and_reuses_existing_ones(ws):
    existing = TagFactory(workspace=ws, name="VIP")

    lead = _create(ws, tags=["vip", "Newsletter"])

    assert set(Lead.objects.get(pk=lead.pk).tags.values_list("name", flat=True)) == {
        "VIP",
        "Newsletter",
    }
    assert Tag.objects.filter(workspace=ws).count() == 2
    assert existing.leads.filter(pk=lead.pk).exists()


# lead_create: custom fields -----------------------------------------------------------------------

CUSTOM_FIELD_CASES = [
    # type, choices, typed value, stored value, invalid value
    (CustomFieldType.TEXT, [], "  Enterprise  ", "Enterprise", "x" * 1001),
    (CustomFieldType.NUMBER, [], "1234.5", 1234.5, "12 apples"),
    (CustomFieldType.DATE, [], "2025-03-31", "2025-03-31", "31/03/2025"),
    (CustomFieldType.BOOLEAN, [], "yes", True, "maybe"),
    (CustomFieldType.CHOICE, ["SaaS", "Retail"], "saas", "SaaS", "Mining"),
]


@pytest.mark.parametrize(("type", "choices", "typed", "stored", "invalid"), CUSTOM_FIELD_CASES)
def test_lead_create_stores_a_valid_custom_field_value_cleaned(
    ws, type, choices, typed, stored, invalid
):
    CustomFieldFactory(workspace=ws, key="extra", type=type, choices=choices)

    lead = _create(ws, attributes={"extra": typed})

    assert Lead.objects.get(pk=lead.pk).attributes == {"extra": stored}


@pytest.mark.parametrize(("type", "choices", "typed", "stored", "invalid"), CUSTOM_FIELD_CASES)
def test_lead_create_refuses_an_invalid_custom_field_value(
    ws, type, choices, typed, stored, invalid
):
    CustomFieldFactory(workspace=ws, key="extra", type=type, choices=choices)

    with pytest.raises(ValidationError) as error:
        _create(ws, attributes={"extra": invalid})

    assert "extra" in error.value.error_dict
    assert not Lead.objects.exists()


def test_lead_create_refuses_an_unknown_custom_field(ws):
    with pytest.raises(ValidationError) as error:
        _create(ws, attributes={"nope": "x"})

    assert "nope" in error.value.error_dict
    assert not Lead.objects.exists()


# lead_create: search text, suppression, unsubscribed ----------------------------------------------


def test_lead_create_fills_search_text_case_folded_with_accents_kept(ws):
    lead = _create(
        ws, email="Zoe.Muller@Example.com", first_name="Zoë", last_name="Müller", company="ÄRZTE AG"
    )

    search_text = Lead.objects.get(pk=lead.pk).search_text
    assert "zoë" in search_text
    assert "müller" in search_text
    assert "zoe.muller@example.com" in search_text
    assert "ärzte ag" in search_text


def test_lead_create_refuses_a_suppressed_email(ws):
    suppression_add(workspace=ws, email="ann@example.com", reason="manual", actor=None)

    with pytest.raises(ValidationError) as error:
        _create(ws, email=" ANN@example.com")

    assert "email" in error.value.error_dict
    assert not Lead.objects.exists()


def test_lead_create_with_status_unsubscribed_records_the_opt_out(ws):
    lead = _create(ws, status=LeadStatus.UNSUBSCRIBED)

    stored = Lead.objects.get(pk=lead.pk)
    assert stored.status == LeadStatus.UNSUBSCRIBED
    assert stored.email_status == EmailStatus.UNSUBSCRIBED
    assert stored.consent_status == ConsentStatus.OPTED_OUT
    assert ConsentEvent.objects.filter(lead=lead, status=ConsentStatus.OPTED_OUT).count() == 1


def test_lead_create_of_a_converted_lead_with_email_status_unsubscribed_stays_converted(ws):
    lead = _create(ws, status=LeadStatus.CONVERTED, email_status=EmailStatus.UNSUBSCRIBED)

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.status, stored.email_status) == (
        LeadStatus.CONVERTED,
        EmailStatus.UNSUBSCRIBED,
    )
    assert ConsentEvent.objects.filter(lead=lead, status=ConsentStatus.OPTED_OUT).count() == 1


def test_lead_create_writes_a_lead_create_audit_entry(ws, owner):
    lead = _create(ws, actor=owner.user, first_name="Ann")

    entry = AuditLog.objects.get(action="lead.create")
    assert entry.object_id == str(lead.pk)
    assert entry.actor == owner.user
    assert entry.changes["first_name"] == [None, "Ann"]


# lead_update --------------------------------------------------------------------------------------


def test_lead_update_saves_the_changes_and_bumps_the_version(ws, owner):
    lead = _create(ws, first_name="Ann")

    lead_update(lead=lead, actor=owner.user, first_name="Anna", city="Berlin")

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.first_name, stored.city, stored.version) == ("Anna", "Berlin", 2)
    assert "anna" in stored.search_text


def test_lead_update_writes_an_audit_entry_with_old_and_new_values_and_the_version(ws, owner):
    lead = _create(ws, first_name="Ann")

    lead_update(lead=lead, actor=owner.user, first_name="Anna")

    entry = AuditLog.objects.get(action="lead.update")
    assert entry.object_id == str(lead.pk)
    assert entry.actor == owner.user
    assert entry.changes == {"first_name": ["Ann", "Anna"], "version": [1, 2]}


def test_lead_update_without_a_change_changes_nothing_and_writes_no_audit(ws, owner):
    lead = _create(ws, first_name="Ann", country="DE")
    before = Lead.objects.get(pk=lead.pk)

    lead_update(lead=lead, actor=owner.user, first_name=" Ann ", country="Deutschland")

    after = Lead.objects.get(pk=lead.pk)
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    assert not AuditLog.objects.filter(action="lead.update").exists()


def test_lead_update_on_a_stale_version_raises_lead_changed_naming_the_fields_changed_since(ws):
    lead = _create(ws)
    lead_update(lead=lead, actor=None, job_title="CTO")  # version 1 -> 2
    lead_update(lead=lead, actor=None, city="Paris")  # version 2 -> 3

    with pytest.raises(LeadChanged) as error:
        lead_update(lead=lead, actor=None, expected_version=1, first_name="Stale")

    assert error.value.changed_fields == ["city", "job_title"]
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.first_name, stored.version) == ("", 3)


def test_lead_changed_names_only_the_fields_changed_after_the_expected_version(ws):
    lead = _create(ws)
    lead_update(lead=lead, actor=None, job_title="CTO")  # version 1 -> 2
    lead_update(lead=lead, actor=None, city="Paris")  # version 2 -> 3

    with pytest.raises(LeadChanged) as error:
        lead_update(lead=lead, actor=None, expected_version=2, first_name="Stale")

    assert error.value.changed_fields == ["city"]


def test_lead_update_with_the_current_version_is_saved(ws):
    lead = _create(ws)

    lead_update(lead=lead, actor=None, expected_version=1, first_name="Fresh")

    assert Lead.objects.get(pk=lead.pk).first_name == "Fresh"


def test_lead_update_of_the_status_writes_a_status_changed_activity(ws, rep):
    lead = _create(ws)

    lead_update(lead=lead, actor=rep.user, status=LeadStatus.CONTACTED)

    activity = Activity.objects.get(lead=lead, type=ActivityType.STATUS_CHANGED)
    assert activity.data == {"from": "new", "to": "contacted"}
    assert activity.actor == rep.user


def test_lead_update_to_status_unsubscribed_records_the_opt_out_event(ws):
    lead = _create(ws, status=LeadStatus.ENGAGED)

    lead_update(lead=lead, actor=None, status=LeadStatus.UNSUBSCRIBED)

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.status, stored.email_status, stored.consent_status) == (
        LeadStatus.UNSUBSCRIBED,
        EmailStatus.UNSUBSCRIBED,
        ConsentStatus.OPTED_OUT,
    )
    event = ConsentEvent.objects.get(lead=lead)
    assert (event.status_before, event.status) == (ConsentStatus.UNKNOWN, ConsentStatus.OPTED_OUT)


def test_a_converted_lead_set_to_email_status_unsubscribed_stays_converted(ws):
    lead = _create(ws, status=LeadStatus.CONVERTED)

    lead_update(lead=lead, actor=None, email_status=EmailStatus.UNSUBSCRIBED)

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.status, stored.email_status) == (
        LeadStatus.CONVERTED,
        EmailStatus.UNSUBSCRIBED,
    )
    assert ConsentEvent.objects.filter(lead=lead, status=ConsentStatus.OPTED_OUT).exists()


def test_leaving_unsubscribed_without_opted_in_consent_is_refused_and_changes_nothing(ws):
    lead = _create(ws, status=LeadStatus.UNSUBSCRIBED)
    before = Lead.objects.get(pk=lead.pk)

    with pytest.raises(ValidationError):
        lead_update(lead=lead, actor=None, status=LeadStatus.CONTACTED, first_name="Ann")

    after = Lead.objects.get(pk=lead.pk)
    assert (after.status, after.first_name, after.version) == (
        LeadStatus.UNSUBSCRIBED,
        "",
        before.version,
    )
    assert not Activity.objects.filter(lead=lead, data__to="contacted").exists()


def test_leaving_email_status_unsubscribed_without_consent_is_refused(ws):
    lead = _create(ws, status=LeadStatus.CONVERTED, email_status=EmailStatus.UNSUBSCRIBED)

    with pytest.raises(ValidationError):
        lead_update(lead=lead, actor=None, email_status=EmailStatus.ACTIVE)

    assert Lead.objects.get(pk=lead.pk).email_status == EmailStatus.UNSUBSCRIBED


def test_leaving_unsubscribed_is_allowed_after_new_opted_in_consent(ws):
    lead = _create(ws, status=LeadStatus.UNSUBSCRIBED)
    consent_record(
        lead=lead,
        actor=None,
        status=ConsentStatus.OPTED_IN,
        source="Webinar sign-up form",
        proof="Form submission #4411, double opt-in confirmed",
    )

    lead_update(lead=lead, actor=None, status=LeadStatus.CONTACTED)

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.status, stored.email_status) == (LeadStatus.CONTACTED, EmailStatus.ACTIVE)


def test_lead_update_validates_custom_field_values_and_keeps_the_others(ws):
    CustomFieldFactory(workspace=ws, key="budget", type=CustomFieldType.NUMBER)
    CustomFieldFactory(workspace=ws, key="vip", type=CustomFieldType.BOOLEAN)
    lead = _create(ws, attributes={"budget": "10", "vip": "no"})

    lead_update(lead=lead, actor=None, attributes={"budget": "2500"})
    with pytest.raises(ValidationError):
        lead_update(lead=lead, actor=None, attributes={"vip": "perhaps"})

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.attributes, stored.version) == ({"budget": 2500, "vip": False}, 2)


def test_lead_update_of_the_tags_is_audited(ws):
    lead = _create(ws, tags=["vip"])

    lead_update(lead=lead, actor=None, tags=["VIP", "partner"])

    assert sorted(lead.tags.values_list("name", flat=True)) == ["partner", "vip"]
    entry = AuditLog.objects.get(action="lead.update")
    assert entry.changes["tags"] == [["vip"], ["partner", "vip"]]


def test_lead_update_of_the_company_refreshes_the_search_text(ws):
    lead = _create(ws, company="Old Name GmbH")

    lead_update(lead=lead, actor=None, company="Brand New AG")

    stored = Lead.objects.get(pk=lead.pk)
    assert stored.company.name == "Brand New AG"
    assert "brand new ag" in stored.search_text
    assert "old name" not in stored.search_text


def test_lead_update_refuses_a_company_of_another_workspace(ws, other_ws):
    lead = _create(ws)
    theirs = CompanyFactory(workspace=other_ws)

    with pytest.raises(ValidationError) as error:
        lead_update(lead=lead, actor=None, company=theirs)

    assert "company" in error.value.error_dict
    assert Lead.objects.get(pk=lead.pk).company is None


def test_lead_update_refuses_an_owner_who_is_not_a_member(ws, rep, outsider):
    lead = _create(ws, owner=rep.user)

    with pytest.raises(ValidationError):
        lead_update(lead=lead, actor=None, owner=outsider.user)

    assert Lead.objects.get(pk=lead.pk).owner == rep.user


def test_a_lead_in_the_trash_cannot_be_updated(ws):
    lead = _create(ws, first_name="Ann")
    lead_delete(lead=lead, actor=None)

    with pytest.raises(ValidationError):
        lead_update(lead=lead, actor=None, first_name="Anna")

    assert Lead.objects.get(pk=lead.pk).first_name == "Ann"


def test_lead_update_refuses_an_email_used_by_another_live_lead(ws):
    _create(ws, email="ann@example.com")
    bob = _create(ws, email="bob@example.com")

    with pytest.raises(ValidationError) as error:
        lead_update(lead=bob, actor=None, email="ANN@example.com")

    assert _error_codes(error.value, "email") == ["duplicate"]
    assert Lead.objects.get(pk=bob.pk).email == "bob@example.com"


# Trash --------------------------------------------------------------------------------------------


def test_lead_delete_moves_the_lead_to_the_trash(ws):
    lead = _create(ws)

    lead_delete(lead=lead, actor=None)

    assert Lead.objects.get(pk=lead.pk).deleted_at is not None
    assert not leads_for(ws).filter(pk=lead.pk).exists()
    assert list(trash_for(ws)) == [lead]


def test_lead_delete_writes_an_audit_entry(ws, owner):
    lead = _create(ws)

    lead_delete(lead=lead, actor=owner.user)

    entry = AuditLog.objects.get(action="lead.delete")
    assert (entry.object_id, entry.actor) == (str(lead.pk), owner.user)


def test_lead_restore_brings_the_lead_back_from_the_trash(ws):
    lead = _create(ws)
    lead_delete(lead=lead, actor=None)

    lead_restore(lead=lead, actor=None)

    assert Lead.objects.get(pk=lead.pk).deleted_at is None
    assert leads_for(ws).filter(pk=lead.pk).exists()
    assert not trash_for(ws).exists()


def test_lead_restore_writes_an_audit_entry(ws, owner):
    lead = _create(ws)
    lead_delete(lead=lead, actor=owner.user)

    lead_restore(lead=lead, actor=owner.user)

    entry = AuditLog.objects.get(action="lead.restore")
    assert (entry.object_id, entry.actor) == (str(lead.pk), owner.user)


def test_lead_restore_is_refused_while_another_live_lead_uses_the_email(ws):
    trashed = _create(ws, email="ann@example.com")
    lead_delete(lead=trashed, actor=None)
    other = _create(ws, email="bob@example.com")
    lead_update(lead=other, actor=None, email="Ann@Example.com")

    with pytest.raises(ValidationError):
        lead_restore(lead=trashed, actor=None)

    assert Lead.objects.get(pk=trashed.pk).deleted_at is not None


def test_leads_purge_trash_deletes_leads_trashed_over_30_days_ago_with_their_activities(ws):
    now = timezone.now()
    old = LeadFactory(workspace=ws, deleted_at=now - timedelta(days=31))
    ActivityFactory(lead=old)
    ConsentEventFactory(lead=old)

    purged = leads_purge_trash(now=now)

    assert purged == 1
    assert not Lead.objects.filter(pk=old.pk).exists()
    assert not Activity.objects.filter(lead_id=old.pk).exists()
    assert not ConsentEvent.objects.filter(lead_id=old.pk).exists()


def test_leads_purge_trash_keeps_leads_trashed_less_than_30_days_ago_and_live_ones(ws):
    now = timezone.now()
    young = LeadFactory(workspace=ws, deleted_at=now - timedelta(days=29))
    live = LeadFactory(workspace=ws)
    ActivityFactory(lead=young)

    purged = leads_purge_trash(now=now)

    assert purged == 0
    assert set(Lead.objects.values_list("pk", flat=True)) == {young.pk, live.pk}
    assert Activity.objects.filter(lead=young).exists()


def test_leads_purge_trash_writes_a_purge_audit_entry_per_workspace(ws, other_ws):
    now = timezone.now()
    LeadFactory.create_batch(2, workspace=ws, deleted_at=now - timedelta(days=40))
    LeadFactory(workspace=other_ws, deleted_at=now - timedelta(days=40))

    leads_purge_trash(now=now)

    counts = {
        entry.workspace_id: entry.changes["count"]
        for entry in AuditLog.objects.filter(action="lead.purge")
    }
    assert counts == {ws.pk: 2, other_ws.pk: 1}


# Reassign and tags --------------------------------------------------------------------------------


def test_leads_reassign_passes_every_lead_of_a_member_to_another(ws, rep, owner, marketer):
    reps = LeadFactory.create_batch(3, workspace=ws, owner=rep.user)
    trashed = LeadFactory(workspace=ws, owner=rep.user, deleted_at=timezone.now())
    others = LeadFactory(workspace=ws, owner=marketer.user)

    count = leads_reassign(workspace=ws, from_user=rep.user, to_user=owner.user)

    assert count == 4
    assert set(Lead.objects.filter(owner=owner.user).values_list("pk", flat=True)) == {
        *(lead.pk for lead in reps),
        trashed.pk,
    }
    assert Lead.objects.get(pk=others.pk).owner == marketer.user
    assert set(Lead.objects.filter(owner=owner.user).values_list("version", flat=True)) == {2}


def test_leads_reassign_leaves_other_workspaces_alone(ws, rep, owner, other_ws):
    elsewhere = LeadFactory(workspace=other_ws, owner=rep.user)

    leads_reassign(workspace=ws, from_user=rep.user, to_user=owner.user)

    assert Lead.objects.get(pk=elsewhere.pk).owner == rep.user


def test_leads_reassign_writes_an_audit_entry_with_the_count(ws, rep, owner):
    LeadFactory.create_batch(2, workspace=ws, owner=rep.user)

    leads_reassign(workspace=ws, from_user=rep.user, to_user=owner.user)

    entry = AuditLog.objects.get(action="lead.reassign")
    assert entry.changes == {"owner": [rep.user.email, owner.user.email], "count": 2}


def test_tags_for_names_reuses_tags_case_insensitively_and_creates_missing_ones(ws):
    vip = TagFactory(workspace=ws, name="VIP")

    tags = tags_for_names(workspace=ws, names=["vip", " New  Tag ", "new tag", ""])

    assert [t.name for t in tags] == ["VIP", "New Tag"]
    assert tags[0].pk == vip.pk
    assert sorted(Tag.objects.filter(workspace=ws).values_list("name", flat=True)) == [
        "New Tag",
        "VIP",
    ]


def test_tags_for_names_does_not_reuse_another_workspaces_tag(ws, other_ws):
    theirs = TagFactory(workspace=other_ws, name="vip")

    (tag,) = tags_for_names(workspace=ws, names=["vip"])

    assert tag.pk != theirs.pk
    assert tag.workspace == ws


def test_tags_for_names_refuses_a_tag_object_of_another_workspace(ws, other_ws):
    theirs = TagFactory(workspace=other_ws, name="vip")

    with pytest.raises(ValidationError):
        tags_for_names(workspace=ws, names=[theirs])


def test_a_duplicate_saved_meanwhile_is_reported_as_a_duplicate_not_a_crash(ws, monkeypatch):
    from contacts import services

    lead_create(workspace=ws, actor=None, email="race@example.test")
    # Simulate the other request winning between our duplicate check and our insert.
    monkeypatch.setattr(services, "_email_conflict", _conflict_only_after_insert())

    with pytest.raises(ValidationError) as error:
        lead_create(workspace=ws, actor=None, email="RACE@example.test")

    assert error.value.error_dict["email"][0].code == "duplicate"


def _conflict_only_after_insert():
    from contacts import services

    real, calls = services._email_conflict, []

    def check(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            real(*args, **kwargs)

    return check
