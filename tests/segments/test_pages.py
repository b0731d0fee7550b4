"""Pipeline → Segments: the list, a segment's page and its actions (PRODUCT G1–G5)."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from contacts.models import Lead
from pipeline.models import SavedView
from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
from tests.conftest import login
from tests.contacts.factories import LeadFactory, SegmentFactory, SegmentMembershipFactory
from tests.factories import UserFactory

LIST = reverse("segments:segment-list")
HTMX = {"headers": {"HX-Request": "true"}}
SCORE_OVER_50 = {"match": "all", "children": [{"field": "score", "op": "gt", "value": 50}]}


def url(name: str, segment, query: str = "") -> str:
    return reverse(f"segments:{name}", args=[segment.pk]) + query


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def members(segment) -> set[int]:
    return set(SegmentMembership.objects.filter(segment=segment).values_list("lead_id", flat=True))


def row_names(response) -> list[str]:
    """Segment names in the list's rows, in order."""
    return re.findall(
        r'class="fw-medium text-decoration-none"[^>]*><bdi>([^<]*)</bdi>', response.content.decode()
    )


@pytest.fixture
def maya(marketer):
    return login(marketer)


@pytest.fixture
def static(ws, marketer):
    return SegmentFactory(
        workspace=ws, name="Berlin VIPs", kind=SegmentKind.STATIC, created_by=marketer.user
    )


@pytest.fixture
def dynamic(ws):
    return SegmentFactory(
        workspace=ws, name="Hot leads", kind=SegmentKind.DYNAMIC, rules=SCORE_OVER_50
    )


# The list ------------------------------------------------------------------------------------


def test_the_list_shows_each_segment_with_type_state_owner(static, dynamic, viewer):
    content = login(viewer).get(LIST).content.decode()

    assert url("segment-detail", static) in content
    assert "Berlin VIPs" in content and "Hot leads" in content
    assert "Static" in content and "Dynamic" in content
    assert "Active" in content
    assert static.created_by.display_name in content


def test_the_list_is_sorted_by_name(ws, viewer):
    for name in ("b segment", "C segment", "a segment"):
        SegmentFactory(workspace=ws, name=name)

    assert row_names(login(viewer).get(LIST)) == ["a segment", "b segment", "C segment"]


def test_retired_segments_are_hidden_until_asked_for(ws, viewer):
    SegmentFactory(workspace=ws, name="Current")
    SegmentFactory(workspace=ws, name="Old list", state=SegmentState.RETIRED)
    client = login(viewer)

    assert row_names(client.get(LIST)) == ["Current"]
    assert row_names(client.get(LIST, {"retired": "on"})) == ["Current", "Old list"]
    assert row_names(client.get(LIST, {"state": "retired"})) == ["Old list"]


def test_it_filters_by_type_and_state_and_searches_names(ws, viewer):
    SegmentFactory(workspace=ws, name="Fair static", kind=SegmentKind.STATIC)
    SegmentFactory(workspace=ws, name="Fair dynamic", kind=SegmentKind.DYNAMIC)
    SegmentFactory(workspace=ws, name="Draft one", state=SegmentState.DRAFT)
    client = login(viewer)

    assert row_names(client.get(LIST, {"kind": "dynamic"})) == ["Fair dynamic"]
    assert row_names(client.get(LIST, {"state": "draft"})) == ["Draft one"]
    assert row_names(client.get(LIST, {"q": "fair"})) == ["Fair dynamic", "Fair static"]


def test_it_lists_only_this_workspaces_segments(other_ws, static, viewer):
    SegmentFactory(workspace=other_ws, name="Globex secret")

    assert row_names(login(viewer).get(LIST)) == ["Berlin VIPs"]


def test_an_empty_workspace_offers_a_new_segment_to_a_marketer(maya):
    content = maya.get(LIST).content.decode()

    assert "No segments yet." in content
    assert reverse("segments:segment-new") in content


def test_a_viewer_sees_no_new_segment_button(viewer):
    content = login(viewer).get(LIST).content.decode()

    assert "No segments yet." in content
    assert reverse("segments:segment-new") not in content


def test_filters_matching_nothing_say_so(static, viewer):
    content = login(viewer).get(LIST, {"q": "zzz"}).content.decode()

    assert "No segments match." in content


def test_htmx_filtering_returns_only_the_results(static, viewer):
    response = login(viewer).get(LIST, {"q": "berlin"}, **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert content.strip().startswith('<div id="segment-results">')
    assert "Berlin VIPs" in content
    assert "HX-Request" in response["Vary"]


def test_the_pipeline_menu_links_to_segments(viewer):
    content = login(viewer).get(LIST).content.decode()

    assert f'href="{LIST}"' in content


def test_the_list_runs_a_bounded_number_of_queries(ws, viewer, django_assert_max_num_queries):
    owner = UserFactory()
    for i in range(30):
        SegmentFactory(workspace=ws, name=f"S{i}", created_by=owner)
    client = login(viewer)
    client.get(LIST)

    with django_assert_max_num_queries(6):  # session, user, membership, role, count, page
        client.get(LIST)


# Member counts (G5) --------------------------------------------------------------------------


def test_a_fresh_count_shows_with_its_time_and_is_not_reloaded(static, viewer):
    static.member_count, static.counted_at = 1234, timezone.now() - timedelta(minutes=2)
    static.save()

    content = login(viewer).get(LIST).content.decode()

    assert "1,234" in content
    assert "as of" in content
    assert url("segment-count", static) not in content


@pytest.mark.parametrize("age", [None, timedelta(minutes=11)])
def test_a_missing_or_old_count_is_fetched_when_the_row_loads(static, viewer, age):
    static.member_count = 7
    static.counted_at = None if age is None else timezone.now() - age
    static.save()

    content = login(viewer).get(LIST).content.decode()

    assert f'hx-get="{url("segment-count", static)}" hx-trigger="load"' in content


def test_the_count_endpoint_recounts_live_members_and_stores_the_count(ws, static, viewer):
    for lead in [LeadFactory(workspace=ws), LeadFactory(workspace=ws)]:
        SegmentMembershipFactory(segment=static, lead=lead)
    SegmentMembershipFactory(
        segment=static, lead=LeadFactory(workspace=ws, deleted_at=timezone.now())
    )

    response = login(viewer).get(url("segment-count", static), **HTMX)

    static.refresh_from_db()
    assert static.member_count == 2
    assert timezone.now() - static.counted_at < timedelta(seconds=30)
    content = response.content.decode()
    assert content.strip().startswith("<td")
    assert "<html" not in content
    assert ">2<" in content and "as of" in content and "hx-get" not in content


def test_the_count_endpoint_counts_a_dynamic_segment_by_its_rules(ws, dynamic, viewer):
    LeadFactory(workspace=ws, score=70)
    LeadFactory(workspace=ws, score=20)

    login(viewer).get(url("segment-count", dynamic))

    dynamic.refresh_from_db()
    assert dynamic.member_count == 1


def test_the_count_endpoint_keeps_a_fresh_count(ws, static, viewer):
    SegmentMembershipFactory(segment=static, lead=LeadFactory(workspace=ws))
    counted = timezone.now() - timedelta(minutes=1)
    static.member_count, static.counted_at = 0, counted
    static.save()

    login(viewer).get(url("segment-count", static))

    static.refresh_from_db()
    assert (static.member_count, static.counted_at) == (0, counted)


def test_last_used_shows_never_or_how_long_ago(ws, viewer):
    SegmentFactory(workspace=ws, name="Unused")
    SegmentFactory(workspace=ws, name="Used", last_used_at=timezone.now() - timedelta(hours=3))

    content = login(viewer).get(LIST).content.decode()

    assert "never" in content
    assert "3\xa0hours ago" in content


# Create and edit -----------------------------------------------------------------------------


def test_a_marketer_creates_a_static_segment(ws, marketer, maya):
    response = maya.post(
        reverse("segments:segment-new"),
        {"name": "Trade fair", "description": "Met in Berlin", "kind": "static", "state": "draft"},
    )

    segment = Segment.objects.get(workspace=ws, name="Trade fair")
    assert response.status_code == 302
    assert response["Location"] == url("segment-detail", segment)
    assert (segment.kind, segment.state, segment.created_by) == ("static", "draft", marketer.user)
    assert messages_of(response) == ["Segment “Trade fair” created."]


def test_the_new_segment_form_offers_type_and_state(maya):
    content = maya.get(reverse("segments:segment-new")).content.decode()

    assert 'name="kind"' in content and 'value="dynamic"' in content
    assert 'name="state"' in content


def test_creating_with_a_taken_name_shows_the_error(static, maya):
    response = maya.post(
        reverse("segments:segment-new"), {"name": "berlin vips", "kind": "static", "state": "draft"}
    )

    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Segment.objects.count() == 1


def test_creating_without_a_name_changes_nothing(maya):
    response = maya.post(reverse("segments:segment-new"), {"name": "", "kind": "static"})

    assert response.status_code == 400
    assert not Segment.objects.exists()


def test_a_marketer_renames_a_segment(static, maya):
    response = maya.post(url("segment-edit", static), {"name": "Berlin 2026", "description": "x"})

    static.refresh_from_db()
    assert response.status_code == 302
    assert (static.name, static.description) == ("Berlin 2026", "x")


def test_the_edit_form_is_filled_in(static, maya):
    content = maya.get(url("segment-edit", static)).content.decode()

    assert 'value="Berlin VIPs"' in content


def test_a_retired_segment_cannot_be_renamed(static, maya):
    static.state = SegmentState.RETIRED
    static.save()

    response = maya.post(url("segment-edit", static), {"name": "Sneaky", "description": ""})

    static.refresh_from_db()
    assert response.status_code == 400
    assert "read-only" in response.content.decode()
    assert static.name == "Berlin VIPs"


# State, duplicate, freeze --------------------------------------------------------------------


def test_a_marketer_changes_the_state(static, maya):
    response = maya.post(url("segment-state", static), {"state": "retired"})

    static.refresh_from_db()
    assert static.state == SegmentState.RETIRED
    assert response["Location"] == url("segment-detail", static)
    assert messages_of(response) == ["“Berlin VIPs” is Retired. It is read-only now."]


def test_a_retired_segment_can_be_made_active_again(static, maya):
    static.state = SegmentState.RETIRED
    static.save()

    maya.post(url("segment-state", static), {"state": "active"})

    static.refresh_from_db()
    assert static.state == SegmentState.ACTIVE


def test_an_unknown_state_is_refused(static, maya):
    response = maya.post(url("segment-state", static), {"state": "archived"})

    static.refresh_from_db()
    assert static.state == SegmentState.ACTIVE
    assert messages_of(response) == ["Choose Draft, Active or Retired."]


def test_duplicate_opens_the_draft_copy_with_the_same_members(ws, static, maya):
    lead = LeadFactory(workspace=ws)
    SegmentMembershipFactory(segment=static, lead=lead)

    response = maya.post(url("segment-duplicate", static))

    copy = Segment.objects.get(name="Copy of Berlin VIPs")
    assert response["Location"] == url("segment-detail", copy)
    assert copy.state == SegmentState.DRAFT
    assert members(copy) == {lead.pk}


def test_freeze_opens_a_static_copy_of_the_matching_leads(ws, dynamic, maya):
    hot = LeadFactory(workspace=ws, score=90)
    LeadFactory(workspace=ws, score=10)

    response = maya.post(url("segment-freeze", dynamic))

    frozen = Segment.objects.get(kind=SegmentKind.STATIC)
    assert frozen.name.startswith("Hot leads (frozen ")
    assert response["Location"] == url("segment-detail", frozen)
    assert members(frozen) == {hot.pk}
    assert messages_of(response) == [f"“{frozen.name}” created with 1 lead."]


def test_freezing_a_static_segment_says_why_not(static, maya):
    response = maya.post(url("segment-freeze", static))

    assert response["Location"] == url("segment-detail", static)
    assert messages_of(response) == ["Only a dynamic segment can be frozen."]
    assert Segment.objects.count() == 1


# Delete --------------------------------------------------------------------------------------


def test_the_delete_page_asks_first(static, maya):
    content = maya.get(url("segment-delete", static)).content.decode()

    assert "Delete segment" in content
    assert Segment.objects.filter(pk=static.pk).exists()


def test_delete_removes_the_segment(static, maya):
    response = maya.post(url("segment-delete", static))

    assert response["Location"] == LIST
    assert not Segment.objects.filter(pk=static.pk).exists()
    assert messages_of(response) == ["Segment “Berlin VIPs” deleted."]


def test_the_delete_page_names_what_still_uses_the_segment(ws, static, owner, maya):
    rules = {"match": "all", "children": [{"field": "segment", "op": "in", "value": static.pk}]}
    SegmentFactory(workspace=ws, name="Berlin and hot", kind=SegmentKind.DYNAMIC, rules=rules)
    SavedView.objects.create(
        workspace=ws, owner=owner.user, name="Fair list", query=f"segment={static.pk}"
    )

    content = maya.get(url("segment-delete", static)).content.decode()

    assert "can't be deleted while other things use it" in content
    assert "dynamic segment “Berlin and hot”" in content
    assert "saved view “Fair list”" in content
    assert "Delete segment" not in content


def test_delete_is_refused_when_a_dynamic_segment_uses_it(ws, static, maya):
    rules = {"match": "all", "children": [{"field": "segment", "op": "not_in", "value": static.pk}]}
    SegmentFactory(workspace=ws, name="Not Berlin", kind=SegmentKind.DYNAMIC, rules=rules)

    response = maya.post(url("segment-delete", static))

    assert Segment.objects.filter(pk=static.pk).exists()
    assert response["Location"] == url("segment-detail", static)
    assert messages_of(response) == [
        "“Berlin VIPs” is still used by dynamic segment “Not Berlin”. Remove it from there first."
    ]


# A static segment's page ---------------------------------------------------------------------


def test_a_static_segment_page_shows_its_live_members(ws, static, viewer):
    ada = LeadFactory(workspace=ws, first_name="Ada", last_name="Lovelace")
    gone = LeadFactory(workspace=ws, first_name="Gone", last_name="Away", deleted_at=timezone.now())
    LeadFactory(workspace=ws, first_name="Not", last_name="Member")
    SegmentMembershipFactory(segment=static, lead=ada)
    SegmentMembershipFactory(segment=static, lead=gone)

    content = login(viewer).get(url("segment-detail", static)).content.decode()

    assert "Members" in content
    assert "Ada Lovelace" in content
    assert reverse("pipeline:lead-detail", args=[ada.pk]) in content
    assert "Gone Away" not in content and "Not Member" not in content
    assert "1 member" in content


def test_the_segment_page_shows_header_badges_and_description(static, viewer):
    static.description = "People met at the Berlin fair"
    static.save()

    content = login(viewer).get(url("segment-detail", static)).content.decode()

    assert "<h1><bdi>Berlin VIPs</bdi></h1>" in content
    assert "Static" in content and "Active" in content
    assert "People met at the Berlin fair" in content


def test_members_are_paged_50_at_a_time_with_page_numbers(ws, static, viewer):
    for _ in range(51):
        SegmentMembershipFactory(segment=static, lead=LeadFactory(workspace=ws))
    client = login(viewer)

    first = client.get(url("segment-detail", static)).content.decode()
    second = client.get(url("segment-detail", static, "?page=2")).content.decode()

    assert "1–50 of 51" in first
    assert 'aria-current="page">1<' in first
    assert "51–51 of 51" in second


def test_htmx_paging_returns_only_the_members(ws, static, viewer):
    SegmentMembershipFactory(segment=static, lead=LeadFactory(workspace=ws, last_name="Abbott"))

    response = login(viewer).get(
        url("segment-detail", static, "?page=1"),
        headers={"HX-Request": "true", "HX-Target": "segment-members"},
    )

    content = response.content.decode()
    assert "<html" not in content
    assert content.strip().startswith('<section class="card" id="segment-members"')
    assert "Abbott" in content


def test_an_empty_static_segment_points_to_the_leads_list(static, rep):
    content = login(rep).get(url("segment-detail", static)).content.decode()

    assert "No members yet." in content
    assert "Add to static segment" in content
    assert reverse("pipeline:lead-list") in content


def test_a_rep_gets_remove_buttons_and_a_viewer_does_not(ws, static, rep, viewer):
    lead = LeadFactory(workspace=ws)
    SegmentMembershipFactory(segment=static, lead=lead)

    for_rep = login(rep).get(url("segment-detail", static)).content.decode()
    for_viewer = login(viewer).get(url("segment-detail", static)).content.decode()

    assert "Remove from segment" in for_rep and f'value="{lead.pk}"' in for_rep
    assert "Remove from segment" not in for_viewer
    assert url("members-remove", static) not in for_viewer


def test_a_rep_sees_no_manage_actions(static, rep):
    content = login(rep).get(url("segment-detail", static)).content.decode()

    for name in ("segment-edit", "segment-duplicate", "segment-state", "segment-delete"):
        assert url(name, static) not in content
    assert url("segment-export", static) not in content


def test_a_marketer_sees_every_action_but_freeze_on_a_static_segment(static, maya):
    content = maya.get(url("segment-detail", static)).content.decode()

    for name in ("segment-edit", "segment-duplicate", "segment-state", "segment-delete"):
        assert url(name, static) in content
    assert url("segment-export", static) + "?format=vcf" in content
    assert url("segment-freeze", static) not in content


def test_a_retired_segment_page_is_read_only(ws, static, maya):
    SegmentMembershipFactory(segment=static, lead=LeadFactory(workspace=ws))
    static.state = SegmentState.RETIRED
    static.save()

    content = maya.get(url("segment-detail", static)).content.decode()

    assert "This segment is retired" in content
    assert "Remove from segment" not in content
    assert url("segment-edit", static) not in content
    assert url("segment-state", static) in content  # the way back


def test_viewing_a_segment_records_its_use(static, viewer):
    login(viewer).get(url("segment-detail", static))

    static.refresh_from_db()
    assert static.last_used_at is not None


def test_the_members_page_runs_a_bounded_number_of_queries(
    ws, static, rep, django_assert_max_num_queries
):
    for _ in range(20):
        SegmentMembershipFactory(segment=static, lead=LeadFactory(workspace=ws))
    client = login(rep)
    client.get(url("segment-detail", static))

    with django_assert_max_num_queries(9):
        client.get(url("segment-detail", static))


# Removing members ----------------------------------------------------------------------------


def test_a_rep_removes_selected_members(ws, static, rep):
    a, b, c = (LeadFactory(workspace=ws) for _ in range(3))
    for lead in (a, b, c):
        SegmentMembershipFactory(segment=static, lead=lead)

    response = login(rep).post(
        url("members-remove", static), {"lead": [a.pk, b.pk], "query": "page=2"}
    )

    assert members(static) == {c.pk}
    assert response["Location"] == url("segment-detail", static, "?page=2")
    assert messages_of(response) == ["2 leads removed from “Berlin VIPs”."]
    assert Lead.objects.filter(pk=a.pk).exists()


def test_removing_nothing_says_to_select_leads(static, rep):
    response = login(rep).post(url("members-remove", static), {"lead": ["x"]})

    assert messages_of(response) == ["Select at least one lead to remove."]


def test_removing_from_a_retired_segment_is_refused(ws, static, rep):
    lead = LeadFactory(workspace=ws)
    SegmentMembershipFactory(segment=static, lead=lead)
    static.state = SegmentState.RETIRED
    static.save()

    response = login(rep).post(url("members-remove", static), {"lead": [lead.pk]})

    assert members(static) == {lead.pk}
    assert "read-only" in messages_of(response)[0]


def test_removing_from_a_dynamic_segment_is_refused(ws, dynamic, rep):
    lead = LeadFactory(workspace=ws)

    response = login(rep).post(url("members-remove", dynamic), {"lead": [lead.pk]})

    assert messages_of(response) == ["Removing leads works on static segments only."]


# A dynamic segment's page --------------------------------------------------------------------


def test_a_dynamic_segment_page_holds_the_rule_builder_not_members(dynamic, viewer):
    response = login(viewer).get(url("segment-detail", dynamic))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Dynamic" in content
    assert 'id="segment-members"' not in content
    assert "segments/_rules.html" in [t.name for t in response.templates]


def test_a_marketer_can_freeze_a_dynamic_segment_from_its_page(dynamic, maya):
    content = maya.get(url("segment-detail", dynamic)).content.decode()

    assert url("segment-freeze", dynamic) in content


# Export --------------------------------------------------------------------------------------


def content_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_csv_export_holds_every_member_and_only_them(ws, static, maya):
    ada = LeadFactory(workspace=ws, email="ada@one.lead", first_name="Ada", last_name="Lovelace")
    SegmentMembershipFactory(segment=static, lead=ada)
    LeadFactory(workspace=ws, email="not@member.lead")

    response = maya.get(url("segment-export", static, "?format=csv"))

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="Berlin-VIPs-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(content_of(response).decode("utf-8").lstrip("\ufeff"))))
    assert rows[0][:3] == ["Email", "Secondary emails", "First name"]
    assert [row[0] for row in rows[1:]] == ["ada@one.lead"]


def test_xlsx_export_of_a_dynamic_segment_holds_the_matching_leads(ws, dynamic, maya):
    LeadFactory(workspace=ws, email="hot@lead.test", score=80)
    LeadFactory(workspace=ws, email="cold@lead.test", score=5)

    response = maya.get(url("segment-export", dynamic, "?format=xlsx"))

    sheet = load_workbook(io.BytesIO(content_of(response)), read_only=True)["Leads"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert [row[0] for row in rows[1:]] == ["hot@lead.test"]


def test_vcard_export_has_a_card_per_member(ws, static, maya):
    SegmentMembershipFactory(
        segment=static, lead=LeadFactory(workspace=ws, first_name="Ada", last_name="Lovelace")
    )

    text = content_of(maya.get(url("segment-export", static, "?format=vcf"))).decode()

    assert text.count("BEGIN:VCARD") == 1
    assert "N:Lovelace;Ada;;;" in text


def test_a_retired_segment_can_be_exported(static, maya):
    static.state = SegmentState.RETIRED
    static.save()

    assert maya.get(url("segment-export", static, "?format=csv")).status_code == 200


def test_an_unknown_export_format_is_a_400(static, maya):
    response = maya.get(url("segment-export", static, "?format=pdf"))

    assert response.status_code == 400


def test_exporting_records_the_segments_use(static, maya):
    content_of(maya.get(url("segment-export", static, "?format=csv")))

    static.refresh_from_db()
    assert static.last_used_at is not None
