"""Logging a call, meeting or note from the lead page (PRODUCT L7, A1/A2)."""

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from contacts.models import Activity, Channel
from tests.contacts.factories import LeadFactory, ScoringRuleFactory

HTMX = {"headers": {"HX-Request": "true"}}


def log_url(lead) -> str:
    return reverse("pipeline:lead-activity", args=[lead.pk])


def data(**values) -> dict:
    return {"type": "call", "subject": "Discovery call", "body": "", "occurred_at": "", **values}


def triggers(response) -> dict:
    return json.loads(response.get("HX-Trigger", "{}"))


@pytest.fixture
def lead(ws, rep):
    return LeadFactory(workspace=ws, owner=rep.user, first_name="Jane", last_name="Doe")


# Logging -------------------------------------------------------------------------------------


def test_rep_logs_a_call(lead, rep, as_member):
    as_member(rep).post(log_url(lead), data(body="Wants a demo next week."))

    activity = Activity.objects.get(lead=lead)
    assert (activity.type, activity.subject, activity.body) == (
        "call",
        "Discovery call",
        "Wants a demo next week.",
    )
    assert activity.actor == rep.user
    assert activity.source == Channel.MANUAL
    assert activity.workspace_id == lead.workspace_id


def test_logging_a_call_moves_last_contacted(lead, rep, as_member):
    as_member(rep).post(log_url(lead), data())

    lead.refresh_from_db()
    assert lead.last_contacted_at is not None
    assert lead.last_activity_at == lead.last_contacted_at


def test_a_plain_post_redirects_to_the_lead_with_a_message(lead, rep, as_member):
    response = as_member(rep).post(log_url(lead), data())

    assert response.status_code == 302
    assert response["Location"] == reverse("pipeline:lead-detail", args=[lead.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Call logged."]


def test_htmx_post_returns_the_timeline_with_the_new_call(lead, rep, as_member):
    response = as_member(rep).post(log_url(lead), data(subject="Pricing questions"), **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.strip().startswith('<div id="timeline">')
    assert "Pricing questions" in content


def test_htmx_post_also_sends_a_blank_form_score_and_dates_out_of_band(lead, rep, as_member):
    response = as_member(rep).post(log_url(lead), data(subject="Pricing questions"), **HTMX)

    content = response.content.decode()
    assert 'id="log-activity"' in content
    # the form, the score card and badge, the quality card (its engagement part), the dates
    assert content.count('hx-swap-oob="true"') == 5
    assert 'value="Pricing questions"' not in content


def test_htmx_post_announces_lead_updated_and_the_message(lead, rep, as_member):
    response = as_member(rep).post(log_url(lead), data(type="meeting"), **HTMX)

    events = triggers(response)
    activity = Activity.objects.get(lead=lead)
    assert events["lead-updated"] == {"id": lead.pk, "activity": activity.pk}
    assert events["messages"] == [{"level": "success", "text": "Meeting logged."}]
    assert response["HX-Push-Url"] == reverse("pipeline:lead-detail", args=[lead.pk])


def test_a_note_in_the_past_is_logged_at_that_time(lead, rep, as_member):
    when = (timezone.now() - timedelta(days=3)).replace(second=0, microsecond=0)
    local = timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")

    as_member(rep).post(log_url(lead), data(type="note", occurred_at=local))

    assert Activity.objects.get(lead=lead).occurred_at == when


def test_a_scored_activity_updates_the_score_panel(lead, ws, rep, as_member):
    ScoringRuleFactory(workspace=ws, activity_type="call", points=25)

    response = as_member(rep).post(log_url(lead), data(), **HTMX)

    content = response.content.decode()
    assert "Warm · 25" in content
    lead.refresh_from_db()
    assert lead.score == 25


@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", "'; DROP TABLE contacts_lead; --", "\u202eevil", "😀", "=1+2"],
)
def test_naughty_note_bodies_are_stored_verbatim_and_shown_escaped(text, lead, rep, as_member):
    response = as_member(rep).post(
        log_url(lead), data(type="note", subject=text, body=text), **HTMX
    )

    assert Activity.objects.get(lead=lead).body == text
    content = response.content.decode()
    assert escape(text) in content
    if escape(text) != text:
        assert text not in content


def test_the_page_shows_a_logged_script_escaped(lead, rep, as_member):
    as_member(rep).post(log_url(lead), data(type="note", body="<script>alert(1)</script>"))

    content = as_member(rep).get(reverse("pipeline:lead-detail", args=[lead.pk])).content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert b"<script>alert(1)" not in content


# Invalid input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, field",
    [
        ({"type": "email_opened"}, "type"),
        ({"type": "deal_won"}, "type"),
        ({"occurred_at": "2999-01-01T10:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"subject": "x" * 301}, "subject"),
        ({"subject": "", "body": "   "}, "__all__"),
        ({"body": "nul \x00 char"}, "body"),
    ],
)
def test_invalid_input_is_refused_with_400_and_stores_nothing(values, field, lead, rep, as_member):
    response = as_member(rep).post(log_url(lead), data(**values))

    assert response.status_code == 400
    assert field in response.context["log_form"].errors
    assert not Activity.objects.exists()


def test_htmx_invalid_input_returns_the_form_with_its_errors(lead, rep, as_member):
    response = as_member(rep).post(log_url(lead), data(occurred_at="2999-01-01T10:00"), **HTMX)

    content = response.content.decode()
    assert response.status_code == 400
    assert "<html" not in content
    assert content.strip().startswith('<form id="log-activity"')
    assert "That is in the future" in content
    assert response["HX-Retarget"] == "#log-activity"
    assert response["HX-Reswap"] == "outerHTML"


# Who may log ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer", "rep"])
def test_members_who_may_log_activities_can(persona, team, lead, as_member, request):
    response = as_member(request.getfixturevalue(persona)).post(log_url(lead), data())

    assert response.status_code == 302
    assert Activity.objects.filter(lead=lead).count() == 1


def test_viewer_gets_403_and_nothing_is_logged(lead, viewer, as_member):
    response = as_member(viewer).post(log_url(lead), data())

    assert response.status_code == 403
    assert not Activity.objects.exists()


def test_outsider_gets_404_and_nothing_is_logged(lead, outsider, as_member):
    response = as_member(outsider).post(log_url(lead), data())

    assert response.status_code == 404
    assert not Activity.objects.exists()


def test_a_trashed_lead_is_a_404(lead, rep, as_member):
    lead.deleted_at = timezone.now()
    lead.save()

    assert as_member(rep).post(log_url(lead), data()).status_code == 404
    assert not Activity.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_it_rejects_other_methods(method, lead, rep, as_member):
    assert getattr(as_member(rep), method)(log_url(lead)).status_code == 405
