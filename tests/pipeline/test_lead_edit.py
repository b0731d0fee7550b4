"""Edit lead (PRODUCT L6): the form, stale versions, duplicates, unsubscribes, who may edit."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from contacts.consent import lead_unsubscribe
from contacts.models import CustomFieldType, Lead, LeadStatus
from contacts.services import lead_update
from leadcrm.models import AuditLog
from tests.contacts.factories import CompanyFactory, CustomFieldFactory, LeadFactory, TagFactory

HTMX = {"headers": {"HX-Request": "true"}}


def edit_url(lead: Lead) -> str:
    return reverse("pipeline:lead-edit", args=[lead.pk])


def form_data(client, lead: Lead, **changes) -> dict:
    """What the browser posts: the form as the page shows it, with the user's changes."""
    form = client.get(edit_url(lead)).context["form"]
    values = {}
    for field in form:
        value = field.value()
        values[field.html_name] = "" if value is None else str(value)
    return {**values, **changes}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def errors(response, name: str) -> list[str]:
    return response.context["form"].errors.get(name, [])


@pytest.fixture
def lead(ws, rep):
    company = CompanyFactory(workspace=ws, name="Example Inc")
    lead = LeadFactory(
        workspace=ws,
        email="jane@example.com",
        first_name="Jane",
        last_name="Doe",
        phone="+14155550100",
        country="US",
        company=company,
        owner=rep.user,
    )
    lead.tags.set([TagFactory(workspace=ws, name="vip")])
    return lead


# Who may edit -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer", "rep"])
def test_members_who_may_edit_see_the_form_with_the_current_values(
    persona, team, lead, as_member, request
):
    response = as_member(request.getfixturevalue(persona)).get(edit_url(lead))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'value="jane@example.com"' in content
    assert 'value="+14155550100"' in content
    assert 'value="Example Inc"' in content
    assert 'value="vip"' in content
    assert f'name="version" value="{lead.version}"' in content


def test_viewer_gets_403(viewer, lead, as_member):
    client = as_member(viewer)

    assert client.get(edit_url(lead)).status_code == 403
    assert client.post(edit_url(lead), {"email": "x@example.com"}).status_code == 403


def test_outsider_gets_404(outsider, lead, as_member):
    client = as_member(outsider)

    assert client.get(edit_url(lead)).status_code == 404
    assert client.post(edit_url(lead), {"email": "x@example.com"}).status_code == 404
    lead.refresh_from_db()
    assert lead.email == "jane@example.com"


def test_a_lead_in_the_trash_is_a_404(marketer, lead, as_member):
    lead.deleted_at = timezone.now()
    lead.save()

    assert as_member(marketer).get(edit_url(lead)).status_code == 404


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_it_rejects_other_methods(method, marketer, lead, as_member):
    assert getattr(as_member(marketer), method)(edit_url(lead)).status_code == 405


def test_edit_page_offers_delete_only_to_who_may_delete(rep, marketer, lead, ws, as_member):
    theirs = LeadFactory(workspace=ws, owner=marketer.user)
    delete = reverse("pipeline:lead-delete", args=[theirs.pk])

    assert delete in as_member(marketer).get(edit_url(theirs)).content.decode()
    assert delete not in as_member(rep).get(edit_url(theirs)).content.decode()


# Saving ------------------------------------------------------------------------------------


def test_marketer_saves_changes(marketer, lead, as_member):
    client = as_member(marketer)

    response = client.post(
        edit_url(lead),
        form_data(
            client,
            lead,
            last_name="Smith",
            status="qualified",
            phone="030 1234567",
            country="Germany",
            tags="vip, partner",
            company="New Co",
        ),
    )

    assert response.status_code == 302
    assert response.url == reverse("pipeline:lead-detail", args=[lead.pk])
    assert messages_of(response) == ["Changes saved."]
    lead.refresh_from_db()
    assert (lead.last_name, lead.status, lead.country) == ("Smith", "qualified", "DE")
    assert lead.phone == "+49301234567"
    assert lead.company.name == "New Co"
    assert sorted(lead.tags.values_list("name", flat=True)) == ["partner", "vip"]
    assert lead.version == 2
    entry = AuditLog.objects.get(action="lead.update")
    assert entry.changes["last_name"] == ["Doe", "Smith"]


def test_the_normalised_values_are_shown_after_saving(marketer, lead, as_member):
    client = as_member(marketer)
    client.post(
        edit_url(lead), form_data(client, lead, email=" Jane.D@Example.com ", phone="415 555 0199")
    )

    content = client.get(edit_url(lead)).content.decode()

    assert 'value="jane.d@example.com"' in content
    assert 'value="+14155550199"' in content


def test_saving_without_changes_says_so(marketer, lead, as_member):
    client = as_member(marketer)

    response = client.post(edit_url(lead), form_data(client, lead))

    assert messages_of(response) == ["Nothing changed."]
    lead.refresh_from_db()
    assert lead.version == 1
    assert not AuditLog.objects.filter(action="lead.update").exists()


def test_htmx_gets_the_form_fragment(marketer, lead, as_member):
    response = as_member(marketer).get(edit_url(lead), **HTMX)

    content = response.content.decode()
    assert 'id="lead-form"' in content
    assert "<html" not in content


def test_htmx_is_redirected_to_the_lead_after_saving(marketer, lead, as_member):
    client = as_member(marketer)

    response = client.post(edit_url(lead), form_data(client, lead, first_name="Janet"), **HTMX)

    assert response["HX-Redirect"] == reverse("pipeline:lead-detail", args=[lead.pk])
    lead.refresh_from_db()
    assert lead.first_name == "Janet"


def test_an_invalid_email_is_an_error_on_the_field(marketer, lead, as_member):
    client = as_member(marketer)

    response = client.post(edit_url(lead), form_data(client, lead, email="jane at example"))

    assert response.status_code == 400
    assert errors(response, "email") == ["Enter a valid email address."]
    lead.refresh_from_db()
    assert lead.email == "jane@example.com"


def test_the_email_of_another_lead_links_to_it(marketer, lead, ws, as_member):
    other = LeadFactory(workspace=ws, email="john@example.com")
    client = as_member(marketer)

    response = client.post(edit_url(lead), form_data(client, lead, email="John@Example.com"))

    assert response.status_code == 400
    assert errors(response, "email") == ["A lead with this email already exists."]
    assert reverse("pipeline:lead-detail", args=[other.pk]) in response.content.decode()


def test_a_missing_version_asks_to_reload(marketer, lead, as_member):
    client = as_member(marketer)

    response = client.post(edit_url(lead), form_data(client, lead, version=""))

    assert response.status_code == 400
    assert "This form is out of date" in response.content.decode()


# Stale edits ------------------------------------------------------------------------------


def test_a_stale_edit_shows_what_changed_and_saves_nothing(marketer, rep, lead, as_member):
    client = as_member(marketer)
    typed = form_data(client, lead, first_name="Janet")
    lead_update(lead=lead, actor=rep.user, status="contacted", phone="+14155550142")

    response = client.post(edit_url(lead), typed)

    content = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed this lead while you were editing it." in content
    assert "<strong>Status</strong>: <bdi>Contacted</bdi>" in content
    assert "<strong>Phone</strong>: <bdi>+14155550142</bdi>" in content
    assert 'value="Janet"' in content  # what the user typed is kept
    assert 'name="version" value="2"' in content
    lead.refresh_from_db()
    assert (lead.first_name, lead.status, lead.version) == ("Jane", "contacted", 2)


def test_saving_again_after_a_stale_edit_saves(marketer, rep, lead, as_member):
    client = as_member(marketer)
    typed = form_data(client, lead, first_name="Janet")
    lead_update(lead=lead, actor=rep.user, job_title="CTO")
    client.post(edit_url(lead), typed)

    response = client.post(edit_url(lead), {**typed, "version": "2"})

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.first_name, lead.version) == ("Janet", 3)


def test_htmx_gets_the_stale_edit_in_the_fragment(marketer, rep, lead, as_member):
    client = as_member(marketer)
    typed = form_data(client, lead, first_name="Janet")
    lead_update(lead=lead, actor=rep.user, tags=["churned"])

    response = client.post(edit_url(lead), typed, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<strong>Tags</strong>: <bdi>churned</bdi>" in content
    assert "<html" not in content


# Unsubscribed ------------------------------------------------------------------------------


def test_leaving_unsubscribed_without_new_consent_is_refused(marketer, lead, as_member):
    lead_unsubscribe(lead=lead, actor=None, channel="manual")
    lead.refresh_from_db()
    client = as_member(marketer)

    response = client.post(
        edit_url(lead), form_data(client, lead, status="new", email_status="active")
    )

    assert response.status_code == 400
    assert "Record new consent" in response.content.decode()
    assert response.context["form"].non_field_errors()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNSUBSCRIBED


def test_setting_unsubscribed_goes_through_the_unsubscribe(marketer, lead, as_member):
    client = as_member(marketer)

    client.post(edit_url(lead), form_data(client, lead, status="unsubscribed"))

    lead.refresh_from_db()
    assert (lead.status, lead.email_status) == ("unsubscribed", "unsubscribed")
    assert lead.consent_events.filter(status="opted_out").exists()


# Custom fields -----------------------------------------------------------------------------


def test_custom_field_values_are_shown_and_saved(marketer, lead, ws, as_member):
    CustomFieldFactory(workspace=ws, key="budget", label="Budget", type=CustomFieldType.NUMBER)
    CustomFieldFactory(workspace=ws, key="vip", label="VIP", type=CustomFieldType.BOOLEAN)
    lead.attributes = {"budget": 100, "vip": True}
    lead.save()
    client = as_member(marketer)
    shown = form_data(client, lead)
    assert (shown["cf_budget"], shown["cf_vip"]) == ("100", "yes")

    client.post(edit_url(lead), {**shown, "cf_budget": "250.5"})

    lead.refresh_from_db()
    assert lead.attributes == {"budget": 250.5, "vip": True}


def test_a_bad_custom_value_is_an_error_on_its_field(marketer, lead, ws, as_member):
    CustomFieldFactory(workspace=ws, key="since", label="Since", type=CustomFieldType.DATE)
    client = as_member(marketer)

    response = client.post(edit_url(lead), form_data(client, lead, cf_since="yesterday"))

    assert errors(response, "cf_since") == ["Enter a date as YYYY-MM-DD, like 2025-03-31."]


def test_values_of_retired_fields_are_kept(marketer, lead, ws, as_member):
    CustomFieldFactory(workspace=ws, key="legacy", retired_at=timezone.now())
    lead.attributes = {"legacy": "keep me"}
    lead.save()
    client = as_member(marketer)

    client.post(edit_url(lead), form_data(client, lead, first_name="Janet"))

    lead.refresh_from_db()
    assert lead.attributes == {"legacy": "keep me"}
    assert lead.first_name == "Janet"


def test_a_custom_field_with_a_standard_name_stays_apart(marketer, lead, ws, as_member):
    CustomFieldFactory(workspace=ws, key="email", label="Work email", type=CustomFieldType.TEXT)
    client = as_member(marketer)

    client.post(edit_url(lead), form_data(client, lead, cf_email="jd@work.test"))

    lead.refresh_from_db()
    assert lead.email == "jane@example.com"
    assert lead.attributes == {"email": "jd@work.test"}


def test_an_empty_domain_follows_a_new_email(marketer, lead, as_member):
    lead.domain = ""
    lead.save()
    client = as_member(marketer)

    client.post(edit_url(lead), form_data(client, lead, email="jane@newco.test"))

    lead.refresh_from_db()
    assert lead.domain == "newco.test"


def test_a_cleared_domain_stays_empty(marketer, lead, as_member):
    client = as_member(marketer)
    assert lead.domain == "example.com"

    client.post(edit_url(lead), form_data(client, lead, domain=""))

    lead.refresh_from_db()
    assert lead.domain == ""


def test_rep_cannot_take_someone_elses_lead_by_editing_its_owner(ws, rep, owner, as_member):
    from contacts.models import Lead
    from tests.contacts.factories import LeadFactory

    lead = LeadFactory(workspace=ws, owner=owner.user)
    client = as_member(rep)
    form = client.get(f"/pipeline/leads/{lead.pk}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(owner=rep.user.pk, version=lead.version, email=lead.email)

    response = client.post(f"/pipeline/leads/{lead.pk}/edit/", data)

    assert response.status_code == 400
    assert "Only the lead" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).owner == owner.user
