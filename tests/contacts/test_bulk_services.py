"""leads_bulk_update and leads_unsubscribe: set-based, one transaction, audited (PRODUCT L5, 2)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.activities import activity_record
from contacts.consent import consent_record, leads_unsubscribe
from contacts.models import (
    Activity,
    ActivityType,
    ConsentEvent,
    ConsentStatus,
    CustomFieldType,
    EmailStatus,
    Lead,
    LeadStatus,
    Tag,
)
from contacts.scoring import scoring_rules_ensure_defaults
from contacts.services import leads_bulk_update
from leadcrm.models import AuditLog
from tests.contacts.factories import CustomFieldFactory, LeadFactory, TagFactory


def _bulk(ws, actor=None, leads=None, **changes):
    return leads_bulk_update(
        workspace=ws,
        actor=actor,
        leads=leads if leads is not None else Lead.objects.all(),
        **changes,
    )


def _versions(leads) -> set[int]:
    return set(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("version", flat=True)
    )


# Status -------------------------------------------------------------------------------------------


def test_bulk_status_change_writes_one_status_changed_activity_per_lead(ws, rep):
    leads = LeadFactory.create_batch(5, workspace=ws)

    result = _bulk(ws, actor=rep.user, status=LeadStatus.CONTACTED)

    assert result.updated == 5
    assert set(Lead.objects.values_list("status", flat=True)) == {LeadStatus.CONTACTED}
    activities = Activity.objects.filter(type=ActivityType.STATUS_CHANGED)
    assert sorted(a.lead_id for a in activities) == sorted(lead.pk for lead in leads)
    assert {(a.data["from"], a.data["to"]) for a in activities} == {("new", "contacted")}
    assert {a.actor_id for a in activities} == {rep.user.pk}


def test_bulk_status_change_bumps_every_version(ws):
    leads = LeadFactory.create_batch(3, workspace=ws)

    _bulk(ws, status=LeadStatus.ENGAGED)

    assert _versions(leads) == {2}


def test_bulk_status_change_writes_no_activity_for_leads_already_in_that_status(ws):
    LeadFactory(workspace=ws, status=LeadStatus.QUALIFIED)
    moving = LeadFactory(workspace=ws, status=LeadStatus.NEW)

    _bulk(ws, status=LeadStatus.QUALIFIED)

    activities = Activity.objects.filter(type=ActivityType.STATUS_CHANGED)
    assert [a.lead_id for a in activities] == [moving.pk]


def test_bulk_status_change_skips_unsubscribed_leads_without_new_consent(ws):
    unsubscribed = LeadFactory(
        workspace=ws,
        status=LeadStatus.UNSUBSCRIBED,
        email_status=EmailStatus.UNSUBSCRIBED,
        consent_status=ConsentStatus.OPTED_OUT,
    )
    other = LeadFactory(workspace=ws)

    result = _bulk(ws, status=LeadStatus.CONTACTED)

    assert result.skipped == {"unsubscribed without new consent": 1}
    assert Lead.objects.get(pk=unsubscribed.pk).status == LeadStatus.UNSUBSCRIBED
    assert Lead.objects.get(pk=other.pk).status == LeadStatus.CONTACTED
    assert not Activity.objects.filter(lead=unsubscribed).exists()


def test_bulk_status_change_moves_an_unsubscribed_lead_with_new_consent(ws):
    lead = LeadFactory(
        workspace=ws, status=LeadStatus.UNSUBSCRIBED, email_status=EmailStatus.UNSUBSCRIBED
    )
    consent_record(lead=lead, actor=None, status="opted_in", source="Form", proof="Signed form")

    result = _bulk(ws, status=LeadStatus.CONTACTED)

    assert result.skipped == {}
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.CONTACTED


def test_bulk_status_refuses_an_unknown_status(ws):
    lead = LeadFactory(workspace=ws)

    with pytest.raises(ValidationError):
        _bulk(ws, status="won")

    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.NEW


def test_bulk_status_unsubscribed_records_an_opt_out_event_per_lead(ws):
    leads = LeadFactory.create_batch(3, workspace=ws)

    _bulk(ws, status=LeadStatus.UNSUBSCRIBED)

    events = ConsentEvent.objects.filter(status=ConsentStatus.OPTED_OUT)
    assert sorted(e.lead_id for e in events) == sorted(lead.pk for lead in leads)
    assert set(Lead.objects.values_list("status", "email_status", "consent_status")) == {
        (LeadStatus.UNSUBSCRIBED, EmailStatus.UNSUBSCRIBED, ConsentStatus.OPTED_OUT)
    }


def test_bulk_status_unsubscribed_keeps_a_converted_lead_converted(ws):
    customer = LeadFactory(workspace=ws, status=LeadStatus.CONVERTED)

    _bulk(ws, status=LeadStatus.UNSUBSCRIBED)

    stored = Lead.objects.get(pk=customer.pk)
    assert (stored.status, stored.email_status) == (
        LeadStatus.CONVERTED,
        EmailStatus.UNSUBSCRIBED,
    )
    assert not Activity.objects.filter(lead=customer, type=ActivityType.STATUS_CHANGED).exists()


# Owner, tags, attributes, delete ------------------------------------------------------------------


def test_bulk_owner_change_sets_the_owner(ws, rep, owner):
    leads = LeadFactory.create_batch(3, workspace=ws, owner=owner.user)

    _bulk(ws, owner=rep.user)

    assert set(Lead.objects.values_list("owner", flat=True)) == {rep.user.pk}
    assert _versions(leads) == {2}


def test_bulk_owner_change_can_clear_the_owner(ws, owner):
    LeadFactory.create_batch(2, workspace=ws, owner=owner.user)

    _bulk(ws, owner=None)

    assert set(Lead.objects.values_list("owner", flat=True)) == {None}


def test_bulk_owner_change_refuses_a_non_member(ws, owner, outsider):
    LeadFactory.create_batch(2, workspace=ws, owner=owner.user)

    with pytest.raises(ValidationError):
        _bulk(ws, owner=outsider.user)

    assert set(Lead.objects.values_list("owner", flat=True)) == {owner.user.pk}
    assert not AuditLog.objects.filter(action="lead.bulk_update").exists()


def test_bulk_add_tags_adds_them_to_every_lead_once(ws):
    vip = TagFactory(workspace=ws, name="VIP")
    tagged, untagged = LeadFactory.create_batch(2, workspace=ws)
    tagged.tags.add(vip)

    _bulk(ws, add_tags=["vip", "Webinar"])

    for lead in (tagged, untagged):
        assert sorted(lead.tags.values_list("name", flat=True)) == ["VIP", "Webinar"]


def test_bulk_remove_tags_removes_only_those_tags(ws):
    vip, keep = TagFactory(workspace=ws, name="vip"), TagFactory(workspace=ws, name="keep")
    leads = LeadFactory.create_batch(2, workspace=ws)
    for lead in leads:
        lead.tags.add(vip, keep)

    _bulk(ws, remove_tags=["VIP"])

    for lead in leads:
        assert list(lead.tags.values_list("name", flat=True)) == ["keep"]


def test_bulk_remove_of_a_tag_that_does_not_exist_creates_no_tag(ws):
    LeadFactory(workspace=ws)

    _bulk(ws, remove_tags=["never-used"])

    assert not Tag.objects.filter(workspace=ws).exists()


def test_bulk_remove_tags_refuses_a_tag_of_another_workspace(ws, other_ws):
    theirs = TagFactory(workspace=other_ws, name="vip")
    lead = LeadFactory(workspace=ws)
    lead.tags.add(TagFactory(workspace=ws, name="vip"))

    with pytest.raises(ValidationError):
        _bulk(ws, remove_tags=[theirs])

    assert list(lead.tags.values_list("name", flat=True)) == ["vip"]


def test_bulk_attributes_sets_and_clears_custom_field_values(ws):
    CustomFieldFactory(
        workspace=ws, key="industry", type=CustomFieldType.CHOICE, choices=["SaaS", "Retail"]
    )
    CustomFieldFactory(workspace=ws, key="budget", type=CustomFieldType.NUMBER)
    CustomFieldFactory(workspace=ws, key="note", type=CustomFieldType.TEXT)
    first = LeadFactory(workspace=ws, attributes={"industry": "SaaS", "budget": 10, "note": "x"})
    second = LeadFactory(workspace=ws, attributes={})

    _bulk(ws, attributes={"industry": "retail", "budget": None})

    assert Lead.objects.get(pk=first.pk).attributes == {"industry": "Retail", "note": "x"}
    assert Lead.objects.get(pk=second.pk).attributes == {"industry": "Retail"}


def test_bulk_attributes_refuses_an_invalid_value_and_changes_nothing(ws):
    CustomFieldFactory(workspace=ws, key="budget", type=CustomFieldType.NUMBER)
    lead = LeadFactory(workspace=ws, attributes={"budget": 10})

    with pytest.raises(ValidationError):
        _bulk(ws, attributes={"budget": "a lot"})

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.attributes, stored.version) == ({"budget": 10}, 1)


def test_bulk_delete_moves_the_leads_to_the_trash(ws):
    leads = LeadFactory.create_batch(3, workspace=ws)

    _bulk(ws, delete=True)

    assert Lead.objects.in_trash().count() == 3
    assert _versions(leads) == {2}


def test_bulk_update_never_touches_leads_of_another_workspace(ws, other_ws, rep):
    mine = LeadFactory(workspace=ws)
    theirs = LeadFactory(workspace=other_ws)
    before = Lead.objects.get(pk=theirs.pk)

    result = _bulk(ws, leads=Lead.objects.all(), status=LeadStatus.CONTACTED, owner=rep.user)
    _bulk(ws, leads=Lead.objects.all(), add_tags=["vip"])
    _bulk(ws, leads=Lead.objects.all(), status=LeadStatus.UNSUBSCRIBED)
    _bulk(ws, leads=Lead.objects.all(), delete=True)

    assert result.updated == 1
    after = Lead.objects.get(pk=theirs.pk)
    assert (after.status, after.owner_id, after.version, after.deleted_at) == (
        before.status,
        None,
        before.version,
        None,
    )
    assert not after.tags.exists()
    assert not Activity.objects.filter(lead=theirs).exists()
    assert not ConsentEvent.objects.filter(lead=theirs).exists()
    assert Lead.objects.get(pk=mine.pk).deleted_at is not None


def test_bulk_update_leaves_leads_in_the_trash_alone(ws):
    trashed = LeadFactory(workspace=ws, deleted_at=timezone.now())

    result = _bulk(ws, status=LeadStatus.CONTACTED)

    assert result.updated == 0
    assert Lead.objects.get(pk=trashed.pk).status == LeadStatus.NEW


def test_bulk_update_writes_one_audit_entry_with_the_count(ws, owner):
    LeadFactory.create_batch(4, workspace=ws)

    _bulk(ws, actor=owner.user, status=LeadStatus.ENGAGED, add_tags=["vip"])

    entry = AuditLog.objects.get(action="lead.bulk_update")
    assert entry.actor == owner.user
    assert entry.changes["count"] == 4
    assert entry.changes["status"] == LeadStatus.ENGAGED
    assert entry.changes["add_tags"] == ["vip"]


@pytest.mark.parametrize("count", [20, 200])
def test_bulk_update_runs_the_same_number_of_queries_for_20_or_200_leads(
    ws, rep, count, django_assert_max_num_queries
):
    CustomFieldFactory(workspace=ws, key="budget", type=CustomFieldType.NUMBER)
    TagFactory(workspace=ws, name="old")
    LeadFactory.create_batch(count, workspace=ws)

    with django_assert_max_num_queries(19):
        _bulk(
            ws,
            actor=rep.user,
            status=LeadStatus.CONTACTED,
            owner=rep.user,
            add_tags=["new"],
            remove_tags=["old"],
            attributes={"budget": "100"},
        )

    assert Activity.objects.filter(type=ActivityType.STATUS_CHANGED).count() == count


@pytest.mark.parametrize("count", [20, 200])
def test_bulk_unsubscribe_runs_the_same_number_of_queries_for_20_or_200_leads(
    ws, count, django_assert_max_num_queries
):
    LeadFactory.create_batch(count, workspace=ws)

    # 20 whatever the count: + the sources the quality score matches as written, and the
    # sequences the unsubscribed leads leave
    with django_assert_max_num_queries(20):
        _bulk(ws, status=LeadStatus.UNSUBSCRIBED)

    assert ConsentEvent.objects.count() == count


# leads_unsubscribe --------------------------------------------------------------------------------


def _unsubscribe(ws, leads=None, actor=None):
    return leads_unsubscribe(
        workspace=ws,
        actor=actor,
        leads=leads if leads is not None else Lead.objects.all(),
        channel="bulk",
    )


def test_leads_unsubscribe_unsubscribes_every_lead_and_returns_the_count(ws):
    LeadFactory.create_batch(3, workspace=ws)

    count = _unsubscribe(ws)

    assert count == 3
    assert set(Lead.objects.values_list("status", "email_status", "consent_status")) == {
        (LeadStatus.UNSUBSCRIBED, EmailStatus.UNSUBSCRIBED, ConsentStatus.OPTED_OUT)
    }
    assert Activity.objects.filter(type=ActivityType.UNSUBSCRIBED).count() == 3


def test_leads_unsubscribe_a_second_time_changes_nothing_and_returns_zero(ws):
    LeadFactory.create_batch(2, workspace=ws)
    _unsubscribe(ws)
    versions = sorted(Lead.objects.values_list("version", flat=True))

    count = _unsubscribe(ws)

    assert count == 0
    assert ConsentEvent.objects.count() == 2
    assert Activity.objects.filter(type=ActivityType.UNSUBSCRIBED).count() == 2
    assert sorted(Lead.objects.values_list("version", flat=True)) == versions


def test_leads_unsubscribe_records_each_leads_consent_status_before(ws):
    opted_in = LeadFactory(workspace=ws, consent_status=ConsentStatus.OPTED_IN)
    pending = LeadFactory(workspace=ws, consent_status=ConsentStatus.PENDING)

    _unsubscribe(ws)

    before = dict(ConsentEvent.objects.values_list("lead_id", "status_before"))
    assert before == {opted_in.pk: ConsentStatus.OPTED_IN, pending.pk: ConsentStatus.PENDING}


def test_leads_unsubscribe_keeps_converted_leads_converted(ws):
    customer = LeadFactory(workspace=ws, status=LeadStatus.CONVERTED)
    prospect = LeadFactory(workspace=ws, status=LeadStatus.ENGAGED)

    _unsubscribe(ws)

    assert Lead.objects.get(pk=customer.pk).status == LeadStatus.CONVERTED
    assert Lead.objects.get(pk=prospect.pk).status == LeadStatus.UNSUBSCRIBED
    changed = Activity.objects.get(type=ActivityType.STATUS_CHANGED)
    assert (changed.lead_id, changed.data) == (
        prospect.pk,
        {"from": "engaged", "to": "unsubscribed"},
    )


def test_leads_unsubscribe_resets_the_score_with_the_default_rules(ws):
    scoring_rules_ensure_defaults(workspace=ws)
    lead = LeadFactory(workspace=ws)
    activity_record(
        lead=lead,
        type=ActivityType.EMAIL_REPLIED,
        occurred_at=timezone.now() - timedelta(hours=1),
    )
    assert Lead.objects.get(pk=lead.pk).score == 10

    _unsubscribe(ws)

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.score, stored.score_points, stored.tier) == (0, 0, "cold")


def test_leads_unsubscribe_ignores_other_workspaces_and_the_trash(ws, other_ws):
    theirs = LeadFactory(workspace=other_ws)
    trashed = LeadFactory(workspace=ws, deleted_at=timezone.now())

    count = _unsubscribe(ws)

    assert count == 0
    assert not ConsentEvent.objects.exists()
    assert Lead.objects.get(pk=theirs.pk).email_status == EmailStatus.ACTIVE
    assert Lead.objects.get(pk=trashed.pk).email_status == EmailStatus.ACTIVE


def test_leads_unsubscribe_writes_one_audit_entry_with_the_count(ws, owner):
    LeadFactory.create_batch(3, workspace=ws)

    _unsubscribe(ws, actor=owner.user)

    entry = AuditLog.objects.get(action="lead.bulk_unsubscribe")
    assert (entry.actor, entry.changes["count"]) == (owner.user, 3)
