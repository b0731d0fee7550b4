"""activity_record / activities_record and the engagement score (PRODUCT A1–A3)."""

from datetime import timedelta
from itertools import count

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.activities import activities_record, activity_record
from contacts.consent import lead_unsubscribe
from contacts.models import Activity, ActivityType, Channel, Lead, ScoringRule, Tier
from contacts.quality import quality_of, weights_for
from contacts.scoring import leads_rescore, rules_score_type, scoring_rules_ensure_defaults
from tests.contacts.factories import LeadFactory, ScoringRuleFactory
from tests.factories import WorkspaceFactory

PRICING_URL = "https://acme.test/pricing"
BLOG_URL = "https://acme.test/blog/why-crm"


@pytest.fixture
def rules(ws):
    scoring_rules_ensure_defaults(workspace=ws)


@pytest.fixture
def lead(ws):
    return LeadFactory(workspace=ws)


def _ago(minutes: int):
    return timezone.now() - timedelta(minutes=minutes)


def _record(lead, type, minutes_ago=60, url=""):
    return activity_record(lead=lead, type=type, occurred_at=_ago(minutes_ago), url=url)


def _stored(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


# Timestamps ---------------------------------------------------------------------------------------


def test_activity_record_saves_the_activity(lead, rep):
    activity_record(lead=lead, type=ActivityType.NOTE, actor=rep.user, body="Called back")

    activity = Activity.objects.get(lead=lead)
    assert (activity.workspace_id, activity.type, activity.actor, activity.body) == (
        lead.workspace_id,
        ActivityType.NOTE,
        rep.user,
        "Called back",
    )


def test_activity_record_moves_last_activity_at(lead):
    when = _ago(5)

    activity_record(lead=lead, type=ActivityType.NOTE, occurred_at=when)

    assert _stored(lead).last_activity_at == when


def test_activity_record_of_an_older_activity_keeps_last_activity_at(lead):
    newer = _ago(5)
    activity_record(lead=lead, type=ActivityType.NOTE, occurred_at=newer)

    activity_record(lead=lead, type=ActivityType.CALL, occurred_at=_ago(50))

    assert _stored(lead).last_activity_at == newer


@pytest.mark.parametrize("type", [ActivityType.EMAIL_SENT, ActivityType.CALL, ActivityType.MEETING])
def test_outbound_activities_move_last_contacted_at(lead, type):
    when = _ago(5)

    activity_record(lead=lead, type=type, occurred_at=when)

    assert _stored(lead).last_contacted_at == when


@pytest.mark.parametrize(
    "type",
    [
        ActivityType.EMAIL_OPENED,
        ActivityType.EMAIL_REPLIED,
        ActivityType.NOTE,
        ActivityType.PAGE_VISITED,
        ActivityType.FORM_SUBMIT,
        ActivityType.STATUS_CHANGED,
    ],
)
def test_other_activities_leave_last_contacted_at_alone(lead, type):
    activity_record(lead=lead, type=type, occurred_at=_ago(5))

    assert _stored(lead).last_contacted_at is None


def test_activity_record_refuses_an_unknown_type(lead):
    with pytest.raises(ValidationError):
        activity_record(lead=lead, type="telepathy")

    assert not Activity.objects.exists()


def test_activity_record_refuses_an_activity_in_the_future(lead):
    with pytest.raises(ValidationError):
        activity_record(
            lead=lead, type=ActivityType.NOTE, occurred_at=timezone.now() + timedelta(hours=1)
        )

    assert not Activity.objects.exists()


# Score --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type", "url", "points"),
    [
        (ActivityType.EMAIL_OPENED, "", 1),
        (ActivityType.EMAIL_CLICKED, "", 5),
        (ActivityType.EMAIL_REPLIED, "", 10),
        (ActivityType.PAGE_VISITED, PRICING_URL, 20),
        (ActivityType.PAGE_VISITED, "https://acme.test/PRICING/enterprise", 20),
        (ActivityType.PAGE_VISITED, BLOG_URL, 0),
        (ActivityType.EMAIL_SENT, "", 0),
        (ActivityType.NOTE, "", 0),
    ],
)
def test_default_rules_give_each_activity_its_points(rules, lead, type, url, points):
    _record(lead, type, url=url)

    stored = _stored(lead)
    assert (stored.score, stored.score_points) == (points, points)


def test_a_bounce_takes_50_points_off(rules, lead):
    for minutes_ago in (50, 40, 30):
        _record(lead, ActivityType.PAGE_VISITED, minutes_ago=minutes_ago, url=PRICING_URL)

    _record(lead, ActivityType.EMAIL_BOUNCED, minutes_ago=10)

    assert _stored(lead).score == 10


def test_an_unsubscribe_resets_the_score(rules, lead):
    _record(lead, ActivityType.EMAIL_REPLIED, minutes_ago=30)
    _record(lead, ActivityType.EMAIL_CLICKED, minutes_ago=20)

    _record(lead, ActivityType.UNSUBSCRIBED, minutes_ago=10)

    stored = _stored(lead)
    assert (stored.score, stored.score_points) == (0, 0)


def test_points_after_the_latest_reset_count_again(rules, lead):
    _record(lead, ActivityType.EMAIL_REPLIED, minutes_ago=30)
    _record(lead, ActivityType.UNSUBSCRIBED, minutes_ago=20)

    _record(lead, ActivityType.EMAIL_CLICKED, minutes_ago=10)

    assert _stored(lead).score == 5


def test_the_score_is_clamped_at_100(rules, lead):
    for minutes_ago in range(60, 0, -10):  # 6 pricing visits: 120 points
        _record(lead, ActivityType.PAGE_VISITED, minutes_ago=minutes_ago, url=PRICING_URL)

    stored = _stored(lead)
    assert (stored.score, stored.score_points) == (100, 120)


def test_the_score_is_clamped_at_0(rules, lead):
    _record(lead, ActivityType.EMAIL_REPLIED, minutes_ago=20)

    _record(lead, ActivityType.EMAIL_BOUNCED, minutes_ago=10)

    stored = _stored(lead)
    assert (stored.score, stored.score_points) == (0, -40)


def test_points_added_after_a_clamp_count_from_the_unclamped_sum(rules, lead):
    _record(lead, ActivityType.EMAIL_BOUNCED, minutes_ago=20)  # -50

    _record(lead, ActivityType.PAGE_VISITED, minutes_ago=10, url=PRICING_URL)  # -30

    assert _stored(lead).score == 0


@pytest.mark.parametrize(
    ("replies", "clicks", "opens", "tier"),
    [
        (5, 0, 0, Tier.HOT),  # 50
        (4, 1, 4, Tier.WARM),  # 49
        (2, 0, 0, Tier.WARM),  # 20
        (1, 1, 4, Tier.COLD),  # 19
        (0, 0, 0, Tier.COLD),  # 0
    ],
)
def test_the_tier_follows_the_score(rules, lead, replies, clicks, opens, tier):
    types = (
        [ActivityType.EMAIL_REPLIED] * replies
        + [ActivityType.EMAIL_CLICKED] * clicks
        + [ActivityType.EMAIL_OPENED] * opens
    )
    for minutes_ago, type in enumerate(reversed(types), start=1):
        _record(lead, type, minutes_ago=minutes_ago)

    assert _stored(lead).tier == tier


def test_unsubscribing_through_lead_unsubscribe_resets_the_score(rules, lead):
    _record(lead, ActivityType.EMAIL_REPLIED, minutes_ago=30)
    _record(lead, ActivityType.PAGE_VISITED, minutes_ago=20, url=PRICING_URL)

    lead_unsubscribe(lead=lead, actor=None, channel=Channel.MANUAL)

    stored = _stored(lead)
    assert (stored.score, stored.score_points, stored.tier) == (0, 0, Tier.COLD)


def test_activities_after_an_unsubscribe_count_again(rules, lead):
    _record(lead, ActivityType.EMAIL_REPLIED, minutes_ago=30)
    lead_unsubscribe(lead=lead, actor=None, channel=Channel.MANUAL, occurred_at=_ago(20))

    _record(lead, ActivityType.EMAIL_CLICKED, minutes_ago=10)
    _record(lead, ActivityType.EMAIL_OPENED, minutes_ago=5)

    assert _stored(lead).score == 6


def test_a_new_workspace_gets_the_six_default_rules(roles):
    workspace = WorkspaceFactory(name="Initech", slug="initech")

    rules = ScoringRule.objects.filter(workspace=workspace).order_by("position")
    assert [(r.activity_type, r.url_contains, r.points, r.resets, r.is_active) for r in rules] == [
        (ActivityType.EMAIL_OPENED, "", 1, False, True),
        (ActivityType.EMAIL_CLICKED, "", 5, False, True),
        (ActivityType.EMAIL_REPLIED, "", 10, False, True),
        (ActivityType.PAGE_VISITED, "/pricing", 20, False, True),
        (ActivityType.EMAIL_BOUNCED, "", -50, False, True),
        (ActivityType.UNSUBSCRIBED, "", 0, True, True),
    ]


def test_saving_a_workspace_again_adds_no_rules(ws):
    ws.name = "Acme Corp"
    ws.save()

    assert ScoringRule.objects.filter(workspace=ws).count() == 6


def test_a_workspace_whose_rules_were_all_deleted_gets_none_back_on_save(ws):
    ScoringRule.objects.filter(workspace=ws).delete()

    ws.save()

    assert not ScoringRule.objects.filter(workspace=ws).exists()


@pytest.mark.parametrize(
    ("type", "scored"),
    [
        (ActivityType.EMAIL_OPENED, True),
        (ActivityType.PAGE_VISITED, True),  # only with /pricing, but a rule names the type
        (ActivityType.UNSUBSCRIBED, True),  # a reset, no points
        (ActivityType.NOTE, False),
        (ActivityType.STATUS_CHANGED, False),
    ],
)
def test_rules_score_type_says_whether_a_rule_names_the_type(ws, type, scored):
    assert rules_score_type(ws, type) is scored


def test_rules_score_type_ignores_inactive_rules(ws):
    ScoringRule.objects.filter(workspace=ws, activity_type=ActivityType.EMAIL_OPENED).update(
        is_active=False
    )

    assert rules_score_type(ws, ActivityType.EMAIL_OPENED) is False


def test_rules_score_type_ignores_another_workspaces_rules(ws, other_ws):
    ScoringRuleFactory(workspace=other_ws, activity_type=ActivityType.STATUS_CHANGED, points=3)

    assert rules_score_type(ws, ActivityType.STATUS_CHANGED) is False
    assert rules_score_type(other_ws.pk, ActivityType.STATUS_CHANGED) is True


@pytest.mark.parametrize("recompute", [False, True], ids=["incremental", "full-rescore"])
@pytest.mark.parametrize(
    ("url", "points"),
    [
        ("https://acme.test/price_list", 30),
        ("https://acme.test/PRICE_LIST?x=1", 30),
        ("https://acme.test/priceXlist", 0),  # "_" is no wildcard
        ("https://acme.test/price%list", 0),
    ],
)
def test_a_url_condition_matches_its_text_literally(ws, lead, url, points, recompute):
    ScoringRuleFactory(
        workspace=ws, activity_type=ActivityType.PAGE_VISITED, url_contains="/price_list", points=30
    )

    _record(lead, ActivityType.PAGE_VISITED, url=url)
    if recompute:
        Lead.objects.filter(pk=lead.pk).update(score=55, score_points=55)
        leads_rescore(workspace=ws, lead_ids=[lead.pk])

    assert _stored(lead).score == points


def test_a_url_condition_with_a_percent_sign_matches_it_literally(ws, lead):
    ScoringRuleFactory(
        workspace=ws, activity_type=ActivityType.PAGE_VISITED, url_contains="/50%off", points=30
    )
    _record(lead, ActivityType.PAGE_VISITED, minutes_ago=20, url="https://acme.test/50%OFF")
    _record(lead, ActivityType.PAGE_VISITED, minutes_ago=10, url="https://acme.test/50-pct-off")

    leads_rescore(workspace=ws, lead_ids=[lead.pk])

    assert _stored(lead).score == 30


def test_an_activity_older_than_the_latest_recomputes_the_score(rules, lead):
    _record(lead, ActivityType.EMAIL_REPLIED, minutes_ago=30)
    _record(lead, ActivityType.UNSUBSCRIBED, minutes_ago=10)

    # Before the reset: it must not count (adding it incrementally would give 5).
    _record(lead, ActivityType.EMAIL_CLICKED, minutes_ago=20)

    assert _stored(lead).score == 0


def test_an_activity_at_the_same_time_as_the_latest_reset_does_not_count(rules, ws, lead):
    when = _ago(10)
    activity_record(lead=lead, type=ActivityType.UNSUBSCRIBED, occurred_at=when)

    activity_record(lead=lead, type=ActivityType.EMAIL_REPLIED, occurred_at=when)

    assert _stored(lead).score_points == 0
    leads_rescore(workspace=ws, lead_ids=[lead.pk])
    assert _stored(lead).score_points == 0


def test_an_older_activity_gives_the_same_score_as_a_full_rescore(rules, ws, lead):
    _record(lead, ActivityType.EMAIL_REPLIED, minutes_ago=40)
    _record(lead, ActivityType.UNSUBSCRIBED, minutes_ago=30)
    _record(lead, ActivityType.EMAIL_CLICKED, minutes_ago=10)
    _record(lead, ActivityType.PAGE_VISITED, minutes_ago=20, url=PRICING_URL)
    incremental = _stored(lead)

    leads_rescore(workspace=ws, lead_ids=[lead.pk])

    rescored = _stored(lead)
    assert (incremental.score, incremental.score_points, incremental.tier) == (25, 25, Tier.WARM)
    assert (rescored.score, rescored.score_points, rescored.tier) == (25, 25, Tier.WARM)


def test_activity_record_updates_the_lead_object_it_was_given(rules, lead):
    _record(lead, ActivityType.EMAIL_REPLIED)

    assert (lead.score, lead.score_points, lead.tier) == (10, 10, Tier.COLD)


def test_a_workspaces_own_rule_with_a_url_condition_scores(ws, lead):
    ScoringRuleFactory(
        workspace=ws, activity_type=ActivityType.PAGE_VISITED, url_contains="/Demo", points=30
    )

    _record(lead, ActivityType.PAGE_VISITED, minutes_ago=20, url="https://acme.test/demo")
    _record(lead, ActivityType.PAGE_VISITED, minutes_ago=10, url=BLOG_URL)

    assert (_stored(lead).score, _stored(lead).tier) == (30, Tier.WARM)


def test_an_inactive_rule_gives_no_points(ws, lead):
    ScoringRule.objects.filter(workspace=ws).delete()  # the defaults score opens too
    ScoringRuleFactory(
        workspace=ws, activity_type=ActivityType.EMAIL_OPENED, points=40, is_active=False
    )

    _record(lead, ActivityType.EMAIL_OPENED)

    assert _stored(lead).score == 0


def test_another_workspaces_rules_give_no_points(ws, other_ws, lead):
    ScoringRule.objects.filter(workspace=ws).delete()
    scoring_rules_ensure_defaults(workspace=other_ws)

    _record(lead, ActivityType.EMAIL_REPLIED)

    assert _stored(lead).score == 0


def test_leads_rescore_without_ids_rescores_only_that_workspace(rules, ws, other_ws, lead):
    _record(lead, ActivityType.EMAIL_REPLIED)
    theirs = LeadFactory(workspace=other_ws, score=77, score_points=77, tier=Tier.HOT)
    Lead.objects.filter(pk=lead.pk).update(score=0, score_points=0, tier=Tier.COLD)

    leads_rescore(workspace=ws)

    assert _stored(lead).score == 10
    assert _stored(theirs).score == 77


# activities_record --------------------------------------------------------------------------------


def test_activities_record_writes_every_activity_with_set_based_timestamps(ws):
    first, second = LeadFactory.create_batch(2, workspace=ws)
    sent, note, call = _ago(30), _ago(20), _ago(40)

    written = activities_record(
        workspace=ws,
        activities=[
            Activity(lead=first, type=ActivityType.EMAIL_SENT, occurred_at=sent),
            Activity(lead=first, type=ActivityType.NOTE, occurred_at=note),
            Activity(lead=second, type=ActivityType.CALL, occurred_at=call),
        ],
    )

    assert written == 3
    assert Activity.objects.filter(workspace=ws).count() == 3
    assert (_stored(first).last_activity_at, _stored(first).last_contacted_at) == (note, sent)
    assert (_stored(second).last_activity_at, _stored(second).last_contacted_at) == (call, call)


def test_activities_record_scores_every_lead(rules, ws):
    first, second = LeadFactory.create_batch(2, workspace=ws)

    activities_record(
        workspace=ws,
        activities=[
            Activity(lead=first, type=ActivityType.EMAIL_REPLIED, occurred_at=_ago(30)),
            Activity(lead=first, type=ActivityType.UNSUBSCRIBED, occurred_at=_ago(20)),
            Activity(lead=first, type=ActivityType.EMAIL_CLICKED, occurred_at=_ago(10)),
            Activity(lead=second, type=ActivityType.PAGE_VISITED, url=PRICING_URL),
            Activity(lead=second, type=ActivityType.PAGE_VISITED, url=PRICING_URL),
            Activity(lead=second, type=ActivityType.PAGE_VISITED, url=PRICING_URL),
        ],
    )

    assert (_stored(first).score, _stored(first).tier) == (5, Tier.COLD)
    assert (_stored(second).score, _stored(second).tier) == (60, Tier.HOT)


def test_activities_record_refuses_a_lead_of_another_workspace_and_writes_nothing(ws, other_ws):
    mine = LeadFactory(workspace=ws)
    theirs = LeadFactory(workspace=other_ws)

    with pytest.raises(ValidationError):
        activities_record(
            workspace=ws,
            activities=[
                Activity(lead=mine, type=ActivityType.NOTE),
                Activity(lead=theirs, type=ActivityType.NOTE),
            ],
        )

    assert not Activity.objects.exists()
    assert _stored(mine).last_activity_at is None
    assert _stored(theirs).last_activity_at is None


def test_activities_record_refuses_an_unknown_type_and_writes_nothing(ws):
    lead = LeadFactory(workspace=ws)

    with pytest.raises(ValidationError):
        activities_record(
            workspace=ws,
            activities=[
                Activity(lead=lead, type=ActivityType.NOTE),
                Activity(lead=lead, type="telepathy"),
            ],
        )

    assert not Activity.objects.exists()


# The score agrees with a simple reference ---------------------------------------------------------

POINTS = {
    ActivityType.EMAIL_OPENED: 1,
    ActivityType.EMAIL_CLICKED: 5,
    ActivityType.EMAIL_REPLIED: 10,
    ActivityType.EMAIL_BOUNCED: -50,
}
URLS = ["", PRICING_URL, "https://acme.test/Pricing?plan=team", BLOG_URL]


def reference_points(activities: list[tuple[str, str, int]]) -> int:
    """Sum of points of the activities after the latest reset (by time), unclamped."""
    resets = [minute for type, _, minute in activities if type == ActivityType.UNSUBSCRIBED]
    latest_reset = max(resets, default=None)
    total = 0
    for type, url, minute in activities:
        if latest_reset is not None and minute <= latest_reset:
            continue
        if type == ActivityType.PAGE_VISITED:
            total += 20 if "/pricing" in url.lower() else 0
        else:
            total += POINTS.get(type, 0)
    return total


activity_strategy = st.tuples(
    st.sampled_from(
        [
            ActivityType.EMAIL_OPENED,
            ActivityType.EMAIL_CLICKED,
            ActivityType.EMAIL_REPLIED,
            ActivityType.EMAIL_BOUNCED,
            ActivityType.PAGE_VISITED,
            ActivityType.UNSUBSCRIBED,
            ActivityType.NOTE,
        ]
    ),
    st.sampled_from(URLS),
    st.integers(min_value=0, max_value=4),  # minutes after the start: ties are common
)
_emails = count()


def reference_tier(score: int) -> str:
    return Tier.HOT if score >= 50 else Tier.WARM if score >= 20 else Tier.COLD


def _batches(items: list, cuts: set[int]) -> list[list]:
    bounds = [0, *sorted(cuts), len(items)]
    return [items[lo:hi] for lo, hi in zip(bounds, bounds[1:], strict=False)]


def _scores(lead) -> tuple[int, int, str, int]:
    stored = _stored(lead)
    return (
        stored.score_points,
        stored.score,
        stored.tier,
        stored.quality_score,
    )


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(activities=st.lists(activity_strategy, min_size=1, max_size=12), data=st.data())
def test_incremental_scores_equal_the_reference_and_a_full_rescore_whatever_the_order(
    ws, activities, data
):
    """The same events, in an order random with respect to time (ties common, resets among
    them), recorded one by one with activity_record and in random batches with
    activities_record, give the reference's score; so does a rescore from scratch."""
    events = [(t, u if t == ActivityType.PAGE_VISITED else "", m) for t, u, m in activities]
    one_by_one, batched = (
        LeadFactory(workspace=ws, email=f"hypothesis{next(_emails)}@prospect.test", source=source)
        for source in ("Webinar", "Referral")
    )
    start = timezone.now() - timedelta(days=1)
    cut = st.integers(min_value=1, max_value=len(events) - 1) if len(events) > 1 else st.nothing()
    cuts = data.draw(st.sets(cut))

    for type, url, minute in events:
        activity_record(
            lead=one_by_one, type=type, url=url, occurred_at=start + timedelta(minutes=minute)
        )
    for batch in _batches(events, cuts):
        activities_record(
            workspace=ws,
            activities=[
                Activity(lead=batched, type=t, url=u, occurred_at=start + timedelta(minutes=m))
                for t, u, m in batch
            ],
        )

    points = reference_points(events)
    score = max(0, min(100, points))
    weights = weights_for(ws)
    for lead in (one_by_one, batched):
        expected = (points, score, reference_tier(score), quality_of(_stored(lead), weights))
        assert _scores(lead) == expected
    Lead.objects.filter(pk__in=[one_by_one.pk, batched.pk]).update(
        score_points=999, score=100, tier=Tier.HOT, quality_score=0
    )
    leads_rescore(workspace=ws, lead_ids=[one_by_one.pk, batched.pk])
    for lead in (one_by_one, batched):
        expected = (points, score, reference_tier(score), quality_of(_stored(lead), weights))
        assert _scores(lead) == expected


def test_activities_record_refuses_an_activity_in_the_future_and_writes_nothing(ws):
    lead = LeadFactory(workspace=ws)
    later = timezone.now() + timedelta(hours=1)

    with pytest.raises(ValidationError, match="future"):
        activities_record(
            workspace=ws,
            activities=[Activity(lead=lead, type=ActivityType.NOTE, occurred_at=later)],
        )

    assert not Activity.objects.filter(lead=lead).exists()


def test_activities_record_shortens_a_long_subject_as_activity_record_does(ws):
    lead = LeadFactory(workspace=ws)

    activities_record(
        workspace=ws, activities=[Activity(lead=lead, type=ActivityType.NOTE, subject="x" * 400)]
    )

    assert len(Activity.objects.get(lead=lead).subject) == 300


def test_a_full_rescore_matches_a_non_ascii_url_condition_as_the_incremental_path_does(ws):
    ScoringRule.objects.filter(workspace=ws).delete()
    ScoringRuleFactory(
        workspace=ws, activity_type=ActivityType.PAGE_VISITED, url_contains="/ÉTÉ", points=7
    )
    lead = LeadFactory(workspace=ws)
    activity_record(lead=lead, type=ActivityType.PAGE_VISITED, url="https://acme.test/été")
    assert _stored(lead).score == 7

    Lead.objects.filter(pk=lead.pk).update(score=0, score_points=0)
    leads_rescore(workspace=ws, lead_ids=[lead.pk])

    assert _stored(lead).score == 7
