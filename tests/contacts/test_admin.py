"""The Django admin of contacts' records, for operators of the installation (W6)."""

import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import CustomField, Lead
from leadcrm.models import User
from tests.contacts.factories import (
    ActivityFactory,
    ConsentEventFactory,
    CustomFieldFactory,
    LeadFactory,
    SuppressedEmailFactory,
)

MODELS = ["company", "tag", "customfield", "lead", "activity", "scoringrule", "suppressedemail"]


@pytest.fixture
def operator(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(email="ops@leadcrm.test", password="x"))
    return client


def admin_url(model: str, view: str = "changelist", *args) -> str:
    return reverse(f"admin:contacts_{model}_{view}", args=args)


@pytest.fixture
def records(ws):
    lead = LeadFactory(workspace=ws, attributes={"industry": "SaaS"})
    ActivityFactory(lead=lead)
    ConsentEventFactory(lead=lead)
    SuppressedEmailFactory(workspace=ws)
    CustomFieldFactory(workspace=ws, key="industry", type="choice", choices=["SaaS"])
    return lead


@pytest.mark.parametrize("model", [*MODELS, "consentevent"])
def test_operator_sees_every_contacts_list_in_the_admin(model, operator, records):
    assert operator.get(admin_url(model)).status_code == 200


def test_member_who_is_not_staff_cannot_open_the_admin(owner, as_member):
    response = as_member(owner).get(admin_url("lead"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("model", ["activity", "suppressedemail", "consentevent"])
def test_records_written_by_services_cannot_be_added_in_the_admin(model, operator, records):
    assert operator.get(admin_url(model, "add")).status_code == 403


def test_consent_events_cannot_be_changed_or_deleted_in_the_admin(operator, records):
    event = records.consent_events.get()

    response = operator.post(admin_url("consentevent", "delete", event.pk), {"post": "yes"})

    assert response.status_code == 403
    assert records.consent_events.count() == 1


def test_custom_field_key_is_read_only_once_created(operator, ws, records):
    field = CustomField.objects.get(key="industry")

    content = operator.get(admin_url("customfield", "change", field.pk)).content.decode()

    assert 'name="key"' not in content
    assert 'name="label"' in content


def test_adding_a_custom_field_in_the_admin_checks_the_key(operator, ws):
    response = operator.post(
        admin_url("customfield", "add"),
        {
            "workspace": ws.pk,
            "key": "Bad Key",
            "label": "Bad",
            "type": "text",
            "choices": "[]",
            "position": 0,
            "created_at_0": "2025-01-01",
            "created_at_1": "00:00:00",
        },
    )

    assert response.status_code == 200
    assert "lowercase letters" in response.content.decode()
    assert not CustomField.objects.exists()


def test_deleting_a_custom_field_in_the_admin_purges_its_values(
    operator, records, django_capture_on_commit_callbacks
):
    field = CustomField.objects.get(key="industry")

    with django_capture_on_commit_callbacks(execute=True):
        operator.post(admin_url("customfield", "delete", field.pk), {"post": "yes"})

    assert not CustomField.objects.exists()
    records.refresh_from_db()
    assert records.attributes == {}


def test_lead_attributes_edited_in_the_admin_pass_the_custom_field_rules(operator, records):
    page = operator.get(admin_url("lead", "change", records.pk))
    form = page.context["adminform"].form
    data = {
        name: form[name].value() if form[name].value() is not None else ""
        for name in form.fields
        if name not in ("tags",)
    }
    data |= {
        "attributes": '{"industry": "Energy"}',
        "created_at_0": "2025-01-01",
        "created_at_1": "00:00:00",
        "updated_at_0": "2025-01-01",
        "updated_at_1": "00:00:00",
    }

    response = operator.post(admin_url("lead", "change", records.pk), data)

    assert response.status_code == 200
    assert "not one of the choices" in response.content.decode()
    assert Lead.objects.get().attributes == {"industry": "SaaS"}


def test_lead_list_runs_a_constant_number_of_queries(operator, ws, django_assert_max_num_queries):
    for _ in range(30):
        LeadFactory(workspace=ws)

    with django_assert_max_num_queries(10):
        operator.get(admin_url("lead"))


# Exports through django-import-export (formats by tablib) ------------------------------------


def test_operator_exports_leads_from_the_admin_with_safe_cells(operator, ws):
    from contacts.admin import LeadResource

    LeadFactory(workspace=ws, email="ada@one.lead", first_name="=HYPERLINK(1)", last_name="L")
    assert operator.get(reverse("admin:contacts_lead_export")).status_code == 200

    dataset = LeadResource().export(queryset=Lead.objects.all())

    row = dict(zip(dataset.headers, dataset[0], strict=True))
    assert row["email"] == "ada@one.lead"
    assert row["first_name"] == "'=HYPERLINK(1)"  # what our own import strips again


def test_the_admin_offers_no_import_of_leads(operator):
    from django.urls import NoReverseMatch

    with pytest.raises(NoReverseMatch):
        reverse("admin:contacts_lead_import")


def test_operator_sees_and_exports_the_import_history(operator, ws, marketer):
    from contacts.models import ImportJob

    job = ImportJob.objects.create(workspace=ws, created_by=marketer.user, file_name="leads.csv")
    page = operator.get(admin_url("importjob"))
    assert page.status_code == 200 and b"leads.csv" in page.content
    assert operator.get(reverse("admin:contacts_importjob_export")).status_code == 200
    assert operator.get(admin_url("importjob", "delete", job.pk)).status_code == 403
