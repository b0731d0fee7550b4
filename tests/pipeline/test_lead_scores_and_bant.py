"""The lead page's scores (PRODUCT A3 breakdown, A4 quality card), its editable BANT card (A6),
and the quality score on the leads list (column, filters, query language)."""

import re
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_tables2 import RequestConfig

from contacts.models import ActivityType, Lead
from contacts.quality import leads_requality
from contacts.queries import leads_for
from contacts.scoring import leads_rescore
from contacts.services import lead_update
from contacts.tables import column_choices, lead_table
from leadcrm.models import AuditLog
from pipeline.models import LeadListPreference
from segments.models import Segment
from tests.contacts.factories import ActivityFactory, CompanyFactory, LeadFactory

HTMX = {"headers": {"HX-Request": "true"}}
LIST = reverse("pipeline:lead-list")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.lead")


def page_url(lead, query: str = "") -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk]) + query


def bant_url(lead, query: str = "") -> str:
    return reverse("pipeline:lead-bant", args=[lead.pk]) + query


@pytest.fixture
def lead(ws, rep):
    return LeadFactory(
        workspace=ws,
        email="jane@initech.test",
        first_name="Jane",
        last_name="Doe",
        owner=rep.user,
        bant_budget="50k EUR",
        bant_need="Fewer spreadsheets",
    )


def scored(lead, type: str, days_ago: float, **fields):
    return ActivityFactory(
        lead=lead, type=type, occurred_at=timezone.now() - timedelta(days=days_ago), **fields
    )


def bant(lead, **values) -> dict:
    data = {
        "bant_budget": lead.bant_budget,
        "bant_authority": lead.bant_authority,
        "bant_need": lead.bant_need,
        "bant_timeline": lead.bant_timeline,
        "version": lead.version,
    }
    return {**data, **values}


# Engagement score breakdown (A3) -------------------------------------------------------------


def test_the_breakdown_lists_each_counted_activity_newest_first(lead, rep, as_member):
    # The workspace's default rules: visited /pricing +20, clicked +5, opened +1, …
    scored(lead, ActivityType.EMAIL_OPENED, 3)
    visit = scored(lead, ActivityType.PAGE_VISITED, 2, url="https://acme.test/pricing?plan=pro")
    scored(lead, ActivityType.PAGE_VISITED, 1.5, url="https://acme.test/blog")  # no rule
    scored(lead, ActivityType.EMAIL_CLICKED, 1, url="https://acme.test/news")

    response = as_member(rep).get(page_url(lead))

    listed = [(i.points, i.activity.type, i.url) for i in response.context["score"]["activities"]]
    assert listed == [
        (5, "email_clicked", "/news"),
        (20, "page_visited", "/pricing"),
        (1, "email_opened", ""),
    ]
    day = timezone.localtime(visit.occurred_at).strftime("%-d %b %Y")  # "3 Mar 2026"
    line = rf"\+20</span> Page Visited <bdi[^>]*>/pricing</bdi> · <time[^>]*>{day}<"
    assert re.search(line, response.content.decode())


def test_the_breakdown_counts_only_activities_after_the_latest_reset(lead, rep, as_member):
    scored(lead, ActivityType.EMAIL_REPLIED, 9)
    scored(lead, ActivityType.UNSUBSCRIBED, 5)
    scored(lead, ActivityType.EMAIL_OPENED, 2)

    response = as_member(rep).get(page_url(lead))

    score = response.context["score"]
    assert [i.activity.type for i in score["activities"]] == ["email_opened"]
    assert score["total"] == 1
    assert "The score was reset by “Unsubscribed”" in response.content.decode()
    assert "only later activities count" in response.content.decode()


def test_the_breakdown_sums_to_the_recomputed_score(ws, lead, rep, as_member):
    for days in range(60):
        scored(lead, ActivityType.EMAIL_CLICKED, days + 1)
    scored(lead, ActivityType.EMAIL_BOUNCED, 0.5)
    leads_rescore(workspace=ws, lead_ids=[lead.pk])

    score = as_member(rep).get(page_url(lead)).context["score"]

    lead.refresh_from_db()
    assert score["total"] == lead.score_points == 60 * 5 - 50
    assert score["older"] == 61 - 50
    assert score["older_points"] == 5 * 11
    assert score["clamped"]


def test_a_total_within_0_and_100_is_not_said_to_be_kept(lead, rep, as_member):
    scored(lead, ActivityType.EMAIL_CLICKED, 1)

    content = as_member(rep).get(page_url(lead)).content.decode()

    assert "kept between 0 and 100" not in content


# Quality score card (A4) ---------------------------------------------------------------------


def test_the_quality_card_shows_every_item_and_the_stored_total(ws, lead, rep, as_member):
    Lead.objects.filter(pk=lead.pk).update(
        phone="+4930123456", company=CompanyFactory(workspace=ws), source="Referral"
    )
    leads_requality(workspace=ws, lead_ids=[lead.pk])
    lead.refresh_from_db()

    response = as_member(rep).get(page_url(lead))

    quality = response.context["quality"]
    assert quality["total"] == lead.quality_score == 10 + 10 + 10 + 10 + 5 + 20
    assert [(p.name, p.points, p.max_points) for p in quality["parts"]] == [
        ("Contact completeness", 30, 40),
        ("Company information", 15, 20),
        ("Source reliability", 20, 20),
        ("Engagement", 0, 20),
    ]
    content = response.content.decode()
    assert "Not computed yet" not in content
    assert re.search(r"Phone or mobile</bdi></td><td[^>]*>10/10<", content)
    assert re.search(r"Job title</bdi></td><td[^>]*>0/5<", content)


def test_members_who_manage_scoring_get_a_link_to_its_settings(lead, marketer, as_member):
    content = as_member(marketer).get(page_url(lead)).content.decode()

    assert f'href="{reverse("scoring")}"' in content


def test_a_rep_gets_no_link_to_the_scoring_settings(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert f'href="{reverse("scoring")}"' not in content


def test_logging_an_activity_refreshes_the_quality_card(lead, rep, as_member):
    url = reverse("pipeline:lead-activity", args=[lead.pk])

    response = as_member(rep).post(url, {"type": "call", "subject": "Intro"}, **HTMX)

    assert 'id="quality"' in response.content.decode()
    assert 'hx-swap-oob="true"' in response.content.decode()


# BANT (A6) -----------------------------------------------------------------------------------


def test_a_rep_sees_the_edit_button_on_the_bant_card(lead, rep, as_member):
    content = as_member(rep).get(page_url(lead)).content.decode()

    assert f'hx-get="{bant_url(lead)}?edit=1"' in content
    assert f'href="{page_url(lead)}?edit=bant#bant"' in content


def test_a_viewer_sees_no_edit_button_on_the_bant_card(lead, viewer, as_member):
    content = as_member(viewer).get(page_url(lead, "?edit=bant")).content.decode()

    assert bant_url(lead) not in content
    assert 'name="bant_budget"' not in content


def test_htmx_edit_swaps_in_the_form_with_the_current_values(lead, rep, as_member):
    response = as_member(rep).get(bant_url(lead, "?edit=1"), **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert 'value="50k EUR"' in content
    assert f'name="version" value="{lead.version}"' in content


def test_htmx_cancel_gives_back_the_card(lead, rep, as_member):
    content = as_member(rep).get(bant_url(lead), **HTMX).content.decode()

    assert 'id="bant"' in content
    assert 'name="bant_budget"' not in content
    assert "50k EUR" in content


def test_without_js_edit_opens_the_page_with_the_form(lead, rep, as_member):
    client = as_member(rep)

    redirected = client.get(bant_url(lead, "?edit=1"))
    content = client.get(page_url(lead, "?edit=bant")).content.decode()

    assert redirected["Location"] == page_url(lead, "?edit=bant#bant")
    assert 'name="bant_budget"' in content
    assert "Cancel" in content


def test_saving_changes_the_lead_and_shows_the_card(lead, rep, as_member):
    values = bant(lead, bant_authority="CFO signs", bant_timeline="Q4")

    response = as_member(rep).post(bant_url(lead), values, **HTMX)

    lead.refresh_from_db()
    assert (lead.bant_authority, lead.bant_timeline, lead.version) == ("CFO signs", "Q4", 2)
    content = response.content.decode()
    assert response.status_code == 200
    assert "CFO signs" in content
    assert 'name="bant_budget"' not in content
    assert re.search(r'id="record"[^>]*hx-swap-oob="true"', content)
    assert "lead-updated" in response["HX-Trigger"]


def test_saving_writes_the_audit_entry(lead, rep, as_member):
    as_member(rep).post(bant_url(lead), bant(lead, bant_budget="80k EUR"))

    entry = AuditLog.objects.get(action="lead.update", object_id=str(lead.pk))
    assert entry.actor == rep.user
    assert entry.changes["bant_budget"] == ["50k EUR", "80k EUR"]


def test_saving_without_js_redirects_back_to_the_card(lead, owner, as_member):
    response = as_member(owner).post(bant_url(lead), bant(lead, bant_need="A CRM"))

    assert response.status_code == 302
    assert response["Location"] == page_url(lead) + "#bant"
    lead.refresh_from_db()
    assert lead.bant_need == "A CRM"


def test_saving_nothing_new_keeps_the_version(lead, rep, as_member):
    as_member(rep).post(bant_url(lead), bant(lead))

    lead.refresh_from_db()
    assert lead.version == 1
    assert not AuditLog.objects.filter(action="lead.update").exists()


def test_a_stale_version_saves_nothing_and_says_what_changed(lead, rep, owner, as_member):
    form = bant(lead, bant_budget="Mine")
    lead_update(lead=lead, actor=owner.user, bant_budget="Theirs")

    response = as_member(rep).post(bant_url(lead), form, **HTMX)

    content = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed this lead while you were editing it." in content
    assert "<strong>Budget</strong>: <bdi>Theirs</bdi>" in content
    assert 'value="Mine"' in content
    assert 'name="version" value="2"' in content  # saving again overwrites theirs
    lead.refresh_from_db()
    assert lead.bant_budget == "Theirs"


def test_a_stale_version_without_js_shows_the_page_with_the_form(lead, rep, owner, as_member):
    form = bant(lead, bant_budget="Mine")
    lead_update(lead=lead, actor=owner.user, bant_timeline="Soon")

    response = as_member(rep).post(bant_url(lead), form)

    assert response.status_code == 409
    assert "Someone else changed this lead" in response.content.decode()
    assert "<html" in response.content.decode()


def test_a_missing_version_is_refused(lead, rep, as_member):
    values = bant(lead, bant_budget="Mine")
    del values["version"]

    response = as_member(rep).post(bant_url(lead), values, **HTMX)

    assert response.status_code == 400
    assert "This form is out of date" in response.content.decode()


def test_too_long_a_value_is_refused_on_its_field(lead, rep, as_member):
    response = as_member(rep).post(bant_url(lead), bant(lead, bant_budget="x" * 201), **HTMX)

    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()


def test_a_rep_may_edit_another_members_lead(ws, lead, owner, rep, as_member):
    theirs = LeadFactory(workspace=ws, owner=owner.user)

    response = as_member(rep).post(bant_url(theirs), bant(theirs, bant_budget="1k"))

    assert response.status_code == 302


def test_a_viewer_cannot_edit_bant(lead, viewer, as_member):
    client = as_member(viewer)

    assert client.get(bant_url(lead, "?edit=1"), **HTMX).status_code == 403
    assert client.post(bant_url(lead), bant(lead, bant_budget="1k")).status_code == 403
    lead.refresh_from_db()
    assert lead.bant_budget == "50k EUR"


def test_an_outsider_gets_404(lead, outsider, as_member):
    response = as_member(outsider).post(bant_url(lead), bant(lead, bant_budget="1k"))

    assert response.status_code == 404


def test_the_bant_endpoint_refuses_other_methods(lead, rep, as_member):
    assert as_member(rep).put(bant_url(lead)).status_code == 405


# The leads list ------------------------------------------------------------------------------


def listed(response) -> list[str]:
    body = response.content.decode().split("<tbody", 1)[1].split("</tbody>", 1)[0]
    return EMAIL.findall(body)


@pytest.fixture
def qualities(ws):
    for quality in (10, 40, 55, 80):
        LeadFactory(workspace=ws, email=f"q{quality}@list.lead", quality_score=quality)


def test_quality_is_a_column_to_choose_not_a_default_one(ws):
    assert ("quality_score", "Quality") in column_choices([])


def test_the_quality_column_sorts_both_ways(ws, owner, qualities):
    request = RequestFactory().get(LIST, {"sort": "-quality_score"})
    table = lead_table(
        leads_for(ws), columns=["name", "quality_score"], custom_fields=[], selectable=False
    )
    RequestConfig(request, paginate=False).configure(table)

    assert [row.record.quality_score for row in table.rows] == [80, 55, 40, 10]
    table.order_by = "quality_score"
    assert [row.record.quality_score for row in table.rows] == [10, 40, 55, 80]


def test_the_list_shows_and_sorts_the_quality_column(ws, owner, qualities, as_member):
    LeadListPreference.objects.create(
        workspace=ws, user=owner.user, columns=["name", "email", "quality_score"]
    )

    response = as_member(owner).get(LIST, {"view": "all", "sort": "-quality_score"})

    assert listed(response) == [f"q{q}@list.lead" for q in (80, 55, 40, 10)]


def test_quality_filters_narrow_the_list(qualities, owner, as_member):
    response = as_member(owner).get(
        LIST, {"view": "all", "quality_min": "40", "quality_max": "55", "sort": "email"}
    )

    assert listed(response) == ["q40@list.lead", "q55@list.lead"]


def test_the_filter_panel_offers_quality_bounds(owner, as_member):
    content = as_member(owner).get(LIST, {"view": "all"}).content.decode()

    assert "Quality ≥" in content
    assert 'name="quality_min"' in content
    assert 'name="quality_max"' in content


def test_quality_in_the_search_box_filters_the_list(qualities, owner, as_member):
    response = as_member(owner).get(LIST, {"view": "all", "q": "quality:>50", "sort": "email"})

    assert listed(response) == ["q55@list.lead", "q80@list.lead"]


def test_quality_filters_become_segment_rules(ws, qualities, marketer, as_member):
    url = reverse("pipeline:lead-list-segment")
    query = "quality_min=40&quality_max=55"

    response = as_member(marketer).post(url, {"name": "Good enough", "query": query})

    assert response.status_code == 302
    segment = Segment.objects.get(workspace=ws, name="Good enough")
    assert segment.rules["children"] == [
        {"field": "quality_score", "op": "gte", "value": 40},
        {"field": "quality_score", "op": "lte", "value": 55},
    ]
