"""Segment services (PRODUCT G1–G5): what each writes, audits and refuses."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.models import Lead
from leadcrm.models import AuditLog
from pipeline.models import SavedView
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
from segments.rules import RulesInvalid
from segments.services import (
    SegmentInUse,
    segment_add_leads,
    segment_count_refresh,
    segment_create,
    segment_delete,
    segment_duplicate,
    segment_freeze,
    segment_references,
    segment_remove_leads,
    segment_rules_set,
    segment_state_set,
    segment_touch,
    segment_update,
)
from tests.contacts.factories import LeadFactory, SegmentFactory, SegmentMembershipFactory

SCORE_OVER_50 = {"match": "all", "children": [{"field": "score", "op": "gt", "value": 50}]}


@pytest.fixture
def user(marketer):
    return marketer.user


@pytest.fixture
def static(ws):
    return SegmentFactory(workspace=ws, name="Berlin VIPs", kind=SegmentKind.STATIC)


@pytest.fixture
def dynamic(ws):
    return SegmentFactory(
        workspace=ws, name="Hot leads", kind=SegmentKind.DYNAMIC, rules=SCORE_OVER_50
    )


def members(segment) -> set[int]:
    return set(SegmentMembership.objects.filter(segment=segment).values_list("lead_id", flat=True))


def in_segment(segment, *leads) -> None:
    for lead in leads:
        SegmentMembershipFactory(segment=segment, lead=lead)


def retire(segment) -> None:
    segment.state = SegmentState.RETIRED
    segment.save()


# Create and update ---------------------------------------------------------------------------


def test_create_makes_a_draft_with_its_creator_and_an_audit_entry(ws, user):
    segment = segment_create(
        workspace=ws, actor=user, name="  Trade  fair ", kind=SegmentKind.STATIC
    )

    segment.refresh_from_db()
    assert (segment.name, segment.state, segment.created_by) == ("Trade fair", "draft", user)
    assert (segment.member_count, segment.counted_at is not None) == (0, True)
    assert AuditLog.objects.filter(action="segment.create", object_id=str(segment.pk)).exists()


def test_create_refuses_a_name_another_segment_has_in_any_case(ws, user, static):
    with pytest.raises(ValidationError, match="already exists"):
        segment_create(workspace=ws, actor=user, name="berlin vips", kind=SegmentKind.DYNAMIC)


def test_create_allows_a_name_used_in_another_workspace(ws, other_ws, user):
    SegmentFactory(workspace=other_ws, name="Berlin VIPs")

    segment = segment_create(workspace=ws, actor=user, name="Berlin VIPs", kind="static")

    assert segment.pk


def test_create_refuses_an_unknown_kind(ws, user):
    with pytest.raises(ValidationError):
        segment_create(workspace=ws, actor=user, name="X", kind="magic")

    assert not Segment.objects.exists()


def test_update_renames_and_audits_old_and_new(static, user):
    segment_update(segment=static, actor=user, name="Berlin VIPs 2026", description="Fair")

    static.refresh_from_db()
    assert (static.name, static.description) == ("Berlin VIPs 2026", "Fair")
    entry = AuditLog.objects.get(action="segment.update")
    assert entry.changes["name"] == ["Berlin VIPs", "Berlin VIPs 2026"]


def test_update_without_changes_writes_nothing(static, user):
    segment_update(segment=static, actor=user, name="Berlin VIPs", description="")

    assert not AuditLog.objects.filter(action="segment.update").exists()


def test_update_refuses_a_retired_segment(static, user):
    retire(static)

    with pytest.raises(ValidationError, match="read-only"):
        segment_update(segment=static, actor=user, name="New name", description="")

    static.refresh_from_db()
    assert static.name == "Berlin VIPs"


# State ---------------------------------------------------------------------------------------


def test_state_set_moves_between_states_and_back_from_retired(static, user):
    segment_state_set(segment=static, actor=user, state=SegmentState.RETIRED)
    segment_state_set(segment=static, actor=user, state=SegmentState.DRAFT)

    static.refresh_from_db()
    assert static.state == SegmentState.DRAFT
    changes = [e.changes["state"] for e in AuditLog.objects.filter(action="segment.state")]
    assert sorted(changes) == sorted([["active", "retired"], ["retired", "draft"]])


def test_state_set_refuses_an_unknown_state(static, user):
    with pytest.raises(ValidationError):
        segment_state_set(segment=static, actor=user, state="archived")


# Members -------------------------------------------------------------------------------------


def test_add_leads_to_a_retired_segment_is_refused(ws, static, user):
    retire(static)
    lead = LeadFactory(workspace=ws)

    with pytest.raises(ValidationError, match="read-only"):
        segment_add_leads(
            workspace=ws, segment=static, leads=Lead.objects.filter(pk=lead.pk), actor=user
        )

    assert members(static) == set()


def test_add_leads_marks_the_cached_count_stale(ws, static, user):
    static.member_count, static.counted_at = 0, timezone.now()
    static.save()
    lead = LeadFactory(workspace=ws)

    segment_add_leads(
        workspace=ws, segment=static, leads=Lead.objects.filter(pk=lead.pk), actor=user
    )

    static.refresh_from_db()
    assert static.counted_at is None


def test_remove_leads_deletes_only_the_given_memberships(ws, static, user):
    a, b, c = (LeadFactory(workspace=ws) for _ in range(3))
    in_segment(static, a, b, c)

    removed = segment_remove_leads(
        workspace=ws, segment=static, leads=Lead.objects.filter(pk__in=[a.pk, b.pk]), actor=user
    )

    assert removed == 2
    assert members(static) == {c.pk}
    entry = AuditLog.objects.get(action="segment.remove_leads")
    assert entry.changes["removed"] == 2
    assert sorted(entry.changes["lead_ids"]) == sorted([a.pk, b.pk])


def test_remove_leads_ignores_leads_of_another_workspace(ws, other_ws, static, user):
    stranger = LeadFactory(workspace=other_ws)
    SegmentMembership.objects.create(segment=static, lead=stranger)  # a corrupt row, say

    removed = segment_remove_leads(
        workspace=ws, segment=static, leads=Lead.objects.filter(pk=stranger.pk), actor=user
    )

    assert removed == 0


def test_remove_leads_refuses_a_retired_segment(ws, static, user):
    lead = LeadFactory(workspace=ws)
    in_segment(static, lead)
    retire(static)

    with pytest.raises(ValidationError, match="read-only"):
        segment_remove_leads(
            workspace=ws, segment=static, leads=Lead.objects.filter(pk=lead.pk), actor=user
        )

    assert members(static) == {lead.pk}


def test_remove_leads_refuses_a_dynamic_segment(ws, dynamic, user):
    with pytest.raises(ValidationError, match="static segments only"):
        segment_remove_leads(workspace=ws, segment=dynamic, leads=Lead.objects.none(), actor=user)


def test_remove_leads_refuses_a_segment_of_another_workspace(ws, other_ws, user):
    theirs = SegmentFactory(workspace=other_ws)

    with pytest.raises(ValidationError, match="another workspace"):
        segment_remove_leads(workspace=ws, segment=theirs, leads=Lead.objects.none(), actor=user)


# Duplicate and freeze ------------------------------------------------------------------------


def test_duplicate_of_a_static_segment_copies_its_members_as_a_draft(ws, static, user):
    leads = [LeadFactory(workspace=ws) for _ in range(3)]
    in_segment(static, *leads)
    static.description = "From the fair"
    static.save()

    copy = segment_duplicate(segment=static, actor=user)

    assert (copy.name, copy.kind, copy.state) == ("Copy of Berlin VIPs", "static", "draft")
    assert copy.description == "From the fair"
    assert members(copy) == {lead.pk for lead in leads}
    assert members(static) == {lead.pk for lead in leads}
    assert copy.member_count == 3
    assert AuditLog.objects.get(action="segment.duplicate").changes == {"from": static.pk}


def test_duplicate_of_a_dynamic_segment_copies_its_rules(dynamic, user):
    copy = segment_duplicate(segment=dynamic, actor=user)

    copy.refresh_from_db()
    assert (copy.name, copy.kind, copy.rules) == ("Copy of Hot leads", "dynamic", SCORE_OVER_50)
    assert members(copy) == set()


def test_duplicating_twice_numbers_the_names(static, user):
    first = segment_duplicate(segment=static, actor=user)
    second = segment_duplicate(segment=static, actor=user)

    assert (first.name, second.name) == ("Copy of Berlin VIPs", "Copy of Berlin VIPs (2)")


def test_a_retired_segment_can_be_duplicated(static, user):
    retire(static)

    assert segment_duplicate(segment=static, actor=user).state == SegmentState.DRAFT


def test_freeze_copies_the_leads_matching_now_into_a_static_segment(ws, dynamic, user):
    hot = [LeadFactory(workspace=ws, score=score) for score in (51, 80, 99)]
    LeadFactory(workspace=ws, score=50)
    LeadFactory(workspace=ws, score=90, deleted_at=timezone.now())
    now = timezone.now()

    frozen = segment_freeze(segment=dynamic, actor=user, now=now)

    assert frozen.name == f"Hot leads (frozen {timezone.localdate(now).isoformat()})"
    assert (frozen.kind, frozen.state, frozen.member_count) == ("static", "draft", 3)
    assert members(frozen) == {lead.pk for lead in hot}
    dynamic.refresh_from_db()
    assert dynamic.last_used_at == now
    assert AuditLog.objects.get(action="segment.freeze").changes["leads"] == 3


def test_a_frozen_copy_stays_as_it_was_when_leads_change(ws, dynamic, user):
    lead = LeadFactory(workspace=ws, score=70)
    frozen = segment_freeze(segment=dynamic, actor=user)

    Lead.objects.filter(pk=lead.pk).update(score=10)

    assert members(frozen) == {lead.pk}


def test_freeze_refuses_a_static_segment(static, user):
    with pytest.raises(ValidationError, match="Only a dynamic segment"):
        segment_freeze(segment=static, actor=user)

    assert Segment.objects.count() == 1


# Delete --------------------------------------------------------------------------------------


def test_delete_removes_the_segment_and_its_memberships_not_the_leads(ws, static, user):
    lead = LeadFactory(workspace=ws)
    in_segment(static, lead)

    segment_delete(segment=static, actor=user)

    assert not Segment.objects.filter(pk=static.pk).exists()
    assert not SegmentMembership.objects.exists()
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert AuditLog.objects.filter(action="segment.delete", object_repr="Berlin VIPs").exists()


def test_delete_is_refused_while_a_dynamic_segment_refers_to_it_deep_in_its_rules(ws, static, user):
    nested = {
        "match": "all",
        "children": [
            {"field": "score", "op": "gt", "value": 1},
            {
                "match": "any",
                "children": [
                    {
                        "match": "none",
                        "children": [
                            {"field": "segment", "op": "not_in", "value": static.pk},
                        ],
                    },
                ],
            },
        ],
    }
    SegmentFactory(workspace=ws, name="Uses it", kind=SegmentKind.DYNAMIC, rules=nested)
    SegmentFactory(workspace=ws, name="Does not", kind=SegmentKind.DYNAMIC, rules=SCORE_OVER_50)

    with pytest.raises(SegmentInUse) as refused:
        segment_delete(segment=static, actor=user)

    assert refused.value.references == ["dynamic segment “Uses it”"]
    assert "“Berlin VIPs” is still used by dynamic segment “Uses it”" in refused.value.messages[0]
    assert Segment.objects.filter(pk=static.pk).exists()


def test_delete_is_refused_while_a_saved_view_filters_on_it(ws, static, user, owner):
    SavedView.objects.create(
        workspace=ws,
        owner=owner.user,
        name="Fair follow-up",
        query=f"status=new&segment={static.pk}",
    )
    SavedView.objects.create(
        workspace=ws, owner=owner.user, name="Other", query=f"segment={static.pk}1"
    )

    with pytest.raises(SegmentInUse) as refused:
        segment_delete(segment=static, actor=user)

    assert refused.value.references == ["saved view “Fair follow-up”"]


def test_references_in_another_workspace_do_not_count(ws, other_ws, static):
    rules = {"match": "all", "children": [{"field": "segment", "op": "in", "value": static.pk}]}
    SegmentFactory(workspace=other_ws, kind=SegmentKind.DYNAMIC, rules=rules)

    assert segment_references(static) == []


# Rules ---------------------------------------------------------------------------------------


def test_rules_set_saves_the_clean_tree_audits_and_forgets_the_count(dynamic, user):
    dynamic.member_count, dynamic.counted_at = 5, timezone.now()
    dynamic.save()
    tree = {"match": "any", "children": [{"field": "score", "op": "lt", "value": 10}]}

    segment_rules_set(segment=dynamic, rules=tree, actor=user)

    dynamic.refresh_from_db()
    assert dynamic.rules == tree
    assert dynamic.counted_at is None
    assert AuditLog.objects.get(action="segment.rules").changes["rules"] == [SCORE_OVER_50, tree]


def test_rules_set_refuses_invalid_rules(dynamic, user):
    bad = {"match": "all", "children": [{"field": "no_such_field", "op": "is", "value": "x"}]}

    with pytest.raises(RulesInvalid):
        segment_rules_set(segment=dynamic, rules=bad, actor=user)

    dynamic.refresh_from_db()
    assert dynamic.rules == SCORE_OVER_50


def test_rules_set_refuses_a_retired_segment(dynamic, user):
    retire(dynamic)

    with pytest.raises(ValidationError, match="read-only"):
        segment_rules_set(segment=dynamic, rules={"match": "all", "children": []}, actor=user)


def test_rules_set_refuses_a_static_segment(static, user):
    with pytest.raises(ValidationError, match="Only a dynamic segment"):
        segment_rules_set(segment=static, rules={"match": "all", "children": []}, actor=user)


# Caches --------------------------------------------------------------------------------------


def test_count_refresh_counts_live_members_and_stores_when(ws, static):
    in_segment(static, LeadFactory(workspace=ws), LeadFactory(workspace=ws))
    in_segment(static, LeadFactory(workspace=ws, deleted_at=timezone.now()))
    now = timezone.now()

    segment_count_refresh(segment=static, now=now)

    static.refresh_from_db()
    assert (static.member_count, static.counted_at) == (2, now)


def test_touch_writes_last_used_at_most_once_a_minute(static, django_assert_num_queries):
    start = timezone.now()
    segment_touch(segment=static, now=start)

    with django_assert_num_queries(0):
        segment_touch(segment=static, now=start + timedelta(seconds=30))
    segment_touch(segment=static, now=start + timedelta(seconds=61))

    static.refresh_from_db()
    assert static.last_used_at == start + timedelta(seconds=61)


def test_touch_does_not_go_back_in_time_from_a_stale_copy(static):
    now = timezone.now()
    segment_touch(segment=Segment.objects.get(pk=static.pk), now=now)

    segment_touch(segment=static, now=now - timedelta(seconds=10))  # static has no last_used_at

    static.refresh_from_db()
    assert static.last_used_at == now
