"""Delete lead (PRODUCT L6): to the trash; any lead, or a sales rep's own leads only (W2)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from contacts.models import Lead
from contacts.queries import leads_for
from leadcrm.models import AuditLog
from tests.contacts.factories import LeadFactory

HTMX = {"headers": {"HX-Request": "true"}}
LIST = reverse("pipeline:lead-list")


def delete_url(lead: Lead) -> str:
    return reverse("pipeline:lead-delete", args=[lead.pk])


def is_in_trash(lead: Lead) -> bool:
    lead.refresh_from_db()
    return lead.deleted_at is not None


@pytest.fixture
def lead(ws, marketer):
    return LeadFactory(workspace=ws, first_name="Jane", last_name="Doe", owner=marketer.user)


def test_marketer_sees_the_confirmation(marketer, lead, as_member):
    response = as_member(marketer).get(delete_url(lead))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Delete <bdi>Jane Doe</bdi>?" in content
    assert "Move to trash" in content
    assert not is_in_trash(lead)


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer"])
def test_owner_admin_and_marketer_delete_any_lead(persona, team, lead, as_member, request):
    response = as_member(request.getfixturevalue(persona)).post(delete_url(lead))

    assert response.status_code == 302
    assert response.url == LIST
    assert is_in_trash(lead)
    assert not leads_for(lead.workspace).filter(pk=lead.pk).exists()
    assert AuditLog.objects.filter(action="lead.delete", object_id=str(lead.pk)).exists()


def test_the_message_points_to_the_trash(marketer, lead, as_member):
    response = as_member(marketer).post(delete_url(lead))

    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Jane Doe moved to the trash. Restore it within 30 days from the")
    assert f'href="{reverse("pipeline:trash")}"' in message


def test_rep_deletes_their_own_lead(rep, ws, as_member):
    own = LeadFactory(workspace=ws, owner=rep.user)

    response = as_member(rep).post(delete_url(own))

    assert response.status_code == 302
    assert is_in_trash(own)


def test_rep_cannot_delete_someone_elses_lead(rep, lead, as_member):
    client = as_member(rep)

    assert client.get(delete_url(lead)).status_code == 403
    assert client.post(delete_url(lead)).status_code == 403
    assert not is_in_trash(lead)


def test_rep_cannot_delete_a_lead_without_owner(rep, ws, as_member):
    unowned = LeadFactory(workspace=ws, owner=None)

    assert as_member(rep).post(delete_url(unowned)).status_code == 403
    assert not is_in_trash(unowned)


def test_viewer_gets_403(viewer, lead, as_member):
    client = as_member(viewer)

    assert client.get(delete_url(lead)).status_code == 403
    assert client.post(delete_url(lead)).status_code == 403
    assert not is_in_trash(lead)


def test_outsider_gets_404(outsider, lead, as_member):
    client = as_member(outsider)

    assert client.get(delete_url(lead)).status_code == 404
    assert client.post(delete_url(lead)).status_code == 404
    assert not is_in_trash(lead)


def test_a_lead_already_in_the_trash_is_a_404(marketer, lead, as_member):
    lead.deleted_at = timezone.now()
    lead.save()

    assert as_member(marketer).post(delete_url(lead)).status_code == 404


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_it_rejects_other_methods(method, marketer, lead, as_member):
    assert getattr(as_member(marketer), method)(delete_url(lead)).status_code == 405
    assert not is_in_trash(lead)


def test_htmx_gets_the_confirmation_fragment(marketer, lead, as_member):
    response = as_member(marketer).get(delete_url(lead), **HTMX)

    content = response.content.decode()
    assert 'id="lead-delete"' in content
    assert "<html" not in content


def test_htmx_is_redirected_to_the_list(marketer, lead, as_member):
    response = as_member(marketer).post(delete_url(lead), **HTMX)

    assert response["HX-Redirect"] == LIST
    assert is_in_trash(lead)
