"""Add lead (PRODUCT L6): the form, normalising, duplicates, custom fields, who may add."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from contacts.models import Company, ConsentEvent, CustomFieldType, EmailStatus, Lead, LeadStatus
from tests.contacts.factories import CustomFieldFactory, LeadFactory, SuppressedEmailFactory

NEW = reverse("pipeline:lead-new")
HTMX = {"headers": {"HX-Request": "true"}}


def data(**values) -> dict:
    """What the form posts: the required fields plus what the test sets ("" elsewhere)."""
    return {"email": "jane@example.com", "status": "new", "email_status": "active", **values}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def errors(response, name: str) -> list[str]:
    return response.context["form"].errors.get(name, [])


# Who may add ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer", "rep"])
def test_members_who_may_add_leads_see_the_form(persona, team, as_member, request):
    response = as_member(request.getfixturevalue(persona)).get(NEW)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="email"' in content
    assert "Add lead" in content


def test_viewer_gets_403_on_the_form(viewer, as_member):
    assert as_member(viewer).get(NEW).status_code == 403


def test_viewer_cannot_add_a_lead(viewer, as_member):
    response = as_member(viewer).post(NEW, data())

    assert response.status_code == 403
    assert not Lead.objects.exists()


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_it_rejects_other_methods(method, marketer, as_member):
    assert getattr(as_member(marketer), method)(NEW).status_code == 405


def test_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get(NEW)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_owner_choices_are_the_workspace_members_only(marketer, outsider, as_member):
    response = as_member(marketer).post(NEW, data(owner=outsider.user.pk))

    assert response.status_code == 400
    assert errors(response, "owner")
    assert not Lead.objects.exists()


# Adding -----------------------------------------------------------------------------------


def test_marketer_adds_a_lead(marketer, as_member):
    client = as_member(marketer)

    response = client.post(
        NEW,
        data(
            email="  Jane.Doe@Example.COM ",
            first_name="Jane",
            last_name="Doe",
            phone="(415) 555-0100",
            country="USA",
            company="Example Inc",
            tags="vip, webinar",
            owner=marketer.user.pk,
            contact_role="decision_maker",
            birthday="1990-04-01",
            linkedin_url="linkedin.com/in/janedoe",
            timezone="america/los_angeles",
        ),
    )

    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("pipeline:lead-detail", args=[lead.pk])
    assert messages_of(response) == ["Lead Jane Doe added."]
    assert lead.workspace == marketer.workspace
    assert lead.email == "jane.doe@example.com"
    assert lead.phone == "+14155550100"
    assert lead.country == "US"
    assert lead.domain == "example.com"
    assert lead.company.name == "Example Inc"
    assert sorted(lead.tags.values_list("name", flat=True)) == ["vip", "webinar"]
    assert lead.owner == marketer.user
    assert lead.linkedin_url == "https://linkedin.com/in/janedoe"
    assert lead.timezone == "America/Los_Angeles"
    assert lead.birthday.isoformat() == "1990-04-01"


def test_the_form_suggests_the_member_as_owner(marketer, as_member):
    form = as_member(marketer).get(NEW).context["form"]

    assert form["owner"].value() == marketer.user.pk


def test_a_company_of_the_same_name_is_reused(marketer, as_member):
    existing = Company.objects.create(workspace=marketer.workspace, name="Example Inc")

    as_member(marketer).post(NEW, data(company="example inc"))

    assert Lead.objects.get().company == existing
    assert Company.objects.count() == 1


def test_a_free_mail_address_leaves_the_domain_empty(marketer, as_member):
    as_member(marketer).post(NEW, data(email="jane@gmail.com"))

    assert Lead.objects.get().domain == ""


def test_adding_an_unsubscribed_lead_records_the_opt_out(marketer, as_member):
    as_member(marketer).post(NEW, data(status="unsubscribed"))

    lead = Lead.objects.get()
    assert lead.status == LeadStatus.UNSUBSCRIBED
    assert lead.email_status == EmailStatus.UNSUBSCRIBED
    assert ConsentEvent.objects.filter(lead=lead).exists()


def test_htmx_gets_the_form_fragment(marketer, as_member):
    response = as_member(marketer).get(NEW, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="lead-form"' in content
    assert "<html" not in content


def test_htmx_is_redirected_to_the_new_lead(marketer, as_member):
    response = as_member(marketer).post(NEW, data(first_name="Jane"), **HTMX)

    lead = Lead.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("pipeline:lead-detail", args=[lead.pk])


def test_htmx_gets_errors_in_the_fragment(marketer, as_member):
    response = as_member(marketer).post(NEW, data(email="not an email"), **HTMX)

    content = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx responses
    assert "Enter a valid email address." in content
    assert "<html" not in content


# Validation --------------------------------------------------------------------------------


def test_an_invalid_email_is_an_error_on_the_field(marketer, as_member):
    response = as_member(marketer).post(NEW, data(email="jane@"))

    assert response.status_code == 400
    assert errors(response, "email") == ["Enter a valid email address."]
    assert "is-invalid" in response.content.decode()
    assert not Lead.objects.exists()


def test_the_email_is_required(marketer, as_member):
    response = as_member(marketer).post(NEW, data(email=""))

    assert errors(response, "email") == ["This field is required."]


def test_an_unreadable_phone_is_an_error_on_the_field(marketer, as_member):
    response = as_member(marketer).post(NEW, data(phone="call me maybe"))

    assert response.status_code == 400
    assert errors(response, "phone") == ["“call me maybe” is not a phone number we can read."]


def test_an_unknown_country_is_an_error_on_the_field(marketer, as_member):
    response = as_member(marketer).post(NEW, data(country="Atlantis"))

    assert errors(response, "country")[0].startswith("“Atlantis” is not a country we know")


def test_an_unknown_timezone_is_an_error_on_the_field(marketer, as_member):
    response = as_member(marketer).post(NEW, data(timezone="Mars/Olympus"))

    assert errors(response, "timezone")


def test_a_duplicate_email_links_to_the_existing_lead(marketer, as_member):
    existing = LeadFactory(workspace=marketer.workspace, email="jane@example.com")

    response = as_member(marketer).post(NEW, data(email="JANE@example.com"))

    assert response.status_code == 400
    assert errors(response, "email") == ["A lead with this email already exists."]
    assert reverse("pipeline:lead-detail", args=[existing.pk]) in response.content.decode()
    assert Lead.objects.count() == 1


def test_an_email_of_another_workspace_is_no_duplicate(marketer, other_ws, as_member):
    LeadFactory(workspace=other_ws, email="jane@example.com")

    response = as_member(marketer).post(NEW, data())

    assert response.status_code == 302
    assert Lead.objects.filter(workspace=marketer.workspace).count() == 1


def test_an_email_in_the_trash_offers_to_restore_it(marketer, as_member):
    trashed = LeadFactory(
        workspace=marketer.workspace, email="jane@example.com", deleted_at=timezone.now()
    )

    response = as_member(marketer).post(NEW, data())

    content = response.content.decode()
    assert response.status_code == 400
    assert errors(response, "email") == [
        "A lead with this email is in the trash: restore it instead."
    ]
    assert f'formaction="{reverse("pipeline:lead-restore", args=[trashed.pk])}"' in content
    assert Lead.objects.count() == 1


def test_the_restore_offer_needs_the_right_to_restore_that_lead(rep, marketer, as_member):
    LeadFactory(
        workspace=rep.workspace,
        email="jane@example.com",
        owner=marketer.user,
        deleted_at=timezone.now(),
    )

    response = as_member(rep).post(NEW, data())

    content = response.content.decode()
    assert "A lead with this email is in the trash" in content
    assert "formaction=" not in content
    assert reverse("pipeline:trash") in content


def test_a_suppressed_email_cannot_be_added(marketer, as_member):
    SuppressedEmailFactory(workspace=marketer.workspace, email="jane@example.com")

    response = as_member(marketer).post(NEW, data())

    assert errors(response, "email") == [
        "This address is on the suppression list and cannot be added again."
    ]
    assert not Lead.objects.exists()


# Custom fields -----------------------------------------------------------------------------


@pytest.fixture
def custom_fields(ws):
    fields = [
        ("industry", CustomFieldType.CHOICE, ["SaaS", "Retail"], True),
        ("budget", CustomFieldType.NUMBER, [], False),
        ("since", CustomFieldType.DATE, [], False),
        ("vip", CustomFieldType.BOOLEAN, [], False),
        ("notes", CustomFieldType.TEXT, [], False),
    ]
    return [
        CustomFieldFactory(
            workspace=ws, key=key, label=key.title(), type=type_, choices=choices, required=req
        )
        for key, type_, choices, req in fields
    ]


def test_the_form_has_one_field_per_active_custom_field(marketer, custom_fields, as_member):
    custom_fields[-1].retired_at = timezone.now()
    custom_fields[-1].save()

    content = as_member(marketer).get(NEW).content.decode()

    assert 'name="cf_industry"' in content
    assert 'type="number" name="cf_budget"' in content
    assert 'type="date" name="cf_since"' in content
    assert 'name="cf_notes"' not in content


def test_custom_field_values_are_stored_typed(marketer, custom_fields, as_member):
    as_member(marketer).post(
        NEW,
        data(
            cf_industry="SaaS",
            cf_budget="1234.50",
            cf_since="2025-03-31",
            cf_vip="yes",
            cf_notes=" Met at the fair ",
        ),
    )

    assert Lead.objects.get().attributes == {
        "industry": "SaaS",
        "budget": 1234.5,
        "since": "2025-03-31",
        "vip": True,
        "notes": "Met at the fair",
    }


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("cf_industry", "", "This field is required."),
        ("cf_industry", "Mining", "Select a valid choice."),
        ("cf_budget", "12,5", "Enter a number, like 1234.5 or -3 (no thousands separators)."),
        ("cf_budget", "1e20", "Enter a number between"),
        ("cf_since", "31/03/2025", "Enter a date as YYYY-MM-DD, like 2025-03-31."),
        ("cf_since", "2025-02-30", "2025-02-30 is not a date in the calendar."),
        ("cf_vip", "maybe", "Select a valid choice."),
        ("cf_notes", "x" * 1001, "Ensure this value has at most 1000 characters"),
    ],
)
def test_a_bad_custom_field_value_is_an_error_on_its_field(
    name, value, message, marketer, custom_fields, as_member
):
    response = as_member(marketer).post(NEW, data(**{"cf_industry": "SaaS", name: value}))

    assert response.status_code == 400
    assert len(errors(response, name)) == 1
    assert errors(response, name)[0].startswith(message)
    assert not Lead.objects.exists()


def test_every_bad_custom_field_is_reported_at_once(marketer, custom_fields, as_member):
    response = as_member(marketer).post(
        NEW, data(cf_industry="", cf_budget="lots", cf_since="soon")
    )

    form = response.context["form"]
    assert {"cf_industry", "cf_budget", "cf_since"} <= set(form.errors)


# Naughty input ------------------------------------------------------------------------------


def test_very_long_names_are_field_errors(marketer, as_member):
    response = as_member(marketer).post(NEW, data(first_name="J" * 101, company="C" * 201))

    assert response.status_code == 400
    assert errors(response, "first_name") == [
        "Ensure this value has at most 100 characters (it has 101)."
    ]
    assert errors(response, "company")
    assert not Lead.objects.exists()


def test_a_formula_is_stored_verbatim(marketer, as_member):
    formula = "=cmd|' /C calc'!A0"

    as_member(marketer).post(NEW, data(first_name=formula, source="+1 ad", job_title="@boss"))

    lead = Lead.objects.get()
    assert (lead.first_name, lead.source, lead.job_title) == (formula, "+1 ad", "@boss")


def test_right_to_left_override_and_emoji_are_kept_and_escaped(marketer, as_member):
    client = as_member(marketer)
    name = "\u202egnp.exe 🦄 <b>Zoë</b>"

    client.post(NEW, data(first_name=name))

    lead = Lead.objects.get()
    assert lead.first_name == name
    content = client.get(reverse("pipeline:lead-edit", args=[lead.pk])).content.decode()
    assert "<bdi>\u202egnp.exe 🦄 &lt;b&gt;Zoë&lt;/b&gt;</bdi>" in content


@pytest.mark.parametrize("name", ["first_name", "email", "tags", "company", "street"])
def test_a_nul_byte_is_a_clear_error(name, marketer, as_member):
    response = as_member(marketer).post(NEW, data(**{name: "Ja\x00ne"}))

    assert response.status_code == 400
    assert "Null characters are not allowed." in errors(response, name)
    assert not Lead.objects.exists()


def test_a_nul_byte_in_a_custom_text_field_is_a_clear_error(marketer, custom_fields, as_member):
    response = as_member(marketer).post(NEW, data(cf_industry="SaaS", cf_notes="a\x00b"))

    assert errors(response, "cf_notes") == ["Null characters are not allowed."]


def test_a_too_long_tag_is_an_error(marketer, as_member):
    response = as_member(marketer).post(NEW, data(tags="ok, " + "t" * 61))

    assert errors(response, "tags")[0].startswith("A tag has at most 60 characters")


def test_field_and_phone_errors_are_reported_together(marketer, custom_fields, as_member):
    response = as_member(marketer).post(NEW, data(phone="call me", cf_industry=""))

    form = response.context["form"]
    assert {"phone", "cf_industry"} <= set(form.errors)
