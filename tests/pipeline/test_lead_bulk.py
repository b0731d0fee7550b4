"""Bulk update on the leads list: the selection or every matching lead (PRODUCT L5, W2)."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from contacts.models import (
    Activity,
    ActivityType,
    ConsentStatus,
    CustomFieldType,
    EmailStatus,
    Lead,
    LeadStatus,
    Tag,
)
from leadcrm.models import AuditLog
from segments.models import SegmentKind, SegmentMembership, SegmentState
from tests.conftest import login
from tests.contacts.factories import (
    CustomFieldFactory,
    LeadFactory,
    SegmentFactory,
    TagFactory,
)

URL = reverse("pipeline:lead-bulk")


@pytest.fixture
def alice(owner):
    return login(owner)


@pytest.fixture
def three(ws):
    return [LeadFactory(workspace=ws, status=LeadStatus.NEW) for _ in range(3)]


def post(client, leads=(), **data):
    data.setdefault("query", "")
    return client.post(URL, {"lead": [str(x.pk) for x in leads], **data})


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def statuses(leads) -> list[str]:
    return [Lead.objects.get(pk=x.pk).status for x in leads]


# Status --------------------------------------------------------------------------------------


def test_it_sets_the_status_of_the_selected_leads(three, alice):
    post(alice, three[:2], action="status", status="contacted")

    assert statuses(three) == ["contacted", "contacted", "new"]


def test_status_change_says_how_many_leads_moved(three, alice):
    response = post(alice, three[:2], action="status", status="qualified")

    assert messages_of(response) == ["2 leads set to Qualified."]


def test_status_change_of_one_lead_says_lead(three, alice):
    response = post(alice, three[:1], action="status", status="qualified")

    assert messages_of(response) == ["1 lead set to Qualified."]


def test_status_change_writes_a_timeline_activity_per_lead(three, owner, alice):
    post(alice, three[:2], action="status", status="contacted")

    activities = Activity.objects.filter(type=ActivityType.STATUS_CHANGED)
    assert sorted(a.lead_id for a in activities) == sorted(x.pk for x in three[:2])
    assert {a.actor_id for a in activities} == {owner.user_id}


def test_status_change_is_audit_logged(three, owner, alice):
    post(alice, three[:2], action="status", status="contacted")

    entry = AuditLog.objects.get(action="lead.bulk_update")
    assert entry.actor_id == owner.user_id
    assert entry.changes["count"] == 2
    assert sorted(entry.changes["lead_ids"]) == sorted(x.pk for x in three[:2])


def test_status_change_bumps_each_leads_version(three, alice):
    post(alice, three[:1], action="status", status="contacted")

    assert Lead.objects.get(pk=three[0].pk).version == three[0].version + 1
    assert Lead.objects.get(pk=three[1].pk).version == three[1].version


def test_it_goes_back_to_the_list_with_its_filters(three, alice):
    response = post(alice, three[:1], action="status", status="contacted", query="status=new")

    assert response.status_code == 302
    assert response["Location"] == reverse("pipeline:lead-list") + "?status=new"


def test_setting_unsubscribed_unsubscribes_the_leads(three, alice):
    post(alice, three[:1], action="status", status="unsubscribed")

    unsubscribed = Lead.objects.get(pk=three[0].pk)
    assert unsubscribed.status == LeadStatus.UNSUBSCRIBED
    assert unsubscribed.email_status == EmailStatus.UNSUBSCRIBED
    assert unsubscribed.consent_status == ConsentStatus.OPTED_OUT


def test_unsubscribed_leads_without_new_consent_are_skipped_and_not_counted(ws, three, alice):
    gone = LeadFactory(workspace=ws, status=LeadStatus.UNSUBSCRIBED)

    response = post(alice, [*three[:2], gone], action="status", status="contacted")

    assert messages_of(response) == [
        "2 leads set to Contacted. 1 lead skipped: unsubscribed without new consent."
    ]
    assert Lead.objects.get(pk=gone.pk).status == LeadStatus.UNSUBSCRIBED


# All matching --------------------------------------------------------------------------------


def test_all_matching_covers_every_matching_lead_across_pages(ws, alice):
    fair = LeadFactory.create_batch(60, workspace=ws, source="Trade fair")
    web = LeadFactory.create_batch(3, workspace=ws, source="Website")

    response = post(
        alice,
        fair[:2],
        action="status",
        status="engaged",
        all_matching="1",
        query="source=trade+fair&page=2",
    )

    assert messages_of(response) == ["60 leads set to Engaged."]
    assert set(statuses(fair)) == {"engaged"}
    assert set(statuses(web)) == {"new"}


def test_all_matching_with_a_search_covers_the_search_results(ws, alice):
    ada = LeadFactory(workspace=ws, first_name="Ada")
    # Every searched field spelled out: a random surname or address may contain "ada" (Adams).
    other = LeadFactory(
        workspace=ws, first_name="Grace", last_name="Hopper", email="grace@hopper.test"
    )

    post(alice, action="status", status="engaged", all_matching="1", query="q=ada")

    assert statuses([ada, other]) == ["engaged", "new"]


def test_sales_reps_all_matching_covers_only_their_own_leads(ws, rep, owner):
    mine = LeadFactory.create_batch(3, workspace=ws, owner=rep.user)
    theirs = LeadFactory.create_batch(2, workspace=ws, owner=owner.user)
    nobodys = LeadFactory(workspace=ws)

    response = post(
        login(rep), action="status", status="contacted", all_matching="1", query="view=all"
    )

    assert messages_of(response) == ["3 leads set to Contacted."]
    assert statuses(mine) == ["contacted"] * 3
    assert statuses([*theirs, nobodys]) == ["new"] * 3


def test_sales_reps_selection_changes_only_their_own_leads(ws, rep, owner):
    mine = LeadFactory(workspace=ws, owner=rep.user)
    theirs = LeadFactory(workspace=ws, owner=owner.user)

    post(login(rep), [mine, theirs], action="status", status="contacted")

    assert statuses([mine, theirs]) == ["contacted", "new"]


def test_all_matching_never_reaches_another_workspace(ws, other_ws, alice):
    LeadFactory(workspace=ws)
    foreign = LeadFactory(workspace=other_ws)

    post(alice, action="status", status="contacted", all_matching="1")

    assert statuses([foreign]) == ["new"]


# Trash, tags, owner, custom field, segment ----------------------------------------------------


def test_delete_moves_the_selected_leads_to_the_trash(three, alice):
    response = post(alice, three[:2], action="delete")

    assert messages_of(response) == ["2 leads moved to the trash."]
    trashed = Lead.objects.filter(deleted_at__isnull=False)
    assert sorted(x.pk for x in trashed) == sorted(x.pk for x in three[:2])


def test_sales_rep_deletes_only_their_own_leads(ws, rep, owner):
    mine = LeadFactory(workspace=ws, owner=rep.user)
    theirs = LeadFactory(workspace=ws, owner=owner.user)

    response = post(login(rep), [mine, theirs], action="delete")

    assert messages_of(response) == ["1 lead moved to the trash."]
    assert Lead.objects.get(pk=mine.pk).deleted_at is not None
    assert Lead.objects.get(pk=theirs.pk).deleted_at is None


def test_add_tags_tags_the_selected_leads(ws, three, alice):
    TagFactory(workspace=ws, name="vip")

    response = post(alice, three[:2], action="add_tags", tags="VIP, trade fair ,")

    assert messages_of(response) == ["Tags VIP, trade fair added to 2 leads."]
    for x in three[:2]:
        assert sorted(t.name for t in x.tags.all()) == ["trade fair", "vip"]
    assert not three[2].tags.exists()
    assert Tag.objects.filter(workspace=ws).count() == 2


def test_remove_tags_untags_the_selected_leads(ws, three, alice):
    vip, hot = TagFactory(workspace=ws, name="vip"), TagFactory(workspace=ws, name="hot")
    for x in three:
        x.tags.add(vip, hot)

    response = post(alice, three[:2], action="remove_tags", tags="vip")

    assert messages_of(response) == ["Tags vip removed from 2 leads."]
    assert [sorted(t.name for t in x.tags.all()) for x in three] == [
        ["hot"],
        ["hot"],
        ["hot", "vip"],
    ]


def test_set_owner_reassigns_the_selected_leads(three, rep, alice):
    response = post(alice, three[:2], action="owner", owner=str(rep.user_id))

    assert messages_of(response) == ["2 leads reassigned."]
    assert [Lead.objects.get(pk=x.pk).owner_id for x in three] == [rep.user_id, rep.user_id, None]


def test_set_owner_to_nobody_clears_the_owner(ws, rep, alice):
    owned = LeadFactory(workspace=ws, owner=rep.user)

    post(alice, [owned], action="owner", owner="")

    assert Lead.objects.get(pk=owned.pk).owner_id is None


def test_owner_from_outside_the_workspace_is_refused(three, outsider, alice):
    response = post(alice, three[:1], action="owner", owner=str(outsider.user_id))

    assert len(messages_of(response)) == 1
    assert "not one of the available choices" in messages_of(response)[0]
    assert Lead.objects.get(pk=three[0].pk).owner_id is None


def test_set_custom_field_sets_the_value_on_the_selected_leads(ws, three, alice):
    CustomFieldFactory(workspace=ws, key="industry", type=CustomFieldType.TEXT)

    response = post(
        alice, three[:2], action="custom_field", field_key="industry", field_value="Retail"
    )

    assert messages_of(response) == ["industry set on 2 leads."]
    values = [Lead.objects.get(pk=x.pk).attributes.get("industry") for x in three]
    assert values == ["Retail", "Retail", None]


def test_set_custom_field_keeps_the_other_fields(ws, alice):
    CustomFieldFactory(workspace=ws, key="industry")
    CustomFieldFactory(workspace=ws, key="budget", type=CustomFieldType.NUMBER)
    x = LeadFactory(workspace=ws, attributes={"budget": 10})

    post(alice, [x], action="custom_field", field_key="industry", field_value="Retail")

    assert Lead.objects.get(pk=x.pk).attributes == {"budget": 10, "industry": "Retail"}


def test_set_custom_field_cleans_the_value_for_its_type(ws, three, alice):
    CustomFieldFactory(workspace=ws, key="budget", type=CustomFieldType.NUMBER)

    post(alice, three[:1], action="custom_field", field_key="budget", field_value=" 1500 ")

    assert Lead.objects.get(pk=three[0].pk).attributes == {"budget": 1500}


def test_invalid_custom_field_value_is_refused_and_changes_nothing(ws, three, alice):
    CustomFieldFactory(workspace=ws, key="budget", type=CustomFieldType.NUMBER)

    response = post(alice, three[:2], action="custom_field", field_key="budget", field_value="lots")

    assert "Enter a number" in messages_of(response)[0]
    assert [Lead.objects.get(pk=x.pk).attributes for x in three[:2]] == [{}, {}]


def test_add_to_static_segment_adds_the_selected_leads(ws, three, alice):
    segment = SegmentFactory(workspace=ws, name="Fair visitors")

    response = post(alice, three[:2], action="add_to_segment", segment=str(segment.pk))

    assert messages_of(response) == ["2 leads added to “Fair visitors”."]
    members = SegmentMembership.objects.filter(segment=segment)
    assert sorted(m.lead_id for m in members) == sorted(x.pk for x in three[:2])


def test_add_to_static_segment_counts_only_new_members(ws, three, alice):
    segment = SegmentFactory(workspace=ws, name="Fair visitors")
    SegmentMembership.objects.create(segment=segment, lead=three[0])

    response = post(alice, three[:2], action="add_to_segment", segment=str(segment.pk))

    assert messages_of(response) == ["1 lead added to “Fair visitors”."]


def test_sales_rep_may_add_leads_to_a_static_segment(ws, rep):
    mine = LeadFactory(workspace=ws, owner=rep.user)
    segment = SegmentFactory(workspace=ws)

    post(login(rep), [mine], action="add_to_segment", segment=str(segment.pk))

    assert SegmentMembership.objects.filter(segment=segment, lead=mine).exists()


def test_role_without_add_to_static_segment_gets_403(ws, rep):
    rep.role.permissions.remove(Permission.objects.get(codename="add_to_static_segment"))
    mine = LeadFactory(workspace=ws, owner=rep.user)
    segment = SegmentFactory(workspace=ws)

    response = post(login(rep), [mine], action="add_to_segment", segment=str(segment.pk))

    assert response.status_code == 403
    assert not SegmentMembership.objects.exists()


@pytest.mark.parametrize(
    "segment",
    [
        {"kind": SegmentKind.DYNAMIC},
        {"state": SegmentState.RETIRED},
    ],
    ids=["dynamic", "retired"],
)
def test_only_live_static_segments_take_leads(ws, three, alice, segment):
    target = SegmentFactory(workspace=ws, **segment)

    response = post(alice, three[:1], action="add_to_segment", segment=str(target.pk))

    assert "not one of the available choices" in messages_of(response)[0]
    assert not SegmentMembership.objects.exists()


def test_another_workspaces_segment_is_refused(other_ws, three, alice):
    foreign = SegmentFactory(workspace=other_ws)

    response = post(alice, three[:1], action="add_to_segment", segment=str(foreign.pk))

    assert "not one of the available choices" in messages_of(response)[0]
    assert not SegmentMembership.objects.exists()


# Invalid input: a clear message, nothing changes (PRODUCT 12) ----------------------------------


def test_no_selection_is_refused(three, alice):
    response = post(alice, action="status", status="contacted")

    assert messages_of(response) == ["Select at least one lead."]
    assert statuses(three) == ["new"] * 3


def test_status_action_without_a_status_is_refused(three, alice):
    response = post(alice, three, action="status", status="")

    assert messages_of(response) == ["Choose a status."]
    assert statuses(three) == ["new"] * 3


def test_missing_action_is_refused(three, alice):
    response = post(alice, three, status="contacted")

    assert messages_of(response) == ["Choose a bulk action."]
    assert statuses(three) == ["new"] * 3


def test_unknown_status_is_refused(three, alice):
    response = post(alice, three, action="status", status="won")

    assert "not one of the available choices" in messages_of(response)[0]
    assert statuses(three) == ["new"] * 3


@pytest.mark.parametrize("action", ["add_tags", "remove_tags"])
def test_tag_action_without_a_tag_is_refused(three, alice, action):
    response = post(alice, three, action=action, tags=" , ")

    assert messages_of(response) == ["Name at least one tag."]


def test_custom_field_action_without_a_field_is_refused(three, alice):
    response = post(alice, three, action="custom_field", field_value="x")

    assert messages_of(response) == ["Choose a field."]


def test_segment_action_without_a_segment_is_refused(three, alice):
    response = post(alice, three, action="add_to_segment")

    assert messages_of(response) == ["Choose a static segment."]


@pytest.mark.parametrize(
    "ids",
    [["abc"], ["-1"], ["9" * 40], ["9" * 5000], ["1.5"], ["\x00"], [""], ["٣"]],
    ids=["text", "negative", "huge", "5000 digits", "decimal", "nul", "empty", "arabic digit"],
)
def test_naughty_lead_ids_never_break_bulk_update(three, alice, ids):
    response = alice.post(URL, {"lead": ids, "action": "status", "status": "contacted"})

    assert response.status_code == 302
    assert statuses(three) == ["new"] * 3


@pytest.mark.parametrize(
    "query",
    ["q=%00", "q=" + "x" * 5000, "score_min=1e400", "tags=" + "9" * 40, "%%%", "cf_x=😀"],
    ids=["nul", "long", "exponent", "huge tag id", "bad escapes", "unknown field"],
)
def test_naughty_all_matching_query_never_breaks_bulk_update(three, alice, query):
    response = post(alice, action="status", status="contacted", all_matching="1", query=query)

    assert response.status_code == 302


# Who may do it (W2/W3) -----------------------------------------------------------------------


def test_viewer_gets_403_and_nothing_changes(three, viewer):
    response = post(login(viewer), three, action="status", status="contacted")

    assert response.status_code == 403
    assert statuses(three) == ["new"] * 3


def test_outsider_posting_acme_lead_ids_changes_nothing(three, outsider):
    response = post(login(outsider), three, action="delete")

    assert response.status_code == 302
    assert Lead.objects.filter(deleted_at__isnull=False).count() == 0


def test_outsider_cannot_set_status_on_acme_leads(three, outsider):
    post(login(outsider), three, action="status", status="converted")

    assert statuses(three) == ["new"] * 3


def test_owner_posting_another_workspaces_lead_ids_changes_nothing(other_ws, alice):
    foreign = LeadFactory(workspace=other_ws)

    post(alice, [foreign], action="status", status="converted")

    assert statuses([foreign]) == ["new"]


def test_it_rejects_get(alice):
    assert alice.get(URL).status_code == 405


def test_it_sends_anonymous_visitors_to_log_in(three, client):
    response = post(client, three, action="delete")

    assert response.status_code == 302
    assert Lead.objects.filter(deleted_at__isnull=False).count() == 0
