"""The Demo workspace's segments (PRODUCT G4, 13): the seed examples and one of each state.

Registered as a seed_demo step (segments/apps.py). Each segment is created once, found again
by name on later runs; rules are saved through segment_rules_set, so rules_clean checks them.
"""

from dataclasses import dataclass, field

from django.db import transaction

from contacts.models import Lead
from contacts.queries import leads_for
from contacts.synthetic import custom_fields_ensure
from leadcrm.models import Membership, User, Workspace
from leadcrm.roles import MARKETER
from segments.models import Segment, SegmentKind, SegmentState
from segments.rules import RulesInvalid, rules_clean
from segments.services import (
    segment_add_leads,
    segment_create,
    segment_rules_set,
    segment_state_set,
)

US_TECHNOLOGY = "Technology in the USA"


@dataclass(frozen=True)
class DemoSegment:
    name: str
    description: str
    kind: str
    state: str
    rules: dict = field(default_factory=dict)  # dynamic; "segment" values name a demo segment
    members_tag: str = ""  # static: leads carrying this tag…
    members_max: int = 0  # …the first of them by id


def _all(*children: dict, match: str = "all") -> dict:
    return {"match": match, "children": list(children)}


DEMO_SEGMENTS = [
    # The seed examples (G4).
    DemoSegment(
        US_TECHNOLOGY,
        "Industry is Technology and the lead is in the United States.",
        SegmentKind.DYNAMIC,
        SegmentState.ACTIVE,
        rules=_all(
            {"field": "cf.industry", "op": "is", "value": "Technology"},
            {"field": "country", "op": "is", "value": "US"},
        ),
    ),
    DemoSegment(
        "Opened an email in the last 30 days",
        "Leads whose latest email open is less than 30 days ago.",
        SegmentKind.DYNAMIC,
        SegmentState.ACTIVE,
        rules=_all({"field": "last_opened", "op": "less_than_days_ago", "value": 30}),
    ),
    DemoSegment(
        "Lead score over 50",
        "Engaged leads: a score above 50.",
        SegmentKind.DYNAMIC,
        SegmentState.ACTIVE,
        rules=_all({"field": "score", "op": "gt", "value": 50}),
    ),
    # One of each kind and state.
    DemoSegment(
        "Trade show follow-up",
        "Badge scans from the trade show, picked by hand for a call.",
        SegmentKind.STATIC,
        SegmentState.ACTIVE,
        members_tag="event-lead",
        members_max=40,
    ),
    DemoSegment(
        "Visited pricing twice",
        "Being tried out: leads who looked at /pricing at least two times.",
        SegmentKind.DYNAMIC,
        SegmentState.DRAFT,
        rules=_all(
            {
                "field": "activity",
                "op": "at_least",
                "value": {"type": "page_visited", "url": "/pricing", "days": None, "count": 2},
            }
        ),
    ),
    DemoSegment(
        "New US tech leads, warm or hot",
        "Technology in the USA, still New, and either warm or hot or a recent reply.",
        SegmentKind.DYNAMIC,
        SegmentState.DRAFT,
        rules=_all(
            {"field": "segment", "op": "in", "value": US_TECHNOLOGY},
            {"field": "status", "op": "is", "value": "new"},
            _all(
                {"field": "tier", "op": "in", "value": ["warm", "hot"]},
                {"field": "last_replied", "op": "less_than_days_ago", "value": 60},
                match="any",
            ),
        ),
    ),
    DemoSegment(
        "Webinar 2025 invitees",
        "The invitation list of the spring webinar; kept for reference.",
        SegmentKind.STATIC,
        SegmentState.RETIRED,
        members_tag="webinar-2025",
        members_max=30,
    ),
    DemoSegment(
        "No activity in 90 days",
        "Replaced by the re-engagement campaign's own list.",
        SegmentKind.DYNAMIC,
        SegmentState.RETIRED,
        rules=_all(
            {
                "field": "activity",
                "op": "none",
                "value": {"type": "", "url": "", "days": 90, "count": 1},
            }
        ),
    ),
]


def _named_segments(rules: dict, ids: dict[str, int]) -> dict:
    """The tree with segment names replaced by the ids of the segments so named (KeyError
    when one is missing)."""
    if "children" in rules:
        return {**rules, "children": [_named_segments(c, ids) for c in rules["children"]]}
    if rules.get("field") == "segment":
        return {**rules, "value": ids[rules["value"].lower()]}
    return rules


@transaction.atomic
def demo_segments_seed(*, workspace: Workspace) -> int:
    """Create the demo segments the workspace lacks (by name); returns how many were created."""
    custom_fields_ensure(workspace=workspace)  # the examples test `industry`, even at --leads 0
    existing = {s.name.lower(): s.pk for s in Segment.objects.for_workspace(workspace)}
    marketer = (
        Membership.objects.filter(workspace=workspace, role__name=MARKETER)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    actor: User | None = marketer.user if marketer else None
    created = 0
    for demo in DEMO_SEGMENTS:
        if demo.name.lower() in existing:
            continue
        try:
            rules = _named_segments(demo.rules, existing)
            rules_clean(rules, workspace=workspace)
        except (KeyError, RulesInvalid):  # a segment or field it names is gone or changed
            continue
        segment = segment_create(
            workspace=workspace,
            actor=actor,
            name=demo.name,
            kind=demo.kind,
            description=demo.description,
        )
        if demo.kind == SegmentKind.DYNAMIC:
            segment_rules_set(segment=segment, rules=rules, actor=actor)
        else:
            segment_add_leads(
                workspace=workspace,
                segment=segment,
                leads=_tagged(workspace, demo.members_tag, demo.members_max),
                actor=actor,
            )
        segment_state_set(segment=segment, actor=actor, state=demo.state)
        existing[demo.name.lower()] = segment.pk
        created += 1
    return created


def _tagged(workspace: Workspace, tag: str, limit: int):
    ids = (
        leads_for(workspace)
        .filter(tags__name=tag)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return Lead.objects.filter(pk__in=list(ids))


def demo_segments_step(workspace: Workspace) -> str:
    """seed_demo's step (contacts.demo.DEMO_SEED_STEPS)."""
    created = demo_segments_seed(workspace=workspace)
    total = Segment.objects.for_workspace(workspace).count()
    return f"{total:,} segments ({created:,} created now)."
