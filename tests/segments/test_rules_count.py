"""rules_count() counts an OR with subqueries as disjoint parts: the same number, never twice."""

from datetime import UTC, datetime, timedelta

import pytest

from contacts.queries import leads_for
from segments.models import Segment
from segments.rules import (
    RulesInvalid,
    rules_clean,
    rules_condition,
    rules_count,
    segment_count,
)
from tests.contacts.factories import (
    ActivityFactory,
    LeadFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def world(ws):
    vip, churned = TagFactory(workspace=ws, name="vip"), TagFactory(workspace=ws, name="churned")
    leads = []
    for i in range(24):
        lead = LeadFactory(
            workspace=ws,
            status=["new", "contacted", "qualified"][i % 3],
            score=(i * 7) % 100,
            last_activity_at=NOW - timedelta(days=i * 5) if i % 4 else None,
            deleted_at=NOW if i == 23 else None,
        )
        if i % 2:
            lead.tags.add(vip)
        if i % 5 == 0:
            lead.tags.add(churned)
        if i % 3 == 1:
            ActivityFactory(
                workspace=ws, lead=lead, type="email_opened", occurred_at=NOW - timedelta(days=i)
            )
        leads.append(lead)
    static = SegmentFactory(workspace=ws, kind="static", name="Picked")
    for lead in leads[::4]:
        SegmentMembershipFactory(segment=static, lead=lead)
    return {"ws": ws, "vip": vip, "churned": churned, "static": static}


def _trees(w):
    vip, churned, static = w["vip"].pk, w["churned"].pk, w["static"].pk
    has = lambda tag: {"field": "tag", "op": "has", "value": tag}  # noqa: E731
    return [
        # The bench's 3-level rule, arms overlapping.
        [
            {"field": "status", "op": "in", "value": ["new", "contacted"]},
            {
                "match": "any",
                "children": [
                    {"field": "score", "op": "gt", "value": 40},
                    {
                        "match": "all",
                        "children": [
                            has(vip),
                            {"field": "last_activity", "op": "less_than_days_ago", "value": 60},
                        ],
                    },
                ],
            },
        ],
        [{"match": "any", "children": [has(vip), has(churned)]}],
        [
            {
                "match": "any",
                "children": [has(vip), {"field": "segment", "op": "in", "value": static}],
            },
            {"field": "score", "op": "lt", "value": 80},
        ],
        [
            {
                "match": "any",
                "children": [
                    {"field": "last_opened", "op": "less_than_days_ago", "value": 30},
                    {"match": "none", "children": [has(vip)]},
                    {"field": "score", "op": "gte", "value": 90},
                    {"field": "tag", "op": "lacks", "value": churned},
                ],
            }
        ],
        [{"match": "any", "children": [has(vip), {"match": "any", "children": []}]}],
    ]


def test_counts_equal_the_plain_query(world):
    ws = world["ws"]
    for children in _trees(world):
        tree = rules_clean({"match": "all", "children": children}, workspace=ws)
        plain = leads_for(ws).filter(rules_condition(tree, workspace=ws, now=NOW)).count()
        assert rules_count(tree, workspace=ws, now=NOW) == plain, children
        assert plain > 0


def test_a_dynamic_segment_counts_its_rules_and_a_static_one_its_live_members(world):
    ws = world["ws"]
    tree = rules_clean({"match": "all", "children": _trees(world)[1]}, workspace=ws)
    dynamic = SegmentFactory(workspace=ws, kind="dynamic", rules=tree)
    expected = leads_for(ws).filter(rules_condition(tree, workspace=ws, now=NOW)).count()
    assert segment_count(dynamic, now=NOW) == expected
    assert segment_count(world["static"], now=NOW) == 6  # 24 leads, every 4th, none trashed


def _chain(ws, length: int, width: int):
    """Segments s1…sN, each an "any" of `width` conditions naming the one before."""
    previous = SegmentFactory(
        workspace=ws,
        kind="dynamic",
        rules={"match": "all", "children": [{"field": "score", "op": "gt", "value": 1}]},
    )
    for _ in range(length):
        conditions = [{"field": "segment", "op": "in", "value": previous.pk}] * width
        previous = SegmentFactory(
            workspace=ws, kind="dynamic", rules={"match": "any", "children": conditions}
        )
    return previous


def test_rules_that_would_expand_past_the_budget_are_refused_not_compiled(ws):
    top = _chain(ws, 4, 5)  # 5**4 = 625 conditions once expanded: allowed
    assert rules_count(top.rules, workspace=ws, seen=frozenset({top.pk})) == 0
    tree = {"match": "any", "children": [{"field": "segment", "op": "in", "value": top.pk}] * 2}
    with pytest.raises(RulesInvalid, match="would hold 1,250 conditions"):
        rules_clean(tree, workspace=ws)


def test_growing_a_segment_is_refused_when_a_segment_naming_it_would_grow_too_large(ws):
    top = _chain(ws, 3, 8)  # 8**3 = 512 conditions from the bottom one
    bottom = Segment.objects.filter(workspace=ws).order_by("pk").first()
    bigger = {"match": "all", "children": [{"field": "score", "op": "gt", "value": 1}] * 2}
    with pytest.raises(RulesInvalid, match=f"“{top.name}” refers to this segment"):
        rules_clean(bigger, workspace=ws, segment=bottom)


def test_a_chain_saved_around_the_checks_fails_cleanly_when_compiled(ws):
    top = _chain(ws, 5, 5)  # 3,125 once expanded, written straight to the table
    with pytest.raises(RulesInvalid, match="at most 1,000"):
        segment_count(top)
