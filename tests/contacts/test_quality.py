"""The quality score (PRODUCT A4): the definition item by item, quality_of() in Python and
leads_requality() in SQL agreeing, and every write keeping quality_score up to date."""

from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.activities import activities_record, activity_record
from contacts.consent import lead_unsubscribe
from contacts.models import (
    Activity,
    ActivityType,
    Channel,
    ContactRole,
    EmailStatus,
    Lead,
    LeadStatus,
    ScoringSettings,
)
from contacts.quality import leads_requality, quality_lines, quality_of, weights_for
from contacts.scoring import leads_rescore
from contacts.services import lead_create, lead_update, leads_bulk_update
from tests.contacts.factories import CompanyFactory, LeadFactory, ScoringRuleFactory
from tests.contacts.import_helpers import csv_bytes, import_file
from tests.contacts.import_helpers import lead as imported

# A lead earning nothing: every item blank, an undeliverable email, no source (weight 0 by
# default) and no engagement.
BARE = {
    "first_name": "",
    "last_name": "",
    "phone": "",
    "mobile": "",
    "job_title": "",
    "country": "",
    "company": None,
    "domain": "",
    "department": "",
    "contact_role": "",
    "source": "",
    "email_status": EmailStatus.BOUNCED,
    "score": 0,
}


def _lead(ws, **fields) -> Lead:
    return LeadFactory(workspace=ws, **{**BARE, **fields})


def _stored(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


def _requalified(lead) -> int:
    """The quality score the set-based path stores for the lead."""
    leads_requality(workspace=lead.workspace_id, lead_ids=[lead.pk])
    return _stored(lead).quality_score


def _both(lead) -> tuple[int, int]:
    """(Python's score, SQL's score) of a lead."""
    return quality_of(_stored(lead), weights_for(lead.workspace_id)), _requalified(lead)


def _weights(ws, sources: dict[str, int], other: int = 50, none: int = 0) -> None:
    ScoringSettings.objects.update_or_create(
        workspace=ws,
        defaults={
            "source_weights": [{"source": s, "weight": w} for s, w in sources.items()],
            "other_source_weight": other,
            "no_source_weight": none,
        },
    )


def _assert_up_to_date(ws) -> None:
    """Every lead of the workspace holds the quality score its fields give."""
    weights = weights_for(ws)
    leads = Lead.objects.filter(workspace=ws).order_by("pk")
    assert [(lead.email, lead.quality_score) for lead in leads] == [
        (lead.email, quality_of(lead, weights)) for lead in leads
    ]


# The definition, item by item --------------------------------------------------------------


def test_a_bare_lead_scores_0(ws):
    assert _both(_lead(ws)) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "points"),
    [
        ({"email_status": EmailStatus.ACTIVE}, 10),
        ({"email_status": EmailStatus.INACTIVE}, 10),
        ({"email_status": EmailStatus.UNSUBSCRIBED}, 0),
        ({"first_name": "Ann", "last_name": "Lee"}, 10),
        ({"first_name": "Ann"}, 0),
        ({"last_name": "Lee"}, 0),
        ({"phone": "+4930123456"}, 10),
        ({"mobile": "+4917012345"}, 10),
        ({"phone": "+4930123456", "mobile": "+4917012345"}, 10),
        ({"job_title": "CTO"}, 5),
        ({"country": "DE"}, 5),
        ({"domain": "acme.test"}, 5),
        ({"department": "Sales"}, 5),
        ({"contact_role": ContactRole.CHAMPION}, 5),
        ({"department": "Sales", "contact_role": ContactRole.CHAMPION}, 5),
    ],
)
def test_each_item_earns_its_points(ws, fields, points):
    assert _both(_lead(ws, **fields)) == (points, points)


def test_a_company_earns_10_points(ws):
    lead = _lead(ws, company=CompanyFactory(workspace=ws))

    assert _both(lead) == (10, 10)


@pytest.mark.parametrize(
    ("source", "points"),
    [
        ("Referral", 20),  # 100%
        ("referral", 20),
        ("REFERRAL", 20),
        ("Partner", 18),  # 90%
        ("Webinar", 16),  # 80%
        ("website", 14),  # 70%
        ("Trade Show", 12),  # 60%
        ("LinkedIn", 10),  # 50%
        ("Import", 6),  # 30%
        ("Cold call", 10),  # not listed: the other sources' 50%
        ("", 0),  # no source: 0%
    ],
)
def test_the_default_source_weights_give_a_share_of_20_points(ws, source, points):
    assert _both(_lead(ws, source=source)) == (points, points)


@pytest.mark.parametrize(
    ("source", "points"),
    [
        ("Trade show", 15),  # 75 * 20 // 100
        ("TRADE SHOW", 15),
        ("Événement", 7),  # 37 * 20 // 100 = 7.4, rounded down
        ("ÉVÉNEMENT", 7),
        ("événement", 7),
        ("İstanbul Expo", 18),  # 90%
        ("Straße", 12),  # 60%
        ("STRASSE", 5),  # not the same word to str.lower(): other
        ("Podcast", 5),  # other: 25%
        ("", 9),  # none: 45%
    ],
)
def test_a_workspaces_own_source_weights_match_without_regard_to_case(ws, source, points):
    _weights(
        ws,
        {"Trade show": 75, "événement": 37, "İstanbul Expo": 90, "STRAßE": 60},
        other=25,
        none=45,
    )

    assert _both(_lead(ws, source=source)) == (points, points)


@pytest.mark.parametrize(
    ("score", "points"), [(0, 0), (4, 0), (5, 1), (49, 9), (50, 10), (99, 19), (100, 20)]
)
def test_engagement_earns_a_fifth_of_the_score_rounded_down(ws, score, points):
    assert _both(_lead(ws, score=score)) == (points, points)


def test_a_complete_lead_scores_100(ws):
    lead = _lead(
        ws,
        email_status=EmailStatus.ACTIVE,
        first_name="Ann",
        last_name="Lee",
        phone="+4930123456",
        job_title="CTO",
        country="DE",
        company=CompanyFactory(workspace=ws),
        domain="acme.test",
        department="IT",
        source="Referral",
        score=100,
    )

    assert _both(lead) == (100, 100)


def test_the_breakdown_lists_every_item_and_adds_up_to_the_score(ws):
    lead = _lead(ws, first_name="Ann", last_name="Lee", job_title="CTO", source="Webinar", score=50)

    lines = quality_lines(lead, weights_for(ws))

    assert [(line.label, line.points, line.max_points) for line in lines] == [
        ("Deliverable email", 0, 10),
        ("First and last name", 10, 10),
        ("Phone or mobile", 0, 10),
        ("Job title", 5, 5),
        ("Country", 0, 5),
        ("Company", 0, 10),
        ("Domain", 0, 5),
        ("Department or role", 0, 5),
        ("Source “Webinar” (80% reliable)", 16, 20),
        ("Engagement score 50", 10, 20),
    ]
    assert sum(line.max_points for line in lines) == 100
    assert sum(line.points for line in lines) == quality_of(lead, weights_for(ws)) == 41


# Python and SQL agree ------------------------------------------------------------------------

SOURCES = [
    "",
    "Referral",
    "rEfErRaL",
    "Trade show",
    "TRADE SHOW",
    "Événement",
    "ÉVÉNEMENT",
    "événement",
    "Straße",
    "İstanbul Expo",
    "ISTANBUL EXPO",
    "Ünïcode",
    "Cold call",
]
blank_or = st.sampled_from
lead_strategy = st.fixed_dictionaries(
    {
        "first_name": blank_or(["", "Ann"]),
        "last_name": blank_or(["", "Lee"]),
        "phone": blank_or(["", "+4930123456"]),
        "mobile": blank_or(["", "+4917012345"]),
        "job_title": blank_or(["", "CTO"]),
        "country": blank_or(["", "DE"]),
        "domain": blank_or(["", "acme.test"]),
        "department": blank_or(["", "Sales"]),
        "contact_role": blank_or(["", ContactRole.DECISION_MAKER]),
        "email_status": st.sampled_from(EmailStatus.values),
        "source": st.sampled_from(SOURCES),
        "score": st.integers(min_value=0, max_value=100),
        "quality_score": st.integers(min_value=0, max_value=100),  # whatever was stored before
        "with_company": st.booleans(),
    }
)
weights_strategy = st.fixed_dictionaries(
    {
        "sources": st.dictionaries(
            st.sampled_from(["Referral", "trade show", "ÉVÉNEMENT", "straße", "İstanbul Expo"]),
            st.integers(min_value=0, max_value=100),
            min_size=2,
        ),
        "other": st.integers(min_value=0, max_value=100),
        "none": st.integers(min_value=0, max_value=100),
    }
)
_emails = count()


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(lead_strategy, min_size=1, max_size=6), weights=weights_strategy)
def test_leads_requality_stores_exactly_what_quality_of_computes(ws, leads, weights):
    Lead.objects.filter(workspace=ws).delete()  # each example on its own leads
    _weights(ws, weights["sources"], other=weights["other"], none=weights["none"])
    company = CompanyFactory(workspace=ws)
    for fields in leads:
        with_company = fields.pop("with_company")
        LeadFactory(
            workspace=ws,
            email=f"quality{next(_emails)}@prospect.test",
            company=company if with_company else None,
            **fields,
        )

    leads_requality(workspace=ws)

    _assert_up_to_date(ws)
    # The rescore writes the quality score in its own statement: it agrees too.
    Lead.objects.filter(workspace=ws).update(quality_score=0)
    leads_rescore(workspace=ws)
    _assert_up_to_date(ws)


# Every write keeps it up to date -----------------------------------------------------------


@pytest.fixture
def actor(owner):
    return owner.user


def test_lead_create_stores_the_quality_score(ws, actor):
    lead = lead_create(
        workspace=ws,
        actor=actor,
        email="ann@acme.test",
        first_name="Ann",
        last_name="Lee",
        job_title="CTO",
        source="webinar",
    )

    # email 10, name 10, job title 5, domain (from the email) 5, source 16
    assert _stored(lead).quality_score == 46
    _assert_up_to_date(ws)


def test_lead_update_moves_the_quality_score(ws, actor):
    lead = lead_create(workspace=ws, actor=actor, email="ann@acme.test", first_name="Ann")

    lead_update(lead=lead, actor=actor, last_name="Lee", phone="+49 30 123456", source="Referral")

    assert _stored(lead).quality_score == 10 + 10 + 10 + 5 + 20
    _assert_up_to_date(ws)


def test_lead_update_of_the_email_status_moves_the_quality_score(ws, actor):
    lead = lead_create(workspace=ws, actor=actor, email="ann@acme.test")

    lead_update(lead=lead, actor=actor, email_status=EmailStatus.BOUNCED)

    assert _stored(lead).quality_score == 5  # the domain only
    _assert_up_to_date(ws)


def test_activity_record_moves_the_quality_score_with_the_engagement(ws, actor):
    lead = lead_create(workspace=ws, actor=actor, email="ann@acme.test")
    before = _stored(lead).quality_score

    for minutes_ago in (30, 20, 10):
        activity_record(
            lead=lead,
            type=ActivityType.PAGE_VISITED,
            url="https://acme.test/pricing",
            occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
        )

    assert _stored(lead).score == 60
    assert _stored(lead).quality_score == before + 12
    _assert_up_to_date(ws)


def test_an_older_activity_keeps_the_quality_score_up_to_date(ws, actor):
    lead = lead_create(workspace=ws, actor=actor, email="ann@acme.test")
    now = timezone.now()
    activity_record(lead=lead, type=ActivityType.EMAIL_REPLIED, occurred_at=now)

    # Recorded late, before the reply: takes the recompute path.
    activity_record(
        lead=lead,
        type=ActivityType.PAGE_VISITED,
        url="https://acme.test/pricing",
        occurred_at=now - timedelta(hours=1),
    )

    assert _stored(lead).score == 30
    _assert_up_to_date(ws)


def test_activities_record_keeps_every_quality_score_up_to_date(ws, actor):
    first = lead_create(workspace=ws, actor=actor, email="ann@acme.test")
    second = lead_create(workspace=ws, actor=actor, email="bob@acme.test", source="Referral")

    activities_record(
        workspace=ws,
        activities=[
            Activity(lead=first, type=ActivityType.EMAIL_REPLIED),
            Activity(lead=first, type=ActivityType.EMAIL_REPLIED),
            Activity(lead=second, type=ActivityType.PAGE_VISITED, url="https://acme.test/pricing"),
            Activity(lead=second, type=ActivityType.EMAIL_BOUNCED),
        ],
    )

    assert (_stored(first).score, _stored(second).score) == (20, 0)
    _assert_up_to_date(ws)


def test_a_bulk_status_change_keeps_quality_scores_up_to_date(ws, actor):
    ScoringRuleFactory(workspace=ws, activity_type=ActivityType.STATUS_CHANGED, points=40)
    leads = [
        lead_create(workspace=ws, actor=actor, email=f"lead{i}@acme.test", source="Webinar")
        for i in range(3)
    ]

    leads_bulk_update(
        workspace=ws,
        actor=actor,
        leads=Lead.objects.filter(pk__in=[lead.pk for lead in leads[:2]]),
        status=LeadStatus.CONTACTED,
    )

    assert [_stored(lead).score for lead in leads] == [40, 40, 0]
    _assert_up_to_date(ws)


def test_a_bulk_unsubscribe_keeps_quality_scores_up_to_date(ws, actor):
    lead = lead_create(workspace=ws, actor=actor, email="ann@acme.test", first_name="Ann")
    activity_record(lead=lead, type=ActivityType.EMAIL_REPLIED)

    leads_bulk_update(
        workspace=ws,
        actor=actor,
        leads=Lead.objects.filter(pk=lead.pk),
        status=LeadStatus.UNSUBSCRIBED,
    )

    stored = _stored(lead)
    assert (stored.email_status, stored.score) == (EmailStatus.UNSUBSCRIBED, 0)
    assert stored.quality_score == 5  # the domain only: no deliverable email, no engagement
    _assert_up_to_date(ws)


def test_lead_unsubscribe_keeps_the_quality_score_up_to_date(ws, actor):
    lead = lead_create(workspace=ws, actor=actor, email="ann@acme.test", source="Referral")
    activity_record(lead=lead, type=ActivityType.EMAIL_REPLIED)

    lead_unsubscribe(lead=lead, actor=actor, channel=Channel.MANUAL)

    assert _stored(lead).quality_score == 5 + 20  # domain and source: no email, no engagement
    _assert_up_to_date(ws)


def test_an_import_keeps_quality_scores_up_to_date(ws, actor):
    _weights(ws, {"Trade show": 75})
    lead_create(workspace=ws, actor=actor, email="old@acme.example", first_name="Old")
    header = ["Email", "First name", "Last name", "Phone", "Job title", "Country", "Lead Source"]

    job = import_file(
        ws,
        actor,
        csv_bytes(
            header,
            ["old@acme.example", "Old", "Timer", "+49 30 123456", "", "DE", "TRADE SHOW"],
            ["new@acme.example", "New", "", "", "CTO", "", ""],
        ),
        mode="upsert",
    )

    assert (job.created, job.updated) == (1, 1)
    old = imported(ws, "old@acme.example")
    assert old.source == "TRADE SHOW"
    assert old.quality_score == 10 + 10 + 10 + 5 + 5 + 15
    _assert_up_to_date(ws)


# leads_requality writes only what moves, where it is asked to -------------------------------


def test_leads_requality_writes_only_the_rows_that_change(ws):
    leads = [_lead(ws, job_title="CTO") for _ in range(5)]
    Lead.objects.filter(pk__in=[leads[0].pk, leads[3].pk]).update(quality_score=0)
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[1:3]]).update(quality_score=5)
    Lead.objects.filter(pk=leads[4].pk).update(quality_score=77)

    assert leads_requality(workspace=ws) == 3
    assert leads_requality(workspace=ws) == 0
    assert [_stored(lead).quality_score for lead in leads] == [5] * 5


def test_leads_requality_leaves_other_workspaces_alone(ws, other_ws):
    mine = _lead(ws, job_title="CTO")
    theirs = LeadFactory(workspace=other_ws, quality_score=77)

    leads_requality(workspace=ws)
    leads_requality(workspace=ws, lead_ids=[mine.pk, theirs.pk])

    assert _stored(mine).quality_score == 5
    assert _stored(theirs).quality_score == 77


def test_leads_requality_stays_inside_the_id_range(ws):
    leads = [LeadFactory(workspace=ws, quality_score=99) for _ in range(5)]
    first, last = leads[1].pk, leads[3].pk

    changed = leads_requality(workspace=ws, id_range=(first, last))

    assert changed == 3
    weights = weights_for(ws)
    assert [_stored(lead).quality_score for lead in leads] == [
        99,
        *(quality_of(lead, weights) for lead in leads[1:4]),
        99,
    ]


def test_opting_back_in_gives_back_the_deliverable_email_points(ws, actor):
    from contacts.consent import consent_record, lead_unsubscribe

    lead = LeadFactory(workspace=ws, first_name="Ada", last_name="Lovelace")
    lead_unsubscribe(lead=lead, actor=actor, channel="manual")
    unsubscribed = Lead.objects.get(pk=lead.pk).quality_score

    consent_record(
        lead=Lead.objects.get(pk=lead.pk),
        actor=actor,
        status="opted_in",
        channel="manual",
        type="explicit",
        source="Signed up again at the booth",
        proof="Badge scan 4411",
    )

    stored = Lead.objects.get(pk=lead.pk)
    assert stored.quality_score == quality_of(stored, weights_for(ws)) == unsubscribed + 10
