"""Settings → Sending (PRODUCT A5): the sender identity and postal address of every message."""

import pytest
from django.urls import reverse

from leadcrm.models import AuditLog
from leadcrm.navigation import SETTINGS_PAGES, visible
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP, VIEWER
from pipeline.models import SendingSettings
from pipeline.sequences import NO_SENDER, lead_enrol, sequence_save, step_save
from tests.contacts.factories import LeadFactory

URL = reverse("sending-settings")
VALID = {
    "from_name": "Acme Sales",
    "from_email": "sales@acme.test",
    "reply_to": "",
    "postal_address": "1 Main Street\nSpringfield 12345",
}


def test_the_page_explains_the_postal_address_footer(marketer, as_member):
    content = as_member(marketer).get(URL).content.decode()

    assert "Postal address" in content
    assert "footer of every message" in content
    assert "unsubscribe link" in content
    assert "Not set yet" in content


def test_marketer_saves_the_sending_settings(ws, marketer, as_member):
    response = as_member(marketer).post(URL, VALID)

    assert response.status_code == 302
    assert response["Location"] == URL
    sending = SendingSettings.objects.get(workspace=ws)
    assert (sending.from_name, sending.from_email, sending.postal_address) == (
        "Acme Sales",
        "sales@acme.test",
        "1 Main Street\nSpringfield 12345",
    )
    assert sending.updated_by == marketer.user


def test_saving_is_audited_with_the_fields_changed(ws, marketer, admin, as_member):
    as_member(marketer).post(URL, VALID)
    as_member(admin).post(URL, {**VALID, "reply_to": "replies@acme.test"})

    created, updated = AuditLog.objects.filter(
        workspace=ws, action__startswith="sending."
    ).order_by("pk")
    assert created.action == "sending.create"
    assert created.changes["from_email"] == [None, "sales@acme.test"]
    assert (updated.action, updated.actor) == ("sending.update", admin.user)
    assert updated.changes == {"reply_to": ["", "replies@acme.test"]}


def test_saving_without_a_change_writes_no_audit_entry(ws, marketer, as_member):
    client = as_member(marketer)
    client.post(URL, VALID)
    client.post(URL, VALID)

    assert AuditLog.objects.filter(workspace=ws, action__startswith="sending.").count() == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("postal_address", "   ", "This field is required."),
        ("from_email", "not-an-address", "Enter a valid email address."),
        ("from_name", "", "This field is required."),
    ],
)
def test_bad_input_is_refused_under_the_field_and_saves_nothing(
    ws, marketer, as_member, field, value, error
):
    response = as_member(marketer).post(URL, {**VALID, field: value})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SendingSettings.objects.filter(workspace=ws).exists()


def test_the_form_shows_the_saved_settings(ws, marketer, as_member):
    as_member(marketer).post(URL, VALID)

    content = as_member(marketer).get(URL).content.decode()

    assert 'value="sales@acme.test"' in content
    assert "Last changed by" in content
    assert "Not set yet" not in content


def test_the_settings_of_another_workspace_are_untouched(ws, other_ws, outsider, as_member):
    SendingSettings.objects.create(workspace=ws, **VALID)

    as_member(outsider).post(URL, {**VALID, "from_name": "Globex"})

    assert SendingSettings.objects.get(workspace=ws).from_name == "Acme Sales"
    assert SendingSettings.objects.get(workspace=other_ws).from_name == "Globex"


@pytest.mark.parametrize(
    ("role", "status"),
    [(OWNER, 200), (ADMIN, 200), (MARKETER, 200), (SALES_REP, 403), (VIEWER, 403)],
)
def test_only_owners_admins_and_marketers_manage_sending(team, as_member, role, status):
    client = as_member(team[role])

    assert client.get(URL).status_code == status
    assert client.post(URL, VALID).status_code == (302 if status == 200 else 403)


def test_the_settings_menu_shows_sending_to_who_may_use_it(marketer, rep, as_member):
    content = as_member(marketer).get(URL).content.decode()

    assert f'href="{URL}"' in content
    assert "Sending" in [item.label for item in visible(SETTINGS_PAGES, marketer)]
    assert "Sending" not in [item.label for item in visible(SETTINGS_PAGES, rep)]


def test_it_rejects_other_methods(marketer, as_member):
    assert as_member(marketer).put(URL).status_code == 405


def test_a_logged_out_visitor_is_sent_to_log_in(client, ws):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_once_saved_the_first_step_can_be_sent(ws, marketer, rep, as_member, mailoutbox):
    sequence = sequence_save(workspace=ws, actor=marketer.user, name="Hello")
    step_save(sequence=sequence, actor=marketer.user, subject="Hi", body="Hello.")
    lead = LeadFactory(workspace=ws, email="jane@initech.test")
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=rep.user)
    lead_page = reverse("pipeline:lead-detail", args=[lead.pk])
    assert NO_SENDER in as_member(rep).get(lead_page).content.decode()

    as_member(marketer).post(URL, VALID)
    as_member(rep).post(
        reverse("pipeline:enrollment-send", args=[enrollment.pk]), {"expected_steps_sent": 0}
    )

    assert len(mailoutbox) == 1
    assert mailoutbox[0].from_email == "Acme Sales <sales@acme.test>"
    assert "1 Main Street" in mailoutbox[0].body
