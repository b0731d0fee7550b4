"""The company page (PRODUCT L9): its fields and its live leads."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from tests.contacts.factories import CompanyFactory, LeadFactory
from tests.factories import MembershipFactory

HTMX_LEADS = {"headers": {"HX-Request": "true", "HX-Target": "company-leads"}}


def company_url(company, query: str = "") -> str:
    return reverse("pipeline:company-detail", args=[company.pk]) + query


@pytest.fixture
def company(ws):
    return CompanyFactory(workspace=ws, name="Initech", domain="initech.test")


def test_it_shows_the_company_fields(company, rep, as_member):
    content = as_member(rep).get(company_url(company)).content.decode()

    assert "Initech" in content
    assert "initech.test" in content


def test_it_lists_the_live_leads_of_the_company_by_last_name(company, ws, rep, as_member):
    LeadFactory(workspace=ws, company=company, first_name="Zoe", last_name="Young")
    LeadFactory(workspace=ws, company=company, first_name="Adam", last_name="Abbott")
    LeadFactory(workspace=ws, company=company, last_name="Gone", deleted_at=timezone.now())
    LeadFactory(workspace=ws, company=CompanyFactory(workspace=ws), last_name="Elsewhere")

    response = as_member(rep).get(company_url(company))

    assert _last_names(response) == ["Abbott", "Young"]


def test_each_lead_links_to_its_page(company, ws, rep, as_member):
    lead = LeadFactory(workspace=ws, company=company)

    content = as_member(rep).get(company_url(company)).content.decode()

    assert reverse("pipeline:lead-detail", args=[lead.pk]) in content


def test_it_shows_50_leads_per_page(company, ws, rep, as_member):
    for i in range(51):
        LeadFactory(workspace=ws, company=company, last_name=f"Name{i:02d}")

    client = as_member(rep)
    first = client.get(company_url(company))
    second = client.get(company_url(company, "?page=2"))

    assert len(_last_names(first)) == 50
    assert _last_names(second) == ["Name50"]


def test_a_company_without_leads_says_so(company, rep, as_member):
    content = as_member(rep).get(company_url(company)).content.decode()

    assert "No leads at this company." in content


def test_htmx_page_request_gets_only_the_lead_table(company, ws, rep, as_member):
    LeadFactory(workspace=ws, company=company, last_name="Abbott")

    response = as_member(rep).get(company_url(company, "?page=1"), **HTMX_LEADS)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.strip().startswith('<section class="card" id="company-leads"')
    assert "Abbott" in content


def test_the_page_runs_a_bounded_number_of_queries(
    company, ws, rep, as_member, django_assert_max_num_queries
):
    for _ in range(30):
        LeadFactory(workspace=ws, company=company, owner=rep.user)
    client = as_member(rep)

    with django_assert_max_num_queries(7):
        response = client.get(company_url(company))

    assert len(_last_names(response)) == 30


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer", "rep", "viewer"])
def test_every_role_sees_the_company(persona, team, company, as_member, request):
    assert as_member(request.getfixturevalue(persona)).get(company_url(company)).status_code == 200


def test_outsider_gets_404(company, outsider, as_member):
    assert as_member(outsider).get(company_url(company)).status_code == 404


def test_a_role_without_view_leads_gets_403(company, ws, as_member):
    nobody = MembershipFactory(workspace=ws, role=Group.objects.create(name="Nobody"))

    assert as_member(nobody).get(company_url(company)).status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_rejects_other_methods(method, company, rep, as_member):
    assert getattr(as_member(rep), method)(company_url(company)).status_code == 405


def _last_names(response) -> list[str]:
    """The last names in the shared lead table of the page, in the order shown."""
    return [row.record.last_name for row in response.context["table"].page.object_list]
