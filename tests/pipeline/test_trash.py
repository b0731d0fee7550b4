"""The Trash (PRODUCT L6): deleted leads for 30 days, restore, and the daily purge."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from contacts.models import Lead
from contacts.queries import leads_for
from leadcrm.models import AuditLog
from pipeline.tasks import trash_purge
from tests.contacts.factories import LeadFactory

HTMX = {"headers": {"HX-Request": "true"}}
TRASH = reverse("pipeline:trash")


def restore_url(lead: Lead) -> str:
    return reverse("pipeline:lead-restore", args=[lead.pk])


def trashed(workspace, days_ago: float = 1, **fields) -> Lead:
    deleted_at = timezone.now() - timedelta(days=days_ago)
    return LeadFactory(workspace=workspace, deleted_at=deleted_at, **fields)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# The page ---------------------------------------------------------------------------------


def test_the_trash_lists_deleted_leads_newest_first(marketer, ws, other_ws, as_member):
    older = trashed(ws, days_ago=10, email="older@example.com")
    newer = trashed(ws, days_ago=2, email="newer@example.com")
    LeadFactory(workspace=ws, email="alive@example.com")
    trashed(other_ws, email="theirs@example.com")

    response = as_member(marketer).get(TRASH)

    content = response.content.decode()
    assert response.status_code == 200
    assert [row.lead for row in response.context["rows"]] == [newer, older]
    assert "alive@example.com" not in content
    assert "theirs@example.com" not in content


def test_the_trash_shows_the_days_left(marketer, ws, as_member):
    trashed(ws, days_ago=10.5)
    trashed(ws, days_ago=30.2)

    rows = as_member(marketer).get(TRASH).context["rows"]

    assert [row.days_left for row in rows] == [20, 0]


def test_an_empty_trash_says_so(marketer, as_member):
    assert "The trash is empty." in as_member(marketer).get(TRASH).content.decode()


def test_the_trash_is_paginated_by_50(marketer, ws, as_member):
    for n in range(51):
        trashed(ws, days_ago=1 + n / 100)
    client = as_member(marketer)

    first = client.get(TRASH)
    second = client.get(TRASH, {"page": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 1
    assert "1–50 of 51" in first.content.decode()


def test_the_trash_page_runs_a_bounded_number_of_queries(
    marketer, ws, as_member, django_assert_max_num_queries
):
    for _ in range(20):
        trashed(ws)
    client = as_member(marketer)

    with django_assert_max_num_queries(8):
        client.get(TRASH)


def test_viewer_sees_the_trash_without_restore_buttons(viewer, ws, as_member):
    lead = trashed(ws)

    content = as_member(viewer).get(TRASH).content.decode()

    assert lead.email in content
    assert restore_url(lead) not in content


def test_rep_may_restore_only_their_own_leads(rep, marketer, ws, as_member):
    own = trashed(ws, owner=rep.user)
    theirs = trashed(ws, owner=marketer.user)

    content = as_member(rep).get(TRASH).content.decode()

    assert restore_url(own) in content
    assert restore_url(theirs) not in content


def test_outsider_sees_only_their_own_trash(outsider, ws, as_member):
    lead = trashed(ws)

    content = as_member(outsider).get(TRASH).content.decode()

    assert lead.email not in content


def test_the_trash_rejects_post(marketer, as_member):
    assert as_member(marketer).post(TRASH).status_code == 405


def test_htmx_gets_the_table_fragment(marketer, ws, as_member):
    trashed(ws)

    response = as_member(marketer).get(TRASH, **HTMX)

    content = response.content.decode()
    assert 'id="trash-table"' in content
    assert "<html" not in content


# Restoring ----------------------------------------------------------------------------------


def test_a_restored_lead_appears_again(marketer, ws, as_member):
    lead = trashed(ws, first_name="Jane", last_name="Doe")

    response = as_member(marketer).post(restore_url(lead))

    assert response.status_code == 302
    assert response.url == TRASH
    assert messages_of(response)[0].startswith("Jane Doe restored from the trash.")
    assert leads_for(ws).filter(pk=lead.pk).exists()
    assert AuditLog.objects.filter(action="lead.restore").exists()


def test_restoring_from_the_add_form_goes_to_the_lead(marketer, ws, as_member):
    lead = trashed(ws)

    response = as_member(marketer).post(restore_url(lead), {"then": "lead"})

    assert response.url == reverse("pipeline:lead-detail", args=[lead.pk])


def test_htmx_is_redirected_after_restoring(marketer, ws, as_member):
    lead = trashed(ws)

    response = as_member(marketer).post(restore_url(lead), {"then": "lead"}, **HTMX)

    assert response["HX-Redirect"] == reverse("pipeline:lead-detail", args=[lead.pk])


def test_an_email_now_used_by_another_lead_blocks_the_restore(marketer, ws, as_member):
    lead = trashed(ws, email="jane@example.com")
    LeadFactory(workspace=ws, email="jane@example.com")

    response = as_member(marketer).post(restore_url(lead))

    assert response.url == TRASH
    assert messages_of(response) == [
        "Another lead now uses jane@example.com; change or delete it before restoring this one."
    ]
    lead.refresh_from_db()
    assert lead.deleted_at is not None


def test_rep_restores_their_own_lead(rep, ws, as_member):
    lead = trashed(ws, owner=rep.user)

    as_member(rep).post(restore_url(lead))

    lead.refresh_from_db()
    assert lead.deleted_at is None


def test_rep_cannot_restore_someone_elses_lead(rep, marketer, ws, as_member):
    lead = trashed(ws, owner=marketer.user)

    assert as_member(rep).post(restore_url(lead)).status_code == 403
    lead.refresh_from_db()
    assert lead.deleted_at is not None


def test_viewer_cannot_restore(viewer, ws, as_member):
    lead = trashed(ws)

    assert as_member(viewer).post(restore_url(lead)).status_code == 403
    lead.refresh_from_db()
    assert lead.deleted_at is not None


def test_outsider_gets_404_on_restore(outsider, ws, as_member):
    lead = trashed(ws)

    assert as_member(outsider).post(restore_url(lead)).status_code == 404


def test_a_live_lead_cannot_be_restored(marketer, ws, as_member):
    lead = LeadFactory(workspace=ws)

    assert as_member(marketer).post(restore_url(lead)).status_code == 404


def test_restore_rejects_get(marketer, ws, as_member):
    assert as_member(marketer).get(restore_url(trashed(ws))).status_code == 405


# Purging ------------------------------------------------------------------------------------


@pytest.fixture
def trash_of_all_ages(ws, other_ws):
    return {
        "expired": trashed(ws, days_ago=31),
        "expired_elsewhere": trashed(other_ws, days_ago=45),
        "recent": trashed(ws, days_ago=29),
        "alive": LeadFactory(workspace=ws),
    }


def remaining(leads: dict) -> set[str]:
    ids = set(Lead.objects.values_list("pk", flat=True))
    return {name for name, lead in leads.items() if lead.pk in ids}


def test_the_purge_removes_only_trash_older_than_30_days(trash_of_all_ages):
    assert trash_purge.call() == 2

    assert remaining(trash_of_all_ages) == {"recent", "alive"}


def test_the_purge_command_runs_it_now(trash_of_all_ages, capsys):
    call_command("purge_trash", "--now")

    assert "Purged 2 leads from the trash." in capsys.readouterr().out
    assert remaining(trash_of_all_ages) == {"recent", "alive"}


def test_the_purge_command_queues_the_task(trash_of_all_ages, capsys):
    call_command("purge_trash")  # the test settings run queued tasks at once

    assert "Trash purge queued" in capsys.readouterr().out
    assert remaining(trash_of_all_ages) == {"recent", "alive"}


def test_owners_and_admins_can_erase_a_trashed_lead_from_the_trash(
    owner, admin, marketer, ws, as_member
):
    lead = trashed(ws, email="trashed@example.com")
    erase = reverse("compliance:lead-erase", args=[lead.pk])

    for member in (owner, admin):
        assert erase in as_member(member).get(TRASH).content.decode()
    assert erase not in as_member(marketer).get(TRASH).content.decode()


def test_an_unsubscribed_or_bounced_lead_purged_from_the_trash_stays_suppressed(ws):
    from contacts.models import EmailStatus, SuppressedEmail, SuppressionReason
    from contacts.queries import suppression_check
    from contacts.services import leads_purge_trash

    trashed(ws, days_ago=40, email="left@example.com", email_status=EmailStatus.UNSUBSCRIBED)
    trashed(ws, days_ago=40, email="bounced@example.com", email_status=EmailStatus.BOUNCED)
    trashed(ws, days_ago=40, email="fine@example.com")

    assert leads_purge_trash() == 3

    assert suppression_check(workspace=ws, email="left@example.com")
    assert suppression_check(workspace=ws, email="bounced@example.com")
    assert not suppression_check(workspace=ws, email="fine@example.com")
    assert set(SuppressedEmail.objects.values_list("reason", flat=True)) == {
        SuppressionReason.UNSUBSCRIBED,
        SuppressionReason.BOUNCED,
    }
