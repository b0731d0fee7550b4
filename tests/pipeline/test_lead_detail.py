"""The lead page (PRODUCT L7): every field group, the panels, the timeline, who sees what."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import ActivityType, ConsentStatus, CustomFieldType, ScoringRule
from tests.contacts.factories import (
    ActivityFactory,
    CompanyFactory,
    ConsentEventFactory,
    CustomFieldFactory,
    LeadFactory,
    ScoringRuleFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)
from tests.factories import MembershipFactory, UserFactory

HTMX_TIMELINE = {"headers": {"HX-Request": "true", "HX-Target": "timeline"}}


def page_url(lead, query: str = "") -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk]) + query


@pytest.fixture
def lead(ws, rep):
    company = CompanyFactory(workspace=ws, name="Initech", domain="initech.test")
    lead = LeadFactory(
        workspace=ws,
        email="jane@initech.test",
        first_name="Jane",
        last_name="Doe",
        company=company,
        owner=rep.user,
        secondary_emails=["jane.doe@home.test"],
        phone="+4930123456",
        job_title="Head of Ops",
        department="Operations",
        contact_role="decision_maker",
        linkedin_url="https://www.linkedin.com/in/janedoe",
        twitter_handle="janedoe",
        city="Berlin",
        country="DE",
        status="qualified",
        email_status="active",
        bant_budget="50k EUR",
        bant_authority="Signs off alone",
        bant_need="Fewer spreadsheets",
        bant_timeline="Q3",
        quality_score=40,
    )
    lead.tags.add(TagFactory(workspace=ws, name="vip"))
    return lead


def activities(lead, count: int, type: str = ActivityType.NOTE, **fields) -> list:
    start = timezone.now() - timedelta(days=1)
    return [
        ActivityFactory(
            lead=lead,
            type=type,
            occurred_at=start + timedelta(minutes=i),
            subject=f"#{i}",
            **fields,
        )
        for i in range(count)
    ]


# Who sees it --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer", "rep", "viewer"])
def test_every_role_sees_the_lead(persona, team, lead, as_member, request):
    response = as_member(request.getfixturevalue(persona)).get(page_url(lead))

    assert response.status_code == 200
    assert "Jane Doe" in response.content.decode()


def test_outsider_gets_404_for_a_lead_of_another_workspace(lead, outsider, as_member):
    assert as_member(outsider).get(page_url(lead)).status_code == 404


def test_member_of_both_workspaces_gets_404_while_in_the_other_one(lead, other_ws, as_member):
    both = MembershipFactory(workspace=other_ws, user=UserFactory(), role_name="Owner")
    MembershipFactory(workspace=lead.workspace, user=both.user, role_name="Owner")

    assert as_member(both).get(page_url(lead)).status_code == 404


def test_a_trashed_lead_is_a_404(lead, rep, as_member):
    lead.deleted_at = timezone.now()
    lead.save()

    assert as_member(rep).get(page_url(lead)).status_code == 404


def test_a_role_without_view_leads_gets_403(lead, ws, as_member):
    nobody = MembershipFactory(workspace=ws, role=Group.objects.create(name="Nobody"))

    assert as_member(nobody).get(page_url(lead)).status_code == 403


def test_anonymous_visitor_is_sent_to_log_in(lead, client):
    response = client.get(page_url(lead))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_rejects_other_methods(method, lead, rep, as_member):
    assert getattr(as_member(rep), method)(page_url(lead)).status_code == 405


# What it shows ------------------------------------------------------------------------------


def test_it_shows_the_header(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "jane@initech.test" in content
    assert "Qualified" in content
    assert "Email active" in content
    assert "Cold · 0" in content
    assert rep.user.display_name in content
    assert "vip" in content


def test_it_shows_every_field_group(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    for text in [
        "jane.doe@home.test",
        "+4930123456",
        "Head of Ops",
        "Operations",
        "Decision Maker",
        "Initech",
        "initech.test",
        "50k EUR",
        "Signs off alone",
        "Fewer spreadsheets",
        "Q3",
        "https://www.linkedin.com/in/janedoe",
        "@janedoe",
        "Berlin",
        "Germany",
    ]:
        assert text in content, text


def test_the_company_links_to_its_page(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert reverse("pipeline:company-detail", args=[lead.company_id]) in content


def test_a_linkedin_url_that_is_not_a_web_link_is_not_a_link(lead, rep, as_member):
    lead.linkedin_url = "javascript:alert(1)"
    lead.save()

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert 'href="javascript:' not in content


def test_custom_fields_show_active_fields_formatted_by_type(lead, ws, rep, as_member):
    CustomFieldFactory(workspace=ws, key="budget", label="Budget", type=CustomFieldType.NUMBER)
    CustomFieldFactory(workspace=ws, key="vip", label="VIP", type=CustomFieldType.BOOLEAN)
    CustomFieldFactory(workspace=ws, key="since", label="Customer since", type="date")
    CustomFieldFactory(workspace=ws, key="notes", label="Notes field")
    lead.attributes = {"budget": 1234567, "vip": True, "since": "2024-03-31"}
    lead.save()

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "1,234,567" in content
    assert "Yes" in content
    assert "March 31, 2024" in content
    assert 'data-field="notes"' in content


def test_retired_custom_fields_are_not_shown(lead, ws, rep, as_member):
    CustomFieldFactory(workspace=ws, key="old", label="Old field", retired_at=timezone.now())
    lead.attributes = {"old": "kept value"}
    lead.save()

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "Old field" not in content
    assert "kept value" not in content


def test_the_consent_panel_shows_the_current_consent(lead, rep, as_member):
    lead.consent_status = ConsentStatus.OPTED_IN
    lead.consent_source = "Berlin fair 2025"
    lead.consent_proof = "Signed form #42"
    lead.consent_captured_at = timezone.now()
    lead.save()

    content = as_member(rep).get(page_url(lead)).content.decode()

    for text in ["Email permission", "Consent source", "Consent captured at", "Consent proof"]:
        assert text in content
    assert "Opted In" in content
    assert "Berlin fair 2025" in content
    assert "Signed form #42" in content


def test_the_consent_history_lists_events_newest_first(lead, rep, as_member):
    now = timezone.now()
    ConsentEventFactory(lead=lead, source="older source", occurred_at=now - timedelta(days=2))
    ConsentEventFactory(lead=lead, source="newer source", occurred_at=now - timedelta(days=1))

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert content.index("newer source") < content.index("older source")


def test_segments_it_belongs_to_are_listed(lead, ws, rep, as_member):
    SegmentMembershipFactory(segment=SegmentFactory(workspace=ws, name="Berlin VIPs"), lead=lead)

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "Berlin VIPs" in content
    assert "Not in any static segment" not in content


def test_a_lead_in_no_segment_says_so(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "Not in any static segment" in content


def test_features_of_later_issues_show_their_honest_empty_state(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "No webform submissions yet." in content
    assert "Sequence Execution" in content
    assert "Not enrolled in any sequence." in content


def test_the_score_breakdown_sums_points_per_rule_since_the_latest_reset(lead, ws, rep, as_member):
    # The workspace's default rules (seed 000): opened +1, clicked +5, unsubscribed resets, …
    now = timezone.now()
    ActivityFactory(lead=lead, type="email_clicked", occurred_at=now - timedelta(days=9))
    ActivityFactory(lead=lead, type="unsubscribed", occurred_at=now - timedelta(days=5))
    for days in (3, 2):
        ActivityFactory(lead=lead, type="email_opened", occurred_at=now - timedelta(days=days))
    ActivityFactory(lead=lead, type="email_clicked", occurred_at=now - timedelta(days=1))

    response = as_member(rep).get(page_url(lead))

    score = response.context["score"]
    assert [(line.rule.activity_type, line.activities, line.points) for line in score["lines"]] == [
        ("email_opened", 2, 2),
        ("email_clicked", 1, 5),
    ]
    assert score["total"] == 7
    assert score["reset"].type == "unsubscribed"
    assert "reset by “Unsubscribed”" in response.content.decode()


def test_the_score_breakdown_says_when_it_is_cut(lead, ws, rep, as_member):
    activities(lead, 201, type=ActivityType.EMAIL_OPENED)  # +1 each by the default rules

    response = as_member(rep).get(page_url(lead))

    score = response.context["score"]
    assert score["total"] == 201
    assert len(score["activities"]) == 50
    assert "…and 151 older activities adding +151." in response.content.decode()
    assert "is kept between 0 and 100" in response.content.decode()


def test_a_workspace_without_scoring_rules_says_so(lead, ws, rep, as_member):
    ScoringRule.objects.filter(workspace=ws).delete()

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "no active scoring rules" in content


# Actions by role ----------------------------------------------------------------------------


def test_rep_sees_log_edit_and_the_consent_form_on_their_lead(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert 'id="log-activity"' in content
    assert "Log call" in content
    assert reverse("pipeline:lead-edit", args=[lead.pk]) in content
    assert reverse("pipeline:lead-delete", args=[lead.pk]) in content
    assert reverse("pipeline:lead-consent", args=[lead.pk]) in content


def test_rep_sees_no_delete_on_a_lead_they_do_not_own(lead, owner, rep, as_member):
    lead.owner = owner.user
    lead.save()

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert reverse("pipeline:lead-delete", args=[lead.pk]) not in content
    assert reverse("pipeline:lead-edit", args=[lead.pk]) in content


def test_viewer_sees_no_log_edit_delete_or_consent_form(lead, viewer, as_member):
    content = as_member(viewer).get(page_url(lead)).content.decode()

    assert 'id="log-activity"' not in content
    assert "Log call" not in content
    assert reverse("pipeline:lead-edit", args=[lead.pk]) not in content
    assert reverse("pipeline:lead-delete", args=[lead.pk]) not in content
    assert "Change consent" not in content


def test_the_log_buttons_preselect_the_type(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead, "?log=meeting")).content.decode()

    assert 'value="meeting" checked' in content


# Timeline ------------------------------------------------------------------------------------


def test_the_timeline_shows_an_entry_with_its_details(lead, rep, as_member):
    ActivityFactory(
        lead=lead,
        type=ActivityType.PAGE_VISITED,
        subject="Pricing page",
        url="https://initech.test/pricing",
        actor=rep.user,
        source="api",
        occurred_at=timezone.now() - timedelta(hours=2),
    )

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "Page Visited" in content
    assert "Pricing page" in content
    assert 'href="https://initech.test/pricing"' in content
    assert "bi-globe" in content
    assert "2\xa0hours ago" in content
    assert f"{rep.user.display_name} · API" in content


def test_the_timeline_shows_20_entries_per_page_newest_first(lead, rep, as_member):
    activities(lead, 25)

    first = as_member(rep).get(page_url(lead)).context["timeline"]
    second = as_member(rep).get(page_url(lead, "?tpage=2")).context["timeline"]

    assert [a.subject for a in first][:2] == ["#24", "#23"]
    assert len(first) == 20
    assert [a.subject for a in second] == ["#4", "#3", "#2", "#1", "#0"]


def test_the_timeline_filters_by_type(lead, rep, as_member):
    activities(lead, 2, type=ActivityType.CALL)
    activities(lead, 3, type=ActivityType.NOTE)

    response = as_member(rep).get(page_url(lead, "?type=call"))

    assert {a.type for a in response.context["timeline"]} == {"call"}
    assert response.context["timeline"].paginator.count == 2


def test_an_unknown_type_filter_is_ignored(lead, rep, as_member):
    activities(lead, 3)

    response = as_member(rep).get(page_url(lead, "?type=nonsense&tpage=abc"))

    assert response.status_code == 200
    assert response.context["timeline"].paginator.count == 3


def test_the_page_links_keep_the_type_filter(lead, rep, as_member):
    activities(lead, 25, type=ActivityType.CALL)

    content = as_member(rep).get(page_url(lead, "?type=call")).content.decode()

    assert "?type=call&amp;tpage=2" in content


def test_htmx_timeline_request_gets_only_the_timeline(lead, rep, as_member):
    activities(lead, 25, type=ActivityType.CALL)

    response = as_member(rep).get(page_url(lead, "?type=call&tpage=2"), **HTMX_TIMELINE)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.strip().startswith('<div id="timeline">')
    assert "#4" in content
    assert response["Vary"].count("HX-Request")


def test_htmx_timeline_request_for_a_trashed_lead_is_a_404(lead, rep, as_member):
    lead.deleted_at = timezone.now()
    lead.save()

    assert as_member(rep).get(page_url(lead), **HTMX_TIMELINE).status_code == 404


def test_an_empty_timeline_says_so(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "No activities yet." in content


# Queries -------------------------------------------------------------------------------------


def _full_lead(ws, lead, n: int) -> None:
    ScoringRuleFactory(workspace=ws, activity_type=ActivityType.EMAIL_OPENED, points=1)
    for _ in range(n):
        lead.tags.add(TagFactory(workspace=ws))
        CustomFieldFactory(workspace=ws)
        ConsentEventFactory(lead=lead)
        SegmentMembershipFactory(segment=SegmentFactory(workspace=ws), lead=lead)
    activities(lead, n * 10, type=ActivityType.EMAIL_OPENED)


def test_the_page_runs_a_bounded_number_of_queries(
    lead, ws, rep, as_member, django_assert_max_num_queries
):
    _full_lead(ws, lead, 8)
    client = as_member(rep)

    # 19: session, user, membership, permissions, lead, tags, ledger, timeline (2), custom
    # fields, score (4: rules, latest reset, counts per rule, latest counted), quality
    # weights, segments (2: its own, the ones it could join), sequence execution (2).
    with django_assert_max_num_queries(19):
        response = client.get(page_url(lead))

    assert response.status_code == 200


def test_the_query_count_does_not_grow_with_the_lead(
    lead, ws, rep, as_member, django_assert_num_queries
):
    client = as_member(rep)
    _full_lead(ws, lead, 1)
    client.get(page_url(lead))  # warm the session
    with CaptureQueriesContext(connection) as small:
        client.get(page_url(lead))
    _full_lead(ws, lead, 6)
    with django_assert_num_queries(len(small)):
        client.get(page_url(lead))
