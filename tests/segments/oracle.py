"""A second, plain-Python implementation of docs/segment-rules.md (the "oracle").

It evaluates a rule tree on one lead at a time, with no ORM and no SQL, straight from the
contract, so that the property tests can compare it with segments/rules.py (which compiles the
same tree into one Q). It is written from the spec alone: where the two disagree, the spec
decides which one is wrong.

`evaluate(tree, lead, ctx=ctx)` takes a lead object with the Lead model's attribute names (a
Lead instance, saved or not) and a `Ctx` holding everything that is not on the lead's own row:
the frozen "now", the lead's tags and activities, company names, the workspace's segments and
its custom fields' types. `ctx_from_db()` builds a Ctx with plain reads, for example tests.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from contacts.normalize import search_term

# The spec's field list ------------------------------------------------------------------------

TEXT_FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone",
    "mobile": "mobile",
    "job_title": "job_title",
    "department": "department",
    "company": None,  # the company's name, "" without a company
    "domain": "domain",
    "source": "source",
    "street": "street",
    "city": "city",
    "region": "region",
    "postal_code": "postal_code",
    "timezone": "timezone",
    "preferred_language": "preferred_language",
    "linkedin_url": "linkedin_url",
    "twitter_handle": "twitter_handle",
    "consent_source": "consent_source",
}
# choice field → can it be blank (only then are `empty` / `not_empty` offered)
CHOICE_FIELDS = {
    "status": False,
    "email_status": False,
    "contact_role": True,
    "consent_status": False,
    "consent_type": True,
    "gdpr_basis": True,
    "tier": False,
    "country": True,
}
NUMBER_FIELDS = {"score": "score", "quality_score": "quality_score"}
DATETIME_FIELDS = {
    "created": "created_at",
    "updated": "updated_at",
    "last_contacted": "last_contacted_at",
    "last_activity": "last_activity_at",
    "consent_captured": "consent_captured_at",
}
DATE_FIELDS = {"birthday": "birthday"}
BOOLEAN_FIELDS = {"do_not_contact": "do_not_contact"}
DERIVED_FIELDS = {
    "last_opened": "email_opened",
    "last_clicked": "email_clicked",
    "last_replied": "email_replied",
    "last_visited": "page_visited",
}

TEXT_OPS = ("is", "is_not", "contains", "not_contains", "starts_with", "empty", "not_empty")
CHOICE_OPS = ("is", "is_not", "in", "not_in")
NUMBER_OPS = ("is", "is_not", "gt", "gte", "lt", "lte", "between")
MOMENT_OPS = (
    "on",
    "before",
    "after",
    "between",
    "less_than_days_ago",
    "more_than_days_ago",
    "empty",
    "not_empty",
)
EMPTY_OPS = ("empty", "not_empty")


def standard_kinds() -> dict[str, str]:
    """Every standard field name → its kind, as the spec lists them."""
    kinds = {}
    kinds.update(dict.fromkeys(TEXT_FIELDS, "text"))
    kinds.update(dict.fromkeys(CHOICE_FIELDS, "choice"))
    kinds.update(dict.fromkeys(NUMBER_FIELDS, "number"))
    kinds.update(dict.fromkeys(DATETIME_FIELDS, "datetime"))
    kinds.update(dict.fromkeys(DATE_FIELDS, "date"))
    kinds.update(dict.fromkeys(BOOLEAN_FIELDS, "boolean"))
    kinds.update(dict.fromkeys(DERIVED_FIELDS, "datetime"))
    kinds.update(owner="owner", tag="tags", segment="segment", search="search", activity="activity")
    return kinds


CUSTOM_KINDS = {
    "text": "text",
    "number": "number",
    "date": "date",
    "boolean": "boolean",
    "choice": "choice",
}


def ops_for(name: str, kind: str) -> tuple[str, ...]:
    """The operators the spec offers for a field (`cf.<key>` names a custom field)."""
    custom = name.startswith("cf.")
    if kind == "text":
        return TEXT_OPS
    if kind == "choice":
        blankable = custom or CHOICE_FIELDS.get(name, False)
        return CHOICE_OPS + (EMPTY_OPS if blankable else ())
    if kind == "number":
        return NUMBER_OPS + (EMPTY_OPS if custom else ())
    if kind in ("datetime", "date"):
        return MOMENT_OPS
    return {
        "boolean": ("is",),
        "owner": ("is", "is_not", "empty", "not_empty"),
        "tags": ("has", "lacks"),
        "segment": ("in", "not_in"),
        "search": ("contains",),
        "activity": ("at_least", "none"),
    }[kind]


# Context --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Act:
    """One activity, as much of it as rules look at."""

    type: str
    occurred_at: datetime
    url: str = ""


@dataclass(frozen=True)
class SegmentInfo:
    kind: str  # "static" | "dynamic"
    rules: Mapping = field(default_factory=dict)
    members: frozenset[int] = frozenset()  # lead ids, for a static segment


@dataclass
class Ctx:
    now: datetime
    tags: Mapping[int, set[int]] = field(default_factory=dict)  # lead id → tag ids
    activities: Mapping[int, list[Act]] = field(default_factory=dict)  # lead id → activities
    company_names: Mapping[int, str] = field(default_factory=dict)  # company id → name
    segments: Mapping[int, SegmentInfo] = field(default_factory=dict)  # segment id → info
    custom_types: Mapping[str, str] = field(default_factory=dict)  # key → CustomFieldType
    time_zone: str | None = None  # settings.TIME_ZONE when None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("now must be an aware datetime")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone or settings.TIME_ZONE)

    @property
    def now_utc(self) -> datetime:
        # Absolute arithmetic: "now − N×24 h" is N×24 real hours whatever the wall clock does.
        return self.now.astimezone(UTC)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()


def ctx_from_db(workspace, now: datetime) -> Ctx:
    """A Ctx for the workspace's rows, read with plain queries (no rule compiler involved)."""
    from contacts.models import Activity, Company, CustomField, Lead
    from segments.models import Segment, SegmentMembership

    tags: dict[int, set[int]] = {}
    through = Lead.tags.through.objects.filter(lead__workspace=workspace)
    for lead_id, tag_id in through.values_list("lead_id", "tag_id"):
        tags.setdefault(lead_id, set()).add(tag_id)
    activities: dict[int, list[Act]] = {}
    rows = Activity.objects.filter(workspace=workspace).values_list(
        "lead_id", "type", "occurred_at", "url"
    )
    for lead_id, type_, occurred_at, url in rows:
        activities.setdefault(lead_id, []).append(Act(type_, occurred_at, url))
    companies = dict(Company.objects.filter(workspace=workspace).values_list("id", "name"))
    members: dict[int, set[int]] = {}
    for segment_id, lead_id in SegmentMembership.objects.filter(
        segment__workspace=workspace
    ).values_list("segment_id", "lead_id"):
        members.setdefault(segment_id, set()).add(lead_id)
    segments = {
        s.pk: SegmentInfo(s.kind, s.rules or {}, frozenset(members.get(s.pk, ())))
        for s in Segment.objects.filter(workspace=workspace)
    }
    custom = dict(CustomField.objects.filter(workspace=workspace).values_list("key", "type"))
    return Ctx(
        now=now,
        tags=tags,
        activities=activities,
        company_names=companies,
        segments=segments,
        custom_types=custom,
    )


# Folding --------------------------------------------------------------------------------------

_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(text: str) -> str:
    """ASCII case folding: A–Z become a–z, every other character stays as it is."""
    return text.translate(_ASCII_FOLD)


# Evaluation -----------------------------------------------------------------------------------


class OracleError(ValueError):
    """The tree is not one the spec describes (the oracle does not guess)."""


def evaluate(tree: Mapping, lead: Any, *, ctx: Ctx, _stack: tuple[int, ...] = ()) -> bool:
    """Does `lead` match `tree`? Leads in the trash never match."""
    if getattr(lead, "deleted_at", None) is not None:
        return False
    return _node(tree or {"match": "all", "children": []}, lead, ctx, _stack)


def _node(node: Mapping, lead: Any, ctx: Ctx, stack: tuple[int, ...]) -> bool:
    if "match" in node:
        results = (_node(child, lead, ctx, stack) for child in node.get("children", []))
        match node["match"]:
            case "all":
                return all(results)
            case "any":
                return any(results)
            case "none":
                return not any(results)
        raise OracleError(f"unknown match {node['match']!r}")
    return _condition(node, lead, ctx, stack)


def _condition(cond: Mapping, lead: Any, ctx: Ctx, stack: tuple[int, ...]) -> bool:
    name, op, value = cond["field"], cond["op"], cond.get("value")
    if name.startswith("cf."):
        key = name[3:]
        if key not in ctx.custom_types:
            raise OracleError(f"unknown custom field {name!r}")
        return _custom(ctx.custom_types[key], key, op, value, lead, ctx)
    if name in TEXT_FIELDS:
        return _text(op, value, _text_value(name, lead, ctx))
    if name in CHOICE_FIELDS:
        return _choice(op, value, getattr(lead, name) or "")
    if name in NUMBER_FIELDS:
        return _number(op, value, getattr(lead, NUMBER_FIELDS[name]))
    if name in DATETIME_FIELDS:
        return _moment(op, value, getattr(lead, DATETIME_FIELDS[name]), ctx)
    if name in DERIVED_FIELDS:
        wanted = DERIVED_FIELDS[name]
        times = [a.occurred_at for a in ctx.activities.get(lead.pk, ()) if a.type == wanted]
        return _moment(op, value, max(times) if times else None, ctx)
    if name in DATE_FIELDS:
        return _day(op, value, getattr(lead, DATE_FIELDS[name]), ctx)
    if name in BOOLEAN_FIELDS:
        return _boolean(op, value, getattr(lead, BOOLEAN_FIELDS[name]))
    if name == "owner":
        return _owner(op, value, lead.owner_id)
    if name == "tag":
        return _tags(op, value, ctx.tags.get(lead.pk, set()))
    if name == "segment":
        return _segment(op, value, lead, ctx, stack)
    if name == "search":
        return _search(op, value, lead.search_text or "")
    if name == "activity":
        return _activity(op, value, ctx.activities.get(lead.pk, ()), ctx)
    raise OracleError(f"unknown field {name!r}")


def _text_value(name: str, lead: Any, ctx: Ctx) -> str:
    if name == "company":
        return ctx.company_names.get(lead.company_id, "") if lead.company_id else ""
    return getattr(lead, TEXT_FIELDS[name]) or ""


def _text(op: str, value: Any, have: str) -> bool:
    match op:
        case "is":
            return fold(have) == fold(value)
        case "is_not":
            return not _text("is", value, have)
        case "contains":
            return fold(value) in fold(have)
        case "not_contains":
            return not _text("contains", value, have)
        case "starts_with":
            return fold(have).startswith(fold(value))
        case "empty":
            return have == ""
        case "not_empty":
            return have != ""
    raise OracleError(f"bad text op {op!r}")


def _choice(op: str, value: Any, have: str) -> bool:
    match op:
        case "is":
            return have == value
        case "is_not":
            return have != value
        case "in":
            return have in value
        case "not_in":
            return have not in value
        case "empty":
            return have == ""
        case "not_empty":
            return have != ""
    raise OracleError(f"bad choice op {op!r}")


def _number(op: str, value: Any, have: int | float | None) -> bool:
    """`have` None: a custom number without the key; only `empty` and `is_not` hold."""
    if op == "empty":
        return have is None
    if op == "not_empty":
        return have is not None
    if op == "is_not":
        return not _number("is", value, have)
    if have is None:
        if op in ("is", "gt", "gte", "lt", "lte", "between"):
            return False
        raise OracleError(f"bad number op {op!r}")
    match op:
        case "is":
            return have == value
        case "gt":
            return have > value
        case "gte":
            return have >= value
        case "lt":
            return have < value
        case "lte":
            return have <= value
        case "between":
            low, high = value
            return low <= have <= high
    raise OracleError(f"bad number op {op!r}")


def _day_start(day: date, ctx: Ctx) -> datetime:
    """Midnight starting `day` in settings.TIME_ZONE, as an absolute (UTC) moment."""
    return datetime.combine(day, time(0), tzinfo=ctx.tz).astimezone(UTC)


def _moment(op: str, value: Any, have: datetime | None, ctx: Ctx) -> bool:
    if op == "empty":
        return have is None
    if op == "not_empty":
        return have is not None
    if have is None:
        return False
    if have.tzinfo is None:
        raise OracleError("naive datetime on a lead")
    have = have.astimezone(UTC)
    match op:
        case "on":
            day = date.fromisoformat(value)
            return _day_start(day, ctx) <= have < _day_start(day + timedelta(days=1), ctx)
        case "before":
            return have < _day_start(date.fromisoformat(value), ctx)
        case "after":
            return have >= _day_start(date.fromisoformat(value) + timedelta(days=1), ctx)
        case "between":
            first, last = (date.fromisoformat(v) for v in value)
            return _day_start(first, ctx) <= have < _day_start(last + timedelta(days=1), ctx)
        case "less_than_days_ago":
            return have >= ctx.now_utc - timedelta(days=value)
        case "more_than_days_ago":
            return have < ctx.now_utc - timedelta(days=value)
    raise OracleError(f"bad datetime op {op!r}")


def _day(op: str, value: Any, have: date | str | None, ctx: Ctx) -> bool:
    if op == "empty":
        return have is None
    if op == "not_empty":
        return have is not None
    if have is None:
        return False
    if isinstance(have, str):
        have = date.fromisoformat(have)
    if isinstance(have, datetime):
        raise OracleError("a date field holds a datetime")
    match op:
        case "on":
            return have == date.fromisoformat(value)
        case "before":
            return have < date.fromisoformat(value)
        case "after":
            return have > date.fromisoformat(value)
        case "between":
            first, last = (date.fromisoformat(v) for v in value)
            return first <= have <= last
        case "less_than_days_ago":
            return have >= ctx.today - timedelta(days=value)
        case "more_than_days_ago":
            return have < ctx.today - timedelta(days=value)
    raise OracleError(f"bad date op {op!r}")


def _boolean(op: str, value: Any, have: bool | None) -> bool:
    match op:
        case "is":
            return have is not None and have is value
        case "empty":
            return have is None
        case "not_empty":
            return have is not None
    raise OracleError(f"bad boolean op {op!r}")


def _owner(op: str, value: Any, owner_id: int | None) -> bool:
    match op:
        case "is":
            return owner_id is not None and owner_id == value
        case "is_not":
            return not _owner("is", value, owner_id)
        case "empty":
            return owner_id is None
        case "not_empty":
            return owner_id is not None
    raise OracleError(f"bad owner op {op!r}")


def _tags(op: str, value: Any, tag_ids: set[int]) -> bool:
    match op:
        case "has":
            return value in tag_ids
        case "lacks":
            return value not in tag_ids
    raise OracleError(f"bad tag op {op!r}")


def _segment(op: str, value: Any, lead: Any, ctx: Ctx, stack: tuple[int, ...]) -> bool:
    if op == "not_in":
        return not _segment("in", value, lead, ctx, stack)
    if op != "in":
        raise OracleError(f"bad segment op {op!r}")
    segment = ctx.segments.get(value)
    if segment is None:
        raise OracleError(f"unknown segment {value!r}")
    if segment.kind == "static":
        return lead.pk in segment.members
    if value in stack:
        raise OracleError(f"segment cycle through {value}")
    return evaluate(segment.rules, lead, ctx=ctx, _stack=stack + (value,))


def search_words(value: str) -> list[str]:
    """The words of a search value, as the list's search box takes them."""
    return list(dict.fromkeys(w for w in search_term(value).split(" ") if w))


def _search(op: str, value: Any, search_text: str) -> bool:
    if op != "contains":
        raise OracleError(f"bad search op {op!r}")
    return all(word in search_text for word in search_words(value))


def activity_count(value: Mapping, activities, ctx: Ctx) -> int:
    """How many of the activities the `activity` condition's value describes."""
    type_, url, days = value.get("type") or "", value.get("url") or "", value.get("days")
    since = None if days is None else ctx.now_utc - timedelta(days=days)
    return sum(
        1
        for a in activities
        if (not type_ or a.type == type_)
        and (not url or fold(url) in fold(a.url or ""))
        and (since is None or a.occurred_at >= since)
    )


def _activity(op: str, value: Any, activities, ctx: Ctx) -> bool:
    match op:
        case "at_least":
            return activity_count(value, activities, ctx) >= value["count"]
        case "none":
            return activity_count(value, activities, ctx) == 0
    raise OracleError(f"bad activity op {op!r}")


def _custom(type_: str, key: str, op: str, value: Any, lead: Any, ctx: Ctx) -> bool:
    attributes = lead.attributes or {}
    have = attributes.get(key)
    match type_:
        case "text":
            return _text(op, value, have if isinstance(have, str) else "")
        case "choice":
            return _choice(op, value, have if isinstance(have, str) else "")
        case "number":
            number = have if isinstance(have, (int, float)) and not isinstance(have, bool) else None
            return _number(op, value, number)
        case "date":
            return _day(op, value, have if isinstance(have, str) and have else None, ctx)
        case "boolean":
            return _boolean(op, value, have if isinstance(have, bool) else None)
    raise OracleError(f"unknown custom field type {type_!r}")


def matching(tree: Mapping, leads, *, ctx: Ctx) -> set[int]:
    """The ids of the leads (live ones only) that match the tree."""
    return {lead.pk for lead in leads if evaluate(tree, lead, ctx=ctx)}
