"""The rule builder's endpoints (segments/builder_views.py) and the builder on a segment's page."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from leadcrm.models import AuditLog
from segments.models import SegmentKind, SegmentState
from tests.contacts.factories import CompanyFactory, LeadFactory, SegmentFactory, TagFactory
from tests.segments.test_builder import form_data, post_dict

HX = {"HX-Request": "true"}
SCORE_OVER_50 = {"match": "all", "children": [{"field": "score", "op": "gt", "value": 50}]}


@pytest.fixture
def segment(ws):
    return SegmentFactory(workspace=ws, name="Hot", kind=SegmentKind.DYNAMIC, rules=SCORE_OVER_50)


def url(segment, name: str = "") -> str:
    return f"/pipeline/segments/{segment.pk}/rules/{name + '/' if name else ''}"


def rules_post(*conditions: dict, match: str = "all", **extra) -> dict:
    """The builder form for a flat group of conditions (field, op, value[, value2])."""
    data = {"n:match": match, "node": [f"n.{i}" for i in range(len(conditions))], **extra}
    for i, condition in enumerate(conditions):
        for name, value in condition.items():
            data[f"n.{i}:{name}"] = value
    return data


def messages_of(response) -> list[str]:
    return [m["text"] for m in json.loads(response.get("HX-Trigger", "{}")).get("messages", [])]


def without_view_segments(membership):
    membership.role.permissions.remove(Permission.objects.get(codename="view_segments"))
    return membership


# The builder on the segment's page ------------------------------------------------------------


def test_the_page_shows_the_saved_rules_in_the_builder(segment, marketer, as_member):
    html = as_member(marketer).get(f"/pipeline/segments/{segment.pk}/").content.decode()

    data = form_data(html)
    assert (data["n.0:field"], data["n.0:op"], data["n.0:value"]) == ("score", "gt", "50")
    assert "Save rules" in html
    assert f'hx-get="{url(segment, "preview")}" hx-trigger="load"' in html


def test_a_superseded_request_is_cancelled_by_the_next(segment, marketer, as_member):
    html = as_member(marketer).get(f"/pipeline/segments/{segment.pk}/").content.decode()

    assert 'hx-sync="closest form:replace"' in html
    assert 'hx-trigger="input changed delay:400ms, change"' in html


@pytest.mark.parametrize("persona", ["viewer", "rep"])
def test_members_who_cannot_manage_segments_see_the_rules_read_only(
    segment, persona, request, as_member
):
    html = (
        as_member(request.getfixturevalue(persona))
        .get(f"/pipeline/segments/{segment.pk}/")
        .content.decode()
    )

    assert '<fieldset class="card-body" disabled>' in html
    assert "Save rules" not in html and "Add condition" not in html
    assert "Your role can view these rules but not change them." in html
    assert f'hx-get="{url(segment, "preview")}"' in html  # the preview still loads


def test_a_retired_segment_shows_its_rules_read_only(segment, marketer, as_member):
    segment.state = SegmentState.RETIRED
    segment.save()

    html = as_member(marketer).get(f"/pipeline/segments/{segment.pk}/").content.decode()

    assert '<fieldset class="card-body" disabled>' in html
    assert "Save rules" not in html
    assert "This segment is retired, so its rules are read-only." in html


# GET rules/: the saved rules ("Discard changes") ----------------------------------------------


def test_the_builder_answers_the_saved_rules_as_a_fragment(segment, marketer, as_member):
    response = as_member(marketer).get(url(segment), headers=HX)

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert form_data(html)["n.0:value"] == "50"
    assert "Unsaved changes" not in html


def test_the_builder_without_htmx_is_the_segment_page(segment, marketer, as_member):
    response = as_member(marketer).get(url(segment))

    assert response.status_code == 302
    assert response["Location"] == f"/pipeline/segments/{segment.pk}/"


# The preview ---------------------------------------------------------------------------------


def test_the_preview_counts_the_leads_the_edited_rules_match(ws, segment, marketer, as_member):
    for score in (10, 60, 70):
        LeadFactory(workspace=ws, score=score)
    LeadFactory(workspace=ws, score=90, deleted_at=timezone.now())  # in the trash
    LeadFactory(score=99)  # another workspace

    response = as_member(marketer).post(
        url(segment, "preview"),
        rules_post({"field": "score", "op": "gte", "value": "10"}),
        headers=HX,
    )

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "3 leads match" in html
    assert "Unsaved changes" in html  # gte 10 is not what is saved
    assert 'id="rules-leads" hx-swap-oob="true"' in html
    assert "As a query: <code data-rules-query>score:&gt;=10</code>" in html


def test_the_preview_lists_the_first_ten_newest_leads(ws, segment, viewer, as_member):
    company = CompanyFactory(workspace=ws, name="Initech")
    start = timezone.now() - timedelta(days=30)
    leads = [
        LeadFactory(
            workspace=ws,
            first_name=f"Lead{i:02}",
            last_name="Doe",
            score=60,
            company=company,
            created_at=start + timedelta(days=i),
        )
        for i in range(12)
    ]

    response = as_member(viewer).get(url(segment, "preview"), headers=HX)

    html = response.content.decode()
    assert "12 leads match" in html
    assert "Unsaved changes" not in html
    shown = [lead for lead in leads if f'href="/pipeline/leads/{lead.pk}/"' in html]
    assert shown == leads[2:]
    assert html.index("Lead11 Doe") < html.index("Lead02 Doe")  # newest first
    assert "Initech" in html and leads[5].email in html


def test_the_preview_of_the_saved_rules_is_not_unsaved(segment, marketer, as_member):
    response = as_member(marketer).post(
        url(segment, "preview"),
        rules_post({"field": "score", "op": "gt", "value": " 50 "}),
        headers=HX,
    )

    assert "Unsaved changes" not in response.content.decode()


def test_incomplete_rules_show_each_issue_at_its_node(segment, marketer, as_member):
    data = rules_post(
        {"field": "score", "op": "gt", "value": "lots"},
        {"field": "email", "op": "contains", "value": "@acme"},
    )
    data["node"].append("n.2")
    data.update({"n.2:match": "any"})
    data["node"].append("n.2.0")
    data.update({"n.2.0:field": "created", "n.2.0:op": "on", "n.2.0:value": "31/12/2025"})

    response = as_member(marketer).post(url(segment, "preview"), data, headers=HX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "The rules are incomplete" in html
    issue = (
        '<div id="issues-{}" class="rule-issues" hx-swap-oob="true"><div class="small text-danger'
        ' mt-1"><i class="bi bi-exclamation-circle me-1" aria-hidden="true"></i>{}</div></div>'
    )
    assert issue.format("n-0", "Lead score: Enter a number, like 50 or 12.5.") in html
    assert issue.format("n-2-0", "Created: Enter a date as YYYY-MM-DD, like 2025-03-31.") in html
    assert '<div id="issues-n-1" class="rule-issues" hx-swap-oob="true"></div>' in html
    assert 'id="rules-leads"' not in html  # the last valid preview stays


def test_a_condition_not_filled_in_yet_is_not_marked(segment, marketer, as_member):
    data = rules_post({"field": "", "op": ""}, {"field": "score", "op": "gt", "value": ""})

    html = as_member(marketer).post(url(segment, "preview"), data, headers=HX).content.decode()

    assert "The rules are incomplete" in html
    assert "text-danger" not in html


@pytest.mark.parametrize("persona", ["viewer", "rep"])
def test_members_who_only_view_segments_may_preview(segment, persona, request, as_member):
    response = as_member(request.getfixturevalue(persona)).post(
        url(segment, "preview"), rules_post(), headers=HX
    )

    assert response.status_code == 200


def test_a_form_the_builder_could_not_send_is_a_bad_request(segment, marketer, as_member):
    response = as_member(marketer).post(
        url(segment, "preview"), {"node": ["n.3"], "n.3:field": "email"}, headers=HX
    )

    assert response.status_code == 400
    assert response.content.decode() == "The rules form was not understood. Reload the page."


def test_the_preview_runs_a_bounded_number_of_queries(
    ws, segment, marketer, as_member, django_assert_max_num_queries
):
    tag = TagFactory(workspace=ws)
    LeadFactory.create_batch(15, workspace=ws, score=70)
    data = rules_post(
        {"field": "score", "op": "gt", "value": "50"},
        {"field": "tag", "op": "lacks", "value": str(tag.pk)},
        {"field": "segment", "op": "not_in", "value": str(SegmentFactory(workspace=ws).pk)},
    )
    client = as_member(marketer)

    # Whatever the number of leads (the count is one query per arm of a split OR, ≤ 4).
    with django_assert_max_num_queries(16):
        response = client.post(url(segment, "preview"), data, headers=HX)
    assert "15 leads match" in response.content.decode()


# Structural edits ----------------------------------------------------------------------------


def edit(client, segment, data: dict, edit: str):
    return client.post(url(segment, "edit"), {**data, "edit": edit}, headers=HX)


def test_add_condition_renders_a_new_blank_row(segment, marketer, as_member):
    response = edit(as_member(marketer), segment, rules_post(SCORE), "add-condition:n")

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    data = form_data(html)
    assert data.getlist("node") == ["n.0", "n.1"]
    assert data["n.1:field"] == ""  # "Choose a field…"
    assert "Choose a field…" in html
    assert "The rules are incomplete" in html
    assert "text-danger" not in html  # a new row is unfinished, not wrong


SCORE = {"field": "score", "op": "gt", "value": "50"}


def test_groups_nest_inside_groups(segment, marketer, as_member):
    client = as_member(marketer)
    data = form_data(edit(client, segment, rules_post(SCORE), "add-group:n").content.decode())
    assert data.getlist("node") == ["n.0", "n.1", "n.1.0"]
    assert data["n.1:match"] == "all"

    data = form_data(edit(client, segment, post_dict(data), "add-group:n.1").content.decode())
    data = form_data(edit(client, segment, post_dict(data), "add-group:n.1.1").content.decode())

    assert data.getlist("node") == [
        "n.0",
        "n.1",
        "n.1.0",
        "n.1.1",
        "n.1.1.0",
        "n.1.1.1",
        "n.1.1.1.0",
    ]


def test_removing_a_group_removes_its_children(segment, marketer, as_member):
    client = as_member(marketer)
    data = form_data(edit(client, segment, rules_post(SCORE), "add-group:n").content.decode())
    data = form_data(edit(client, segment, post_dict(data), "add-condition:n.1").content.decode())
    data.setlist("n.1:match", ["any"])
    data = form_data(edit(client, segment, post_dict(data), "add-condition:n").content.decode())
    assert data.getlist("node") == ["n.0", "n.1", "n.1.0", "n.1.1", "n.2"]

    response = edit(client, segment, post_dict(data), "remove:n.1")

    data = form_data(response.content.decode())
    assert data.getlist("node") == ["n.0", "n.1"]  # the last condition moved up
    assert data["n.0:value"] == "50"
    assert "n.1:match" not in data


def test_removing_the_last_change_shows_the_rules_as_saved(segment, marketer, as_member):
    data = rules_post(SCORE, {"field": "", "op": ""})

    html = edit(as_member(marketer), segment, data, "remove:n.1").content.decode()

    assert "Unsaved changes" not in html
    assert "Discard changes" not in html
    assert 'id="rules-leads" hx-swap-oob="true"' in html


def test_changing_the_field_resets_the_operator_and_value(segment, marketer, as_member):
    data = rules_post({"field": "status", "op": "gt", "value": "50"})

    html = edit(as_member(marketer), segment, data, "field:n.0").content.decode()

    data = form_data(html)
    assert (data["n.0:field"], data["n.0:op"], data["n.0:value"]) == ("status", "is", "")
    assert '<option value="qualified">Qualified</option>' in html
    assert "Unsaved changes" in html


@pytest.mark.parametrize(
    ("field", "op", "expected"),
    [
        ("first_name", "is", 'type="text"'),
        ("score", "between", 'name="n.0:value2"'),
        ("birthday", "on", 'type="date"'),
        ("created", "less_than_days_ago", '<span class="input-group-text">days</span>'),
        ("do_not_contact", "is", '<option value="false">no</option>'),
        ("status", "in", "<select multiple"),
        ("activity", "at_least", 'name="n.0:count"'),
        ("owner", "is", "Maya"),
        ("tag", "has", ">vip</option>"),
        ("segment", "in", ">Other (static)</option>"),
    ],
)
def test_each_kind_of_field_gets_its_own_value_input(
    ws, segment, marketer, as_member, field, op, expected
):
    TagFactory(workspace=ws, name="vip")
    SegmentFactory(workspace=ws, name="Other")
    marketer.user.full_name = "Maya Marketer"
    marketer.user.save()
    data = rules_post({"field": field, "op": op, "value": ""})

    html = edit(as_member(marketer), segment, data, f"op:n.0:{op}").content.decode()

    assert expected in html


def test_a_segment_condition_never_offers_the_segment_itself(ws, segment, marketer, as_member):
    other = SegmentFactory(workspace=ws, name="Other", kind=SegmentKind.DYNAMIC)
    old = SegmentFactory(workspace=ws, name="Old", state=SegmentState.RETIRED)
    data = rules_post({"field": "segment", "op": "in", "value": ""})

    html = edit(as_member(marketer), segment, data, "refresh").content.decode()

    assert f'<option value="{other.pk}">Other (dynamic)</option>' in html
    assert f'<option value="{old.pk}">Old (static, retired)</option>' in html
    assert "Hot (dynamic)" not in html


def test_a_viewer_cannot_edit_rules(segment, viewer, as_member):
    response = edit(as_member(viewer), segment, rules_post(SCORE), "add-condition:n")

    assert response.status_code == 403


def test_a_retired_segment_refuses_edits(segment, marketer, as_member):
    segment.state = SegmentState.RETIRED
    segment.save()

    response = edit(as_member(marketer), segment, rules_post(SCORE), "add-condition:n")

    assert response.status_code == 403
    assert response.content.decode() == "This segment is retired, so its rules are read-only."


# Save ----------------------------------------------------------------------------------------


def test_save_stores_the_clean_tree(segment, marketer, as_member):
    data = rules_post(
        {"field": "score", "op": "between", "value": " 10 ", "value2": "20.0"},
        {"field": "country", "op": "is", "value": "US"},
        match="any",
    )

    response = as_member(marketer).post(url(segment, "save"), data, headers=HX)

    assert response.status_code == 200
    segment.refresh_from_db()
    assert segment.rules == {
        "match": "any",
        "children": [
            {"field": "score", "op": "between", "value": [10, 20]},
            {"field": "country", "op": "is", "value": "US"},
        ],
    }
    assert messages_of(response) == ["Rules saved."]
    html = response.content.decode()
    assert "Unsaved changes" not in html
    assert form_data(html)["n.0:value"] == "10"
    assert AuditLog.objects.filter(action="segment.rules", object_id=str(segment.pk)).exists()


def test_save_refuses_invalid_rules_and_marks_every_issue(segment, marketer, as_member):
    data = rules_post({"field": "", "op": ""}, {"field": "score", "op": "gt", "value": "x"})

    response = as_member(marketer).post(url(segment, "save"), data, headers=HX)

    html = response.content.decode()
    assert response.status_code == 400
    assert "Choose a field." in html  # unfinished rows count on Save
    assert "Lead score: Enter a number, like 50 or 12.5." in html
    assert 'id="issues-n-1"' in html and "data-swap-errors" in html
    segment.refresh_from_db()
    assert segment.rules == SCORE_OVER_50
    assert messages_of(response) == []


def test_save_without_htmx_goes_back_to_the_segment(segment, marketer, as_member):
    response = as_member(marketer).post(url(segment, "save"), rules_post())

    assert response.status_code == 302
    assert response["Location"] == f"/pipeline/segments/{segment.pk}/"
    segment.refresh_from_db()
    assert segment.rules == {"match": "all", "children": []}


def test_a_retired_segment_refuses_saves(segment, marketer, as_member):
    segment.state = SegmentState.RETIRED
    segment.save()

    response = as_member(marketer).post(url(segment, "save"), rules_post(), headers=HX)

    assert response.status_code == 403
    segment.refresh_from_db()
    assert segment.rules == SCORE_OVER_50


@pytest.mark.parametrize("persona", ["viewer", "rep"])
def test_members_who_cannot_manage_segments_cannot_save(segment, persona, request, as_member):
    response = as_member(request.getfixturevalue(persona)).post(
        url(segment, "save"), rules_post(), headers=HX
    )

    assert response.status_code == 403
    segment.refresh_from_db()
    assert segment.rules == SCORE_OVER_50


# Every endpoint: another workspace, static segments, methods, permissions ---------------------

ENDPOINTS = [
    ("", "get"),
    ("preview", "get"),
    ("preview", "post"),
    ("edit", "post"),
    ("save", "post"),
]


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
def test_another_workspaces_segment_is_not_found(segment, outsider, name, method, as_member):
    response = getattr(as_member(outsider), method)(url(segment, name), rules_post(), headers=HX)

    assert response.status_code == 404


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
def test_a_static_segments_builder_is_not_found(ws, owner, name, method, as_member):
    static = SegmentFactory(workspace=ws, kind=SegmentKind.STATIC)

    response = getattr(as_member(owner), method)(url(static, name), rules_post(), headers=HX)

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "method"), [("", "post"), ("preview", "put"), ("edit", "get"), ("save", "get")]
)
def test_the_wrong_method_is_not_allowed(segment, marketer, name, method, as_member):
    response = getattr(as_member(marketer), method)(url(segment, name), headers=HX)

    assert response.status_code == 405


@pytest.mark.parametrize(("name", "method"), [("", "get"), ("preview", "get"), ("preview", "post")])
def test_a_role_without_view_segments_is_refused(segment, viewer, name, method, as_member):
    client = as_member(without_view_segments(viewer))

    response = getattr(client, method)(url(segment, name), rules_post(), headers=HX)

    assert response.status_code == 403
