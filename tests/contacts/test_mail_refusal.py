"""Why a lead may not be mailed (PRODUCT A5/C4): mail_refusal() for one lead and
mail_refusals() for many, which must tell the same first reason."""

from collections import Counter
from itertools import count

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.consent import (
    REFUSAL_BOUNCED,
    REFUSAL_DO_NOT_CONTACT,
    REFUSAL_OPTED_OUT,
    REFUSAL_SUPPRESSED,
    REFUSAL_TRASHED,
    REFUSAL_UNSUBSCRIBED,
    mail_refusal,
    mail_refusals,
)
from contacts.models import ConsentStatus, EmailStatus, Lead, LeadStatus
from tests.contacts.factories import LeadFactory, SuppressedEmailFactory

# Each reason as the lead's fields (and whether its address is suppressed), in the order told.
REASONS = [
    (REFUSAL_TRASHED, {"deleted_at": "now"}),
    (REFUSAL_UNSUBSCRIBED, {"status": LeadStatus.UNSUBSCRIBED}),
    (REFUSAL_UNSUBSCRIBED, {"email_status": EmailStatus.UNSUBSCRIBED}),
    (REFUSAL_BOUNCED, {"email_status": EmailStatus.BOUNCED}),
    (REFUSAL_DO_NOT_CONTACT, {"do_not_contact": True}),
    (REFUSAL_OPTED_OUT, {"consent_status": ConsentStatus.OPTED_OUT}),
    (REFUSAL_SUPPRESSED, {"suppressed": True}),
]
_emails = count()


def _lead(ws, *, suppressed: bool = False, deleted_at=None, **fields) -> Lead:
    lead = LeadFactory(
        workspace=ws,
        email=f"refusal{next(_emails)}@prospect.test",
        deleted_at=timezone.now() if deleted_at else None,
        **fields,
    )
    if suppressed:
        SuppressedEmailFactory(workspace=ws, email=lead.email)
    return lead


def test_a_lead_that_may_be_mailed_has_no_refusal(ws):
    assert mail_refusal(_lead(ws)) == ""


@pytest.mark.parametrize(
    ("reason", "fields"), REASONS, ids=[next(iter(fields)) for _, fields in REASONS]
)
def test_each_reason_refuses_on_its_own(ws, reason, fields):
    assert mail_refusal(_lead(ws, **fields)) == reason


@pytest.mark.parametrize("first", range(len(REASONS) - 1))
def test_the_first_reason_in_order_is_told(ws, first):
    """A lead refused for this reason and every later one is told this one."""
    fields = {}
    for _, reason_fields in REASONS[first:]:
        fields = {**reason_fields, **fields}  # one email status: the earlier reason's

    assert mail_refusal(_lead(ws, **fields)) == REASONS[first][0]


def test_a_converted_lead_that_unsubscribed_is_refused(ws):
    lead = _lead(ws, status=LeadStatus.CONVERTED, email_status=EmailStatus.UNSUBSCRIBED)

    assert mail_refusal(lead) == REFUSAL_UNSUBSCRIBED


def test_a_suppressed_address_is_refused_in_any_spelling(ws):
    lead = _lead(ws)
    SuppressedEmailFactory(workspace=ws, email=f"  {lead.email.upper()} ")

    assert mail_refusal(lead) == REFUSAL_SUPPRESSED


def test_an_address_suppressed_in_another_workspace_may_be_mailed(ws, other_ws):
    lead = _lead(ws)
    SuppressedEmailFactory(workspace=other_ws, email=lead.email)

    assert mail_refusal(lead) == ""


@pytest.mark.parametrize(
    "fields",
    [
        {"email_status": EmailStatus.INACTIVE},
        {"consent_status": ConsentStatus.PENDING},
        {"consent_status": ConsentStatus.UNKNOWN},
        {"status": LeadStatus.CONVERTED},
    ],
)
def test_other_states_may_be_mailed(ws, fields):
    assert mail_refusal(_lead(ws, **fields)) == ""


# mail_refusals ------------------------------------------------------------------------------


def test_mail_refusals_counts_each_refused_lead_once_under_its_first_reason(ws):
    mailable = [_lead(ws), _lead(ws, email_status=EmailStatus.INACTIVE)]
    _lead(ws, deleted_at="now", status=LeadStatus.UNSUBSCRIBED, suppressed=True)
    _lead(ws, status=LeadStatus.UNSUBSCRIBED)
    _lead(ws, email_status=EmailStatus.UNSUBSCRIBED, do_not_contact=True)
    _lead(ws, email_status=EmailStatus.BOUNCED, consent_status=ConsentStatus.OPTED_OUT)
    _lead(ws, do_not_contact=True, suppressed=True)
    _lead(ws, consent_status=ConsentStatus.OPTED_OUT)
    _lead(ws, suppressed=True)
    _lead(ws, suppressed=True)

    allowed, counts = mail_refusals(Lead.objects.filter(workspace=ws), workspace=ws)

    assert allowed == [lead.pk for lead in mailable]
    assert counts == {
        REFUSAL_TRASHED: 1,
        REFUSAL_UNSUBSCRIBED: 2,
        REFUSAL_BOUNCED: 1,
        REFUSAL_DO_NOT_CONTACT: 1,
        REFUSAL_OPTED_OUT: 1,
        REFUSAL_SUPPRESSED: 2,
    }


def test_mail_refusals_of_mailable_leads_names_no_reason(ws):
    leads = [_lead(ws) for _ in range(3)]

    allowed, counts = mail_refusals(Lead.objects.filter(workspace=ws), workspace=ws)

    assert (allowed, counts) == ([lead.pk for lead in leads], {})


def test_mail_refusals_looks_only_at_the_leads_given(ws):
    chosen = _lead(ws)
    _lead(ws, do_not_contact=True)

    assert mail_refusals(Lead.objects.filter(pk=chosen.pk), workspace=ws) == ([chosen.pk], {})


def test_mail_refusals_reads_the_suppression_list_of_the_workspace_given(ws, other_ws):
    lead = _lead(ws)
    SuppressedEmailFactory(workspace=other_ws, email=lead.email)

    assert mail_refusals(Lead.objects.filter(pk=lead.pk), workspace=ws) == ([lead.pk], {})


flags = st.fixed_dictionaries(
    {
        "deleted_at": st.sampled_from([None, "now"]),
        "status": st.sampled_from([LeadStatus.NEW, LeadStatus.CONVERTED, LeadStatus.UNSUBSCRIBED]),
        "email_status": st.sampled_from(EmailStatus.values),
        "do_not_contact": st.booleans(),
        "consent_status": st.sampled_from(ConsentStatus.values),
        "suppressed": st.booleans(),
    }
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(flags, min_size=1, max_size=8))
def test_mail_refusals_agrees_with_mail_refusal_lead_by_lead(ws, leads):
    Lead.objects.filter(workspace=ws).delete()  # each example on its own leads
    for fields in leads:
        _lead(ws, **fields)
    stored = list(Lead.objects.filter(workspace=ws).order_by("pk"))

    allowed, counts = mail_refusals(Lead.objects.filter(workspace=ws), workspace=ws)

    told = [mail_refusal(lead) for lead in stored]
    assert allowed == [lead.pk for lead, reason in zip(stored, told, strict=True) if not reason]
    assert counts == dict(Counter(reason for reason in told if reason))
