"""The one-click unsubscribe link every message carries (PRODUCT A5/C3, RFC 8058):
`/unsubscribe/<token>/`. A GET only asks; a POST, from a mail client without cookies or a
CSRF token, or from the page's button, unsubscribes, once however often it comes."""

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compliance.tokens import SALT, unsubscribe_token, unsubscribe_token_read
from contacts.activities import activity_record
from contacts.consent import lead_unsubscribe
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    ConsentEvent,
    ConsentStatus,
    EmailStatus,
    Lead,
    LeadStatus,
    SuppressionReason,
)
from tests.contacts.factories import LeadFactory, SuppressedEmailFactory

ONE_CLICK = "List-Unsubscribe=One-Click"  # the body RFC 8058 has mail clients send
CONFIRM = "Unsubscribe from Acme?"
DONE = "You are unsubscribed"
INVALID = "This unsubscribe link is not valid"
GONE = "This address is no longer on any of our lists."


@pytest.fixture
def lead(ws):
    lead = LeadFactory(workspace=ws, email="jane.doe@prospect.test", status=LeadStatus.ENGAGED)
    activity_record(
        lead=lead, type=ActivityType.EMAIL_REPLIED, occurred_at=timezone.now() - timedelta(hours=1)
    )
    return lead


@pytest.fixture
def mail_client():
    """What a mail client or a scanner is: no cookies, no session, CSRF checks on."""
    return Client(enforce_csrf_checks=True)


def _token(lead) -> str:
    return unsubscribe_token(workspace_id=lead.workspace_id, lead_id=lead.pk)


def _url(lead) -> str:
    return reverse("unsubscribe", args=[_token(lead)])


def _one_click(client, url: str):
    return client.post(url, ONE_CLICK, content_type="application/x-www-form-urlencoded")


def _stored(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


def _unchanged(lead) -> None:
    stored = _stored(lead)
    assert (stored.status, stored.email_status, stored.consent_status) == (
        LeadStatus.ENGAGED,
        EmailStatus.ACTIVE,
        ConsentStatus.UNKNOWN,
    )
    assert not ConsentEvent.objects.filter(lead=lead).exists()
    assert not Activity.objects.filter(lead=lead, type=ActivityType.UNSUBSCRIBED).exists()
    assert stored.score == 10


# The token ---------------------------------------------------------------------------------


def test_a_token_reads_back_as_its_workspace_and_lead():
    token = unsubscribe_token(workspace_id=3, lead_id=12345)

    assert unsubscribe_token_read(token) == (3, 12345)


def test_a_token_names_no_email_address(lead):
    payload = signing.b64_decode(_token(lead).split(":")[0].encode()).decode()

    assert "jane" not in payload
    assert payload == f"[{lead.workspace_id},{lead.pk}]"


def _tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


# Signed values that are not our tokens, and tokens spoiled on the way.
BAD_TOKENS = {
    "tampered": lambda ws, lead: _tampered(_token(lead)),
    "truncated": lambda ws, lead: _token(lead)[:-5],
    "no-signature": lambda ws, lead: _token(lead).split(":")[0],
    "without-the-salt": lambda ws, lead: signing.dumps([ws.pk, lead.pk]),
    "another-salt": lambda ws, lead: signing.dumps([ws.pk, lead.pk], salt="leadcrm.other"),
    "one-id": lambda ws, lead: signing.dumps([lead.pk], salt=SALT),
    "three-ids": lambda ws, lead: signing.dumps([ws.pk, lead.pk, 1], salt=SALT),
    "text-ids": lambda ws, lead: signing.dumps([str(ws.pk), str(lead.pk)], salt=SALT),
    "float-id": lambda ws, lead: signing.dumps([ws.pk, float(lead.pk)], salt=SALT),
    "bool-id": lambda ws, lead: signing.dumps([True, lead.pk], salt=SALT),
    "dict": lambda ws, lead: signing.dumps({"ws": ws.pk, "lead": lead.pk}, salt=SALT),
    "int": lambda ws, lead: signing.dumps(lead.pk, salt=SALT),
    "null": lambda ws, lead: signing.dumps(None, salt=SALT),
    "garbage": lambda ws, lead: "not-a-token",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_token_not_signed_by_us_as_ours_is_refused_and_changes_nothing(
    ws, lead, mail_client, kind
):
    token = BAD_TOKENS[kind](ws, lead)

    assert unsubscribe_token_read(token) is None
    url = reverse("unsubscribe", args=[token])
    for response in (mail_client.get(url), _one_click(mail_client, url), mail_client.post(url)):
        assert response.status_code == 400
        assert INVALID in response.content.decode()
    _unchanged(lead)


# GET asks --------------------------------------------------------------------------------------


def test_get_shows_the_confirm_page_with_the_masked_email(lead, mail_client):
    response = mail_client.get(_url(lead))

    content = response.content.decode()
    assert response.status_code == 200
    assert CONFIRM in content
    assert "j•••@prospect.test" in content
    assert "jane.doe" not in content
    assert '<form method="post">' in content


def test_get_does_not_unsubscribe(lead, mail_client):
    for _ in range(3):  # scanners open links more than once
        mail_client.get(_url(lead))

    _unchanged(lead)


def test_get_sets_no_cookie_and_is_not_cached(lead, mail_client):
    response = mail_client.get(_url(lead))

    assert response.cookies == {}
    assert "no-store" in response["Cache-Control"]


def test_get_of_an_unsubscribed_lead_says_so(lead, mail_client):
    _one_click(mail_client, _url(lead))

    response = mail_client.get(_url(lead))

    content = response.content.decode()
    assert DONE in content
    assert CONFIRM not in content


def test_the_page_needs_no_login(lead, client):
    response = client.get(_url(lead))

    assert response.status_code == 200
    assert CONFIRM in response.content.decode()


def test_a_member_of_the_workspace_sees_the_same_page(lead, rep, as_member):
    response = as_member(rep).get(_url(lead))

    assert response.status_code == 200
    assert CONFIRM in response.content.decode()


def test_other_methods_are_refused(lead, mail_client):
    assert mail_client.put(_url(lead)).status_code == 405
    assert mail_client.delete(_url(lead)).status_code == 405
    _unchanged(lead)


# POST unsubscribes ---------------------------------------------------------------------------


def test_a_one_click_post_without_cookies_or_csrf_unsubscribes(lead, mail_client):
    response = _one_click(mail_client, _url(lead))

    assert response.status_code == 200
    assert DONE in response.content.decode()
    stored = _stored(lead)
    assert (stored.status, stored.email_status, stored.consent_status) == (
        LeadStatus.UNSUBSCRIBED,
        EmailStatus.UNSUBSCRIBED,
        ConsentStatus.OPTED_OUT,
    )


def test_a_one_click_post_appends_one_consent_event_from_the_link(lead, mail_client):
    _one_click(mail_client, _url(lead))

    event = ConsentEvent.objects.get(lead=lead)
    assert (event.channel, event.status_before, event.status, event.actor) == (
        Channel.LINK,
        ConsentStatus.UNKNOWN,
        ConsentStatus.OPTED_OUT,
        None,
    )
    assert event.source == "One-click unsubscribe (mail client)"
    assert event.ip_address == "127.0.0.1"


def test_the_pages_button_unsubscribes_with_its_own_source(lead, mail_client):
    response = mail_client.post(_url(lead), HTTP_USER_AGENT="Mozilla/5.0 (Thunderbird)")

    assert response.status_code == 200
    event = ConsentEvent.objects.get(lead=lead)
    assert (event.channel, event.source, event.user_agent) == (
        Channel.LINK,
        "Unsubscribe page",
        "Mozilla/5.0 (Thunderbird)",
    )
    assert _stored(lead).status == LeadStatus.UNSUBSCRIBED


def test_a_one_click_post_records_the_unsubscribe_on_the_timeline(lead, mail_client):
    _one_click(mail_client, _url(lead))

    unsubscribed = Activity.objects.get(lead=lead, type=ActivityType.UNSUBSCRIBED)
    assert (unsubscribed.source, unsubscribed.actor) == (Channel.LINK, None)
    changed = Activity.objects.get(lead=lead, type=ActivityType.STATUS_CHANGED)
    assert changed.data == {"from": LeadStatus.ENGAGED, "to": LeadStatus.UNSUBSCRIBED}


def test_a_one_click_post_resets_the_score(lead, mail_client):
    assert _stored(lead).score == 10

    _one_click(mail_client, _url(lead))

    stored = _stored(lead)
    assert (stored.score, stored.score_points) == (0, 0)


def test_a_one_click_post_sets_no_cookie_and_does_not_redirect(lead, mail_client):
    response = _one_click(mail_client, _url(lead))

    assert response.status_code == 200
    assert "Location" not in response
    assert response.cookies == {}


@pytest.mark.parametrize("times", [2, 3])
def test_a_replayed_post_answers_the_same_and_records_once(lead, mail_client, times):
    url = _url(lead)

    responses = [_one_click(mail_client, url) for _ in range(times)]

    assert [r.status_code for r in responses] == [200] * times
    assert all(DONE in r.content.decode() for r in responses)
    assert ConsentEvent.objects.filter(lead=lead).count() == 1
    assert Activity.objects.filter(lead=lead, type=ActivityType.UNSUBSCRIBED).count() == 1


def test_a_converted_lead_stays_converted_but_gets_no_more_mail(ws, mail_client):
    customer = LeadFactory(workspace=ws, status=LeadStatus.CONVERTED)

    _one_click(mail_client, _url(customer))

    stored = _stored(customer)
    assert (stored.status, stored.email_status, stored.consent_status) == (
        LeadStatus.CONVERTED,
        EmailStatus.UNSUBSCRIBED,
        ConsentStatus.OPTED_OUT,
    )
    assert ConsentEvent.objects.filter(lead=customer).count() == 1


def test_a_lead_unsubscribed_by_hand_before_gets_no_second_event(lead, mail_client):
    lead_unsubscribe(lead=lead, actor=None, channel=Channel.MANUAL)

    response = _one_click(mail_client, _url(lead))

    assert DONE in response.content.decode()
    assert list(ConsentEvent.objects.filter(lead=lead).values_list("channel", flat=True)) == [
        Channel.MANUAL
    ]


def test_a_lead_in_the_trash_can_still_unsubscribe(lead, mail_client):
    Lead.objects.filter(pk=lead.pk).update(deleted_at=timezone.now())

    response = _one_click(mail_client, _url(lead))

    assert response.status_code == 200
    assert _stored(lead).email_status == EmailStatus.UNSUBSCRIBED


# Whose lead --------------------------------------------------------------------------------


def test_a_token_naming_another_workspace_cannot_reach_a_lead_of_this_one(
    ws, other_ws, lead, mail_client
):
    # Signed for Globex, with the id of Acme's lead: the workspace must match too.
    token = unsubscribe_token(workspace_id=other_ws.pk, lead_id=lead.pk)

    response = _one_click(mail_client, reverse("unsubscribe", args=[token]))

    assert response.status_code == 200
    assert GONE in response.content.decode()
    _unchanged(lead)


def test_another_workspaces_link_unsubscribes_only_its_own_lead(ws, other_ws, lead, mail_client):
    theirs = LeadFactory(workspace=other_ws, email=lead.email)

    _one_click(mail_client, _url(theirs))

    assert _stored(theirs).email_status == EmailStatus.UNSUBSCRIBED
    assert ConsentEvent.objects.get(lead=theirs).workspace_id == other_ws.pk
    _unchanged(lead)


def test_the_page_names_the_leads_workspace(other_ws, mail_client):
    theirs = LeadFactory(workspace=other_ws)

    content = mail_client.get(_url(theirs)).content.decode()

    assert "Unsubscribe from Globex?" in content


# Erased leads --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_link_of_an_erased_lead_says_it_is_no_longer_on_our_lists(
    ws, lead, mail_client, method
):
    url = _url(lead)
    SuppressedEmailFactory(workspace=ws, email=lead.email, reason=SuppressionReason.ERASED)
    lead.delete()

    response = getattr(mail_client, method)(url)

    content = response.content.decode()
    assert response.status_code == 200
    assert GONE in content
    assert "prospect.test" not in content
    assert not Lead.objects.filter(workspace=ws).exists()
    assert not ConsentEvent.objects.exists()
