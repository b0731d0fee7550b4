"""Segment rules: the field registry, validation and the compiler (docs/segment-rules.md).

A dynamic segment's `rules` is a tree of groups and conditions. rules_clean() validates and
normalises a tree against one workspace; rules_condition() compiles a clean tree into one Q on
Lead that works on SQLite and PostgreSQL: plain column lookups for standard fields, JSON
lookups for custom fields (containment for equality, GIN-indexed on PostgreSQL), EXISTS
subqueries for tags, static segments and activities.

Every compiled condition is two-valued (true or false, never NULL), so a negative operator or a
"none" group is exactly NOT its positive twin. tests/segments/oracle.py evaluates the same
trees in plain Python; the property test proves both agree on both databases.
"""

import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Count, Exists, F, Func, OuterRef, Q, QuerySet, TextField
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.lookups import Contains, Exact, StartsWith
from django.utils import timezone

from contacts.custom_fields import NUMBER_LIMIT, attribute_equals
from contacts.filters import MAX_SEARCH_WORDS, search_condition
from contacts.models import (
    Activity,
    ActivityType,
    Company,
    ConsentStatus,
    ConsentType,
    ContactRole,
    CustomField,
    CustomFieldType,
    EmailStatus,
    GdprBasis,
    Lead,
    LeadStatus,
    Tag,
    Tier,
)
from contacts.normalize import country_normalize, search_term
from contacts.queries import leads_for
from leadcrm.models import Membership, Workspace
from segments.models import Segment, SegmentKind, SegmentMembership

EMPTY_TREE: dict = {"match": "all", "children": []}
MAX_DEPTH = 10
MAX_CONDITIONS = 200
MAX_EXPANDED = 1000  # conditions once referenced dynamic segments are compiled in place
TEXT_MAX = 200
MAX_DAYS = 36_500
MAX_VALUES = 50
MAX_ACTIVITY_COUNT = 100
MATCHES = ("all", "any", "none")


class Kind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    NUMBER = "number"
    DATETIME = "datetime"
    DATE = "date"
    BOOLEAN = "boolean"
    OWNER = "owner"
    TAGS = "tags"
    SEGMENT = "segment"
    SEARCH = "search"
    ACTIVITY = "activity"


# Operators per kind, in the order the rule builder offers them. "empty"/"not_empty" are added
# only where a field can be empty (see _spec()).
_OPS: dict[Kind, tuple[str, ...]] = {
    Kind.TEXT: ("is", "is_not", "contains", "not_contains", "starts_with"),
    Kind.CHOICE: ("is", "is_not", "in", "not_in"),
    Kind.NUMBER: ("is", "is_not", "gt", "gte", "lt", "lte", "between"),
    Kind.DATETIME: (
        "less_than_days_ago",
        "more_than_days_ago",
        "on",
        "before",
        "after",
        "between",
    ),
    Kind.BOOLEAN: ("is",),
    Kind.OWNER: ("is", "is_not"),
    Kind.TAGS: ("has", "lacks"),
    Kind.SEGMENT: ("in", "not_in"),
    Kind.SEARCH: ("contains",),
    Kind.ACTIVITY: ("at_least", "none"),
}
_OPS[Kind.DATE] = _OPS[Kind.DATETIME]
EMPTINESS = ("empty", "not_empty")

# Each negative operator is exactly NOT its positive twin.
NEGATIVE = {
    "is_not": "is",
    "not_contains": "contains",
    "not_in": "in",
    "not_empty": "empty",
    "lacks": "has",
    "none": "at_least",
}
POSITIVE = {positive: negative for negative, positive in NEGATIVE.items()}

OP_LABELS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "in": "is any of",
    "not_in": "is none of",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "on": "is on",
    "before": "is before",
    "after": "is after",
    "less_than_days_ago": "is less than … days ago",
    "more_than_days_ago": "is more than … days ago",
    "empty": "is empty",
    "not_empty": "is not empty",
    "has": "has",
    "lacks": "does not have",
    "at_least": "happened at least",
    "none": "never happened",
}
# Where a kind reads better with its own words.
KIND_OP_LABELS = {
    (Kind.SEGMENT, "in"): "is in",
    (Kind.SEGMENT, "not_in"): "is not in",
    (Kind.SEARCH, "contains"): "contains the words",
}


def op_label(kind: str, op: str) -> str:
    return KIND_OP_LABELS.get((Kind(kind), op), OP_LABELS[op])


@dataclass(frozen=True)
class FieldSpec:
    """One field a condition can test. `name` is what trees store (`cf.<key>` for custom)."""

    name: str
    label: str
    kind: Kind
    ops: tuple[str, ...]
    group: str
    choices: tuple[tuple[str, str], ...] = ()
    column: str = ""  # the Lead column (standard fields)
    activity_type: str = ""  # derived "last …" fields
    custom_field: CustomField | None = field(default=None, compare=False)

    @property
    def is_custom(self) -> bool:
        return self.custom_field is not None


def _spec(name, label, kind, group, *, blank=False, column=None, **extra) -> FieldSpec:
    ops = _OPS[kind] + (EMPTINESS if blank else ())
    return FieldSpec(name, label, kind, ops, group, column=column or name, **extra)


def _choices(enum) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in enum.choices)


COUNTRY_CHOICES = tuple(
    sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda pair: pair[1])
)

# Standard fields, in the builder's order. Names are the query language's names too.
STANDARD_FIELDS: tuple[FieldSpec, ...] = (
    _spec("search", "Name, email or company", Kind.SEARCH, "Lead", column="search_text"),
    _spec("first_name", "First name", Kind.TEXT, "Lead", blank=True),
    _spec("last_name", "Last name", Kind.TEXT, "Lead", blank=True),
    _spec("email", "Email", Kind.TEXT, "Lead", blank=True),
    _spec("phone", "Phone", Kind.TEXT, "Lead", blank=True),
    _spec("mobile", "Mobile", Kind.TEXT, "Lead", blank=True),
    _spec("job_title", "Job title", Kind.TEXT, "Lead", blank=True),
    _spec("department", "Department", Kind.TEXT, "Lead", blank=True),
    _spec(
        "contact_role",
        "Contact role",
        Kind.CHOICE,
        "Lead",
        blank=True,
        choices=_choices(ContactRole),
    ),
    _spec("company", "Company", Kind.TEXT, "Lead", blank=True, column="company__name"),
    _spec("domain", "Domain", Kind.TEXT, "Lead", blank=True),
    _spec("source", "Source", Kind.TEXT, "Lead", blank=True),
    _spec("owner", "Owner", Kind.OWNER, "Lead", blank=True, column="owner_id"),
    _spec("tag", "Tag", Kind.TAGS, "Lead"),
    _spec("segment", "Segment", Kind.SEGMENT, "Lead"),
    _spec("linkedin_url", "LinkedIn URL", Kind.TEXT, "Lead", blank=True),
    _spec("twitter_handle", "Twitter handle", Kind.TEXT, "Lead", blank=True),
    _spec("birthday", "Birthday", Kind.DATE, "Lead", blank=True),
    _spec("street", "Street", Kind.TEXT, "Address", blank=True),
    _spec("city", "City", Kind.TEXT, "Address", blank=True),
    _spec("region", "Region", Kind.TEXT, "Address", blank=True),
    _spec("postal_code", "Postal code", Kind.TEXT, "Address", blank=True),
    _spec("country", "Country", Kind.CHOICE, "Address", blank=True, choices=COUNTRY_CHOICES),
    _spec("timezone", "Time zone", Kind.TEXT, "Address", blank=True),
    _spec("preferred_language", "Preferred language", Kind.TEXT, "Address", blank=True),
    _spec("status", "Status", Kind.CHOICE, "Funnel and scores", choices=_choices(LeadStatus)),
    _spec(
        "email_status",
        "Email status",
        Kind.CHOICE,
        "Funnel and scores",
        choices=_choices(EmailStatus),
    ),
    _spec("score", "Lead score", Kind.NUMBER, "Funnel and scores"),
    _spec("tier", "Tier", Kind.CHOICE, "Funnel and scores", choices=_choices(Tier)),
    _spec("quality_score", "Quality score", Kind.NUMBER, "Funnel and scores"),
    _spec(
        "created", "Created", Kind.DATETIME, "Funnel and scores", blank=True, column="created_at"
    ),
    _spec(
        "updated", "Updated", Kind.DATETIME, "Funnel and scores", blank=True, column="updated_at"
    ),
    _spec(
        "consent_status",
        "Consent",
        Kind.CHOICE,
        "Consent",
        choices=_choices(ConsentStatus),
    ),
    _spec(
        "consent_type",
        "Consent type",
        Kind.CHOICE,
        "Consent",
        blank=True,
        choices=_choices(ConsentType),
    ),
    _spec("consent_source", "Consent source", Kind.TEXT, "Consent", blank=True),
    _spec(
        "consent_captured",
        "Consent captured",
        Kind.DATETIME,
        "Consent",
        blank=True,
        column="consent_captured_at",
    ),
    _spec(
        "gdpr_basis", "GDPR basis", Kind.CHOICE, "Consent", blank=True, choices=_choices(GdprBasis)
    ),
    _spec("do_not_contact", "Do not contact", Kind.BOOLEAN, "Consent"),
    _spec("activity", "Activity", Kind.ACTIVITY, "Activity"),
    _spec(
        "last_activity",
        "Last activity",
        Kind.DATETIME,
        "Activity",
        blank=True,
        column="last_activity_at",
    ),
    _spec(
        "last_contacted",
        "Last contacted",
        Kind.DATETIME,
        "Activity",
        blank=True,
        column="last_contacted_at",
    ),
    _spec(
        "last_opened",
        "Last opened an email",
        Kind.DATETIME,
        "Activity",
        blank=True,
        activity_type=ActivityType.EMAIL_OPENED,
    ),
    _spec(
        "last_clicked",
        "Last clicked an email",
        Kind.DATETIME,
        "Activity",
        blank=True,
        activity_type=ActivityType.EMAIL_CLICKED,
    ),
    _spec(
        "last_replied",
        "Last replied to an email",
        Kind.DATETIME,
        "Activity",
        blank=True,
        activity_type=ActivityType.EMAIL_REPLIED,
    ),
    _spec(
        "last_visited",
        "Last visited a page",
        Kind.DATETIME,
        "Activity",
        blank=True,
        activity_type=ActivityType.PAGE_VISITED,
    ),
)
STANDARD_BY_NAME = {spec.name: spec for spec in STANDARD_FIELDS}
CUSTOM_PREFIX = "cf."
CUSTOM_GROUP = "Custom fields"
_CUSTOM_KINDS = {
    CustomFieldType.TEXT: Kind.TEXT,
    CustomFieldType.NUMBER: Kind.NUMBER,
    CustomFieldType.DATE: Kind.DATE,
    CustomFieldType.BOOLEAN: Kind.BOOLEAN,
    CustomFieldType.CHOICE: Kind.CHOICE,
}


def custom_spec(custom_field: CustomField) -> FieldSpec:
    kind = _CUSTOM_KINDS[custom_field.type]
    label = custom_field.label + (" (retired)" if custom_field.is_retired else "")
    return FieldSpec(
        name=CUSTOM_PREFIX + custom_field.key,
        label=label,
        kind=kind,
        ops=_OPS[kind] + EMPTINESS,
        group=CUSTOM_GROUP,
        choices=tuple((c, c) for c in custom_field.choices),
        custom_field=custom_field,
    )


class FieldRegistry:
    """Every field a workspace's conditions may test: standard first, then custom fields."""

    def __init__(self, workspace: Workspace | int, custom_fields=None):
        if custom_fields is None:
            custom_fields = CustomField.objects.for_workspace(workspace).live()
        self.workspace = workspace
        self.custom = [custom_spec(f) for f in custom_fields if not f.deleting]
        self.fields: list[FieldSpec] = [*STANDARD_FIELDS, *self.custom]
        self._by_name = {spec.name: spec for spec in self.fields}

    def get(self, name: str) -> FieldSpec | None:
        return self._by_name.get(name)

    def groups(self) -> list[tuple[str, list[FieldSpec]]]:
        """Fields grouped for a <select> with optgroups, in order."""
        grouped: dict[str, list[FieldSpec]] = {}
        for spec in self.fields:
            grouped.setdefault(spec.group, []).append(spec)
        return list(grouped.items())


def field_registry(workspace: Workspace | int) -> FieldRegistry:
    return FieldRegistry(workspace)


# Validation ----------------------------------------------------------------------------------


class RuleIssue(NamedTuple):
    path: tuple[int, ...]  # child indexes from the root: () is the root group
    message: str


class RulesInvalid(ValidationError):
    def __init__(self, issues: list[RuleIssue]):
        self.issues = issues
        super().__init__([issue.message for issue in issues])


def is_group(node: Any) -> bool:
    return isinstance(node, dict) and ("children" in node or "match" in node)


def iter_conditions(tree: dict, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple, dict]]:
    """Every condition of a (clean or raw) tree with its path."""
    if not isinstance(tree, dict):
        return
    for index, child in enumerate(tree.get("children") or []):
        if is_group(child):
            yield from iter_conditions(child, (*path, index))
        elif isinstance(child, dict):
            yield (*path, index), child


def referenced_segments(tree: dict) -> set[int]:
    """Ids of the segments a tree's `segment` conditions name."""
    ids = set()
    for _, condition in iter_conditions(tree or {}):
        if condition.get("field") == "segment" and isinstance(condition.get("value"), int):
            ids.add(condition["value"])
    return ids


class _Cleaner:
    def __init__(self, workspace: Workspace, segment: Segment | None, registry: FieldRegistry):
        self.workspace, self.segment, self.registry = workspace, segment, registry
        self.issues: list[RuleIssue] = []
        self.conditions = 0
        self.wanted: dict[str, dict[Any, list[tuple]]] = {"owner": {}, "tag": {}, "segment": {}}

    def fail(self, path: tuple, message: str) -> None:
        self.issues.append(RuleIssue(path, message))

    def group(self, node: Any, path: tuple, depth: int) -> dict:
        if not isinstance(node, dict):
            self.fail(path, "A group must be an object with “match” and “children”.")
            return dict(EMPTY_TREE)
        if depth > MAX_DEPTH:
            self.fail(path, f"Groups can nest at most {MAX_DEPTH} levels deep.")
            return dict(EMPTY_TREE)
        match = node.get("match", "all")
        if match not in MATCHES:
            self.fail(path, "A group matches “all”, “any” or “none” of its conditions.")
            match = "all"
        children = node.get("children", [])
        if not isinstance(children, list):
            self.fail(path, "A group's children must be a list.")
            children = []
        cleaned = []
        for index, child in enumerate(children):
            child_path = (*path, index)
            if is_group(child):
                cleaned.append(self.group(child, child_path, depth + 1))
            else:
                condition = self.condition(child, child_path)
                if condition is not None:
                    cleaned.append(condition)
        return {"match": match, "children": cleaned}

    def condition(self, node: Any, path: tuple) -> dict | None:
        self.conditions += 1
        if self.conditions == MAX_CONDITIONS + 1:
            self.fail(path, f"A segment can have at most {MAX_CONDITIONS} conditions.")
        if not isinstance(node, dict):
            self.fail(path, "A condition must be an object with “field”, “op” and “value”.")
            return None
        name = node.get("field")
        spec = self.registry.get(name) if isinstance(name, str) else None
        if spec is None:
            shown = str(name)[:60] if name not in (None, "") else ""
            self.fail(path, f"There is no field “{shown}”." if shown else "Choose a field.")
            return None
        op = node.get("op")
        if op not in spec.ops:
            if op in (None, ""):
                self.fail(path, f"Choose how to compare {spec.label}.")
            else:
                self.fail(path, f"{spec.label} cannot be compared with “{str(op)[:30]}”.")
            return None
        if op in EMPTINESS:
            return {"field": spec.name, "op": op}
        try:
            value = self.value(spec, op, node.get("value"), path)
        except ValidationError as error:
            self.fail(path, f"{spec.label}: {' '.join(error.messages)}")
            return None
        return {"field": spec.name, "op": op, "value": value}

    # Values ------------------------------------------------------------------------------

    def value(self, spec: FieldSpec, op: str, value: Any, path: tuple) -> Any:
        kind = spec.kind
        if kind in (Kind.TEXT, Kind.SEARCH):
            return _text_value(value, search=kind == Kind.SEARCH)
        if kind == Kind.CHOICE:
            if op in ("in", "not_in"):
                if not isinstance(value, list | tuple) or not value:
                    raise ValidationError("Choose at least one value.")
                if len(value) > MAX_VALUES:
                    raise ValidationError(f"Choose at most {MAX_VALUES} values.")
                return list(dict.fromkeys(_choice_value(spec, v) for v in value))
            return _choice_value(spec, value)
        if kind == Kind.NUMBER:
            if op == "between":
                low, high = _pair(value, _number_value)
                if low > high:
                    raise ValidationError("The first number must not be larger than the second.")
                return [low, high]
            return _number_value(value)
        if kind in (Kind.DATETIME, Kind.DATE):
            if op in ("less_than_days_ago", "more_than_days_ago"):
                return _int_value(value, 0, MAX_DAYS, "days")
            if op == "between":
                low, high = _pair(value, _date_value)
                if low > high:
                    raise ValidationError("The first date must not be after the second.")
                return [low, high]
            return _date_value(value)
        if kind == Kind.BOOLEAN:
            return _boolean_value(value)
        if kind == Kind.OWNER:
            return self.wait_for("owner", _id_value(value, "member"), path)
        if kind == Kind.TAGS:
            return self.wait_for("tag", _id_value(value, "tag"), path)
        if kind == Kind.SEGMENT:
            pk = _id_value(value, "segment")
            if self.segment is not None and pk == self.segment.pk:
                raise ValidationError("A segment cannot refer to itself.")
            return self.wait_for("segment", pk, path)
        if kind == Kind.ACTIVITY:
            return _activity_value(value, counted=op == "at_least")
        raise AssertionError(kind)  # pragma: no cover - every kind is handled above

    def wait_for(self, what: str, pk: int, path: tuple) -> int:
        """Ids are checked against the workspace at the end, in one query per kind."""
        self.wanted[what].setdefault(pk, []).append(path)
        return pk

    def check_ids(self) -> None:
        ws = self.workspace
        existing = {
            "owner": Membership.objects.filter(
                workspace=ws, user_id__in=self.wanted["owner"]
            ).values_list("user_id", flat=True),
            "tag": Tag.objects.filter(workspace=ws, pk__in=self.wanted["tag"]).values_list(
                "pk", flat=True
            ),
            "segment": Segment.objects.filter(
                workspace=ws, pk__in=self.wanted["segment"]
            ).values_list("pk", flat=True),
        }
        names = {"owner": "member", "tag": "tag", "segment": "segment"}
        for what, wanted in self.wanted.items():
            if not wanted:
                continue
            found = set(existing[what])
            for pk, paths in wanted.items():
                if pk not in found:
                    for path in paths:
                        self.fail(path, f"That {names[what]} does not exist in this workspace.")

    def check_segments(self, tree: dict) -> None:
        """No circles through `segment` conditions, and no tree too large once expanded.

        A dynamic segment's rules are compiled in place of each condition naming it, so the
        sizes multiply along a chain of references; this checks the tree and, when saving a
        segment, every segment that refers to it (its size changes with ours).
        """
        me = self.segment.pk if self.segment is not None and self.segment.pk else None
        if not self.wanted["segment"] and me is None:
            return
        rules = dict(
            Segment.objects.filter(workspace=self.workspace, kind=SegmentKind.DYNAMIC)
            .exclude(pk=me)
            .values_list("pk", "rules")
        )
        if me is not None:
            rules[me] = tree
        graph = {pk: referenced_segments(tree_) for pk, tree_ in rules.items()}
        self.check_cycles(graph, me)
        if self.issues:
            return
        size = expanded_size(tree, rules)
        if size > MAX_EXPANDED:
            self.fail((), _too_large(size))
            return
        if me is not None:
            referrers = [pk for pk in graph if pk != me and me in _reachable(pk, graph)]
            names = dict(Segment.objects.filter(pk__in=referrers).values_list("pk", "name"))
            for pk in referrers:
                size = expanded_size(rules[pk], rules)
                if size > MAX_EXPANDED:
                    name = names.get(pk, pk)
                    self.fail((), f"“{name}” refers to this segment. " + _too_large(size, name))
                    return

    def check_cycles(self, graph: dict[int, set[int]], me: int | None) -> None:
        """A dynamic segment may not reach itself through `segment` conditions."""
        for start, paths in self.wanted["segment"].items():
            cycle = _cycle_from(start, graph, me)
            if cycle:
                names = dict(Segment.objects.filter(pk__in=cycle).values_list("pk", "name"))
                chain = " → ".join(f"“{names.get(pk, pk)}”" for pk in cycle)
                for path in paths:
                    self.fail(path, f"Segments cannot refer to each other in a circle: {chain}.")


def _cycle_from(start: int, graph: dict[int, set[int]], me: int | None) -> list[int]:
    """The first circle reachable from `start` (through `me`, if given), else []."""
    trail: list[int] = []
    on_trail: set[int] = set()
    done: set[int] = set()

    def visit(pk: int) -> list[int]:
        if pk in on_trail:
            return [*trail[trail.index(pk) :], pk]
        if pk in done:
            return []
        trail.append(pk)
        on_trail.add(pk)
        for nxt in sorted(graph.get(pk, ())):
            found = visit(nxt)
            if found:
                return found
        trail.pop()
        on_trail.discard(pk)
        done.add(pk)
        return []

    if me is not None:
        trail.append(me)
        on_trail.add(me)
    return visit(start)


def _reachable(start: int, graph: dict[int, set[int]]) -> set[int]:
    seen: set[int] = set()
    todo = list(graph.get(start, ()))
    while todo:
        pk = todo.pop()
        if pk not in seen:
            seen.add(pk)
            todo.extend(graph.get(pk, ()))
    return seen


def expanded_size(tree: dict, rules: dict[int, dict], _memo=None, _trail=()) -> int:
    """Conditions in the tree once each dynamic segment it names is replaced by its rules."""
    memo = {} if _memo is None else _memo
    size = 0
    for _, condition in iter_conditions(tree or {}):
        pk = condition.get("value")
        if condition.get("field") != "segment" or pk not in rules or pk in _trail:
            size += 1
            continue
        if pk not in memo:
            memo[pk] = expanded_size(rules[pk], rules, memo, (*_trail, pk))
        size += memo[pk]
    return size


def _too_large(size: int, whose: str = "") -> str:
    rules = f"the rules of “{whose}”" if whose else "the rules"
    return (
        f"With the segments they refer to, {rules} would hold {size:,} conditions; "
        f"at most {MAX_EXPANDED:,} can be evaluated at once."
    )


def _text_value(value: Any, *, search: bool = False) -> str:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError("Enter some text.")
    value = unicodedata.normalize("NFC", value.strip())
    if not value:
        raise ValidationError("Enter some text.")
    if "\x00" in value:
        raise ValidationError("Text cannot contain null characters.")
    if len(value) > TEXT_MAX:
        raise ValidationError(f"Use at most {TEXT_MAX} characters.")
    if search:
        words = [w for w in search_term(value).split(" ") if w]
        if len(set(words)) > MAX_SEARCH_WORDS:
            raise ValidationError(f"Search for at most {MAX_SEARCH_WORDS} words at once.")
    return value


def _choice_value(spec: FieldSpec, value: Any) -> str:
    if spec.name == "country" and isinstance(value, str):
        code = country_normalize(value)  # "USA", "United States", "us" → "US"
        if not code:
            raise ValidationError("Choose a country.")
        return code
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        wanted = value.strip().casefold()
        for code, label in spec.choices:
            if code.casefold() == wanted or label.casefold() == wanted:
                return code
    shown = str(value)[:60]
    allowed = ", ".join(label for _, label in spec.choices[:12])
    more = "…" if len(spec.choices) > 12 else ""
    raise ValidationError(f"“{shown}” is not one of the choices ({allowed}{more}).")


def _number_value(value: Any) -> int | float:
    message = "Enter a number, like 50 or 12.5."
    if isinstance(value, bool):
        raise ValidationError(message)
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str | int | float) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise ValidationError(message)
    if abs(number) >= NUMBER_LIMIT:
        raise ValidationError(f"Enter a number between -{NUMBER_LIMIT:,} and {NUMBER_LIMIT:,}.")
    return int(number) if number == number.to_integral_value() else float(number)


def _int_value(value: Any, low: int, high: int, what: str) -> int:
    message = f"Enter a whole number of {what} from {low} to {high:,}."
    if isinstance(value, bool):
        raise ValidationError(message)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(message)
    return value


def _date_value(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text.isascii():
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass
    raise ValidationError("Enter a date as YYYY-MM-DD, like 2025-03-31.")


def _pair(value: Any, clean) -> tuple:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValidationError("Enter both ends of the range.")
    return clean(value[0]), clean(value[1])


def _boolean_value(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "y", "1"):
            return True
        if word in ("false", "no", "n", "0"):
            return False
    raise ValidationError("Choose yes or no.")


def _id_value(value: Any, what: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) < 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(f"Choose a {what}.")
    return value


def _activity_value(value: Any, *, counted: bool) -> dict:
    if not isinstance(value, dict):
        raise ValidationError("Describe the activity.")
    kind = value.get("type") or ""
    if kind not in ActivityType.values and kind != "":
        raise ValidationError(f"“{str(kind)[:40]}” is not an activity type.")
    url = value.get("url") or ""
    if not isinstance(url, str) or len(url) > TEXT_MAX or "\x00" in url:
        raise ValidationError(f"The URL text must be text of at most {TEXT_MAX} characters.")
    days = value.get("days")
    days = None if days in (None, "") else _int_value(days, 0, MAX_DAYS, "days")
    count = _int_value(value.get("count", 1), 1, MAX_ACTIVITY_COUNT, "times") if counted else 1
    return {"type": kind, "url": url.strip(), "days": days, "count": count}


def rules_clean(
    tree: Any, *, workspace: Workspace, segment: Segment | None = None, registry=None
) -> dict:
    """The tree, validated and normalised, or RulesInvalid listing every problem with its path.

    `segment` is the dynamic segment the rules are for (to refuse references to itself and
    circles through other segments).
    """
    if tree in (None, {}):
        tree = EMPTY_TREE
    cleaner = _Cleaner(workspace, segment, registry or field_registry(workspace))
    if not is_group(tree):
        raise RulesInvalid([RuleIssue((), "The rules must be a group of conditions.")])
    cleaned = cleaner.group(tree, (), 1)
    cleaner.check_ids()
    if not cleaner.issues:
        cleaner.check_segments(cleaned)
    if cleaner.issues:
        raise RulesInvalid(cleaner.issues)
    return cleaned


# Compiling -----------------------------------------------------------------------------------

SUBQUERY_KINDS = {Kind.TAGS, Kind.SEGMENT, Kind.ACTIVITY}
MAX_SPLIT = 4  # arms of an OR counted apart (one query each)
TRUE = Q(pk__isnull=False)
FALSE = Q(pk__in=[])
_ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_FOLD = str.maketrans(_ASCII_UPPER, _ASCII_UPPER.lower())


def ascii_fold(text: str) -> str:
    """A–Z to a–z; every other character stays as it is (the rules' case folding)."""
    return text.translate(_ASCII_FOLD)


class AsciiLower(Func):
    """ascii_fold() in SQL: SQLite's lower() folds ASCII only; PostgreSQL's would fold more."""

    function = "LOWER"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=f"TRANSLATE(%(expressions)s, '{_ASCII_UPPER}', '{_ASCII_UPPER.lower()}')",
            **extra_context,
        )


class JsonTypeIs(Func):
    """True when attributes' `key` holds a JSON value of the given type (number/string/boolean)."""

    output_field = BooleanField()
    _SQLITE = {
        "number": "('integer', 'real')",
        "string": "('text')",
        "boolean": "('true', 'false')",
    }

    def __init__(self, key: str, json_type: str):
        self.key, self.json_type = key, json_type
        super().__init__(F("attributes"))

    def as_sql(self, compiler, connection, **extra_context):  # PostgreSQL
        sql, params = compiler.compile(self.source_expressions[0])
        # COALESCE: a missing key is "not of the type" (false), never NULL.
        sql = f"(COALESCE(jsonb_typeof({sql} -> %s), '') = %s)"
        return sql, [*params, self.key, self.json_type]

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        path = '$."' + self.key + '"'  # keys are [a-z0-9_]: nothing to escape
        sql = f"(COALESCE(json_type({sql}, %s), '') IN {self._SQLITE[self.json_type]})"
        return sql, [*params, path]


class Compiler:
    def __init__(self, workspace: Workspace | int, now: datetime, seen=frozenset(), registry=None):
        self.workspace = workspace
        self.now = now.astimezone(UTC)  # N days ago is N×24 real hours, across DST changes
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.today = now.astimezone(self.tz).date()
        self.seen = seen
        self.budget = [MAX_EXPANDED]  # shared with the compilers of referenced segments
        self.registry = registry or field_registry(workspace)
        self._segments: dict[int, Segment] | None = None

    def node(self, node: dict) -> Q:
        if is_group(node):
            return self.group(node)
        return self.condition(node)

    def group(self, node: dict) -> Q:
        # AND and OR are commutative here (every condition is two-valued), so cheap column
        # tests go first: PostgreSQL evaluates a nested boolean expression in the order
        # written and stops early, running the subqueries only for the rows still in doubt.
        ordered = sorted(node.get("children", []), key=self.cost)
        children = [self.node(child) for child in ordered]
        match = node.get("match", "all")
        if not children:
            return FALSE if match == "any" else TRUE
        combined = children[0]
        for child in children[1:]:
            combined = combined & child if match == "all" else combined | child
        return ~combined if match == "none" else combined

    def disjoint_parts(self, tree: dict) -> list[Q]:
        """The tree as conditions that no lead meets twice, for counting (see rules_count).

        A root "all" holding an "any" group with a subquery in it becomes one condition per
        arm of that group: the rest AND arm i AND NOT arm 1..i-1. Each part is then a plain
        AND chain, where PostgreSQL turns EXISTS into a (parallel) semi or anti join; inside
        an OR it could only test the subquery lead by lead.
        """
        children = tree.get("children", []) if tree.get("match", "all") == "all" else []
        for index, child in enumerate(children):
            arms = child.get("children", []) if is_group(child) else []
            splits = child.get("match") == "any" and 2 <= len(arms) <= MAX_SPLIT
            if splits and self.cost(child) == 2:
                others = children[:index] + children[index + 1 :]
                rest = self.node({"match": "all", "children": others})
                parts, earlier = [], []
                for arm in [self.node(arm) for arm in sorted(arms, key=self.cost)]:
                    part = rest & arm
                    for before in earlier:
                        part &= ~before
                    parts.append(part)
                    earlier.append(arm)
                return parts
        return [self.node(tree)]

    def cost(self, node: dict) -> int:
        """0 a column test, 1 a JSON test, 2 a subquery: the order to test conditions in."""
        if is_group(node):
            return max((self.cost(child) for child in node.get("children", [])), default=0)
        spec = self.registry.get(node.get("field"))
        if spec is None:
            return 0
        if spec.kind in SUBQUERY_KINDS or spec.activity_type or spec.name == "company":
            return 2
        return 1 if spec.is_custom else 0

    def condition(self, node: dict) -> Q:
        # A safety net: rules_clean keeps saved segments within the budget (counted like
        # expanded_size: a condition naming a dynamic segment counts as that segment's rules).
        if node["field"] != "segment":
            self.budget[0] -= 1
            if self.budget[0] < 0:
                raise RulesInvalid([RuleIssue((), _too_large(MAX_EXPANDED + 1))])
        spec = self.registry.get(node["field"])
        if spec is None:  # a custom field deleted since the rule was saved matches nobody
            return FALSE
        op, value = node["op"], node.get("value")
        if op in NEGATIVE:
            return ~self.positive(spec, NEGATIVE[op], value)
        return self.positive(spec, op, value)

    def positive(self, spec: FieldSpec, op: str, value: Any) -> Q:
        if spec.is_custom:
            return self.custom(spec, op, value)
        if spec.activity_type:
            return self.last_activity(spec.activity_type, op, value)
        handler = getattr(self, f"kind_{spec.kind}")
        return handler(spec, op, value)

    # Standard fields -----------------------------------------------------------------------

    def kind_search(self, spec, op, value) -> Q:
        return search_condition(value) if search_term(value).strip() else TRUE

    def kind_text(self, spec, op, value) -> Q:
        if spec.name == "company":
            # A subquery, not a join: a lead without a company has the name "", and a
            # condition stays two-valued under NOT.
            if op == "empty":
                companies = Company.objects.filter(pk=OuterRef("company_id")).exclude(name="")
                return ~Q(Exists(companies))
            matching = Company.objects.filter(
                _text_lookup(F("name"), op, value), pk=OuterRef("company_id")
            )
            return Q(Exists(matching))
        if op == "empty":
            return Q(**{spec.column: ""})
        return Q(_text_lookup(F(spec.column), op, value))

    def kind_choice(self, spec, op, value) -> Q:
        if op == "empty":
            return Q(**{spec.column: ""})
        values = value if op == "in" else [value]
        return (
            Q(**{f"{spec.column}__in": values})
            if len(values) > 1
            else Q(**{spec.column: values[0]})
        )

    def kind_number(self, spec, op, value) -> Q:
        # Scores are whole numbers, and Django would truncate 50.5 to 50 for an integer
        # column: round each bound the way that keeps the comparison exact instead.
        column = spec.column
        if op == "between":
            return Q(
                **{f"{column}__gte": math.ceil(value[0]), f"{column}__lte": math.floor(value[1])}
            )
        if op == "is":
            return Q(**{column: value}) if value == int(value) else FALSE
        bound = {"gt": math.floor, "gte": math.ceil, "lt": math.ceil, "lte": math.floor}[op](value)
        return Q(**{f"{column}__{op}": bound})

    def kind_datetime(self, spec, op, value) -> Q:
        if op == "empty":
            return Q(**{f"{spec.column}__isnull": True})
        return _within(spec.column, *self.moment_range(op, value))

    def kind_date(self, spec, op, value) -> Q:
        if op == "empty":
            return Q(**{f"{spec.column}__isnull": True})
        return _within(spec.column, *self.day_range(op, value))

    def kind_boolean(self, spec, op, value) -> Q:
        return Q(**{spec.column: value})

    def kind_owner(self, spec, op, value) -> Q:
        if op == "empty":
            return Q(owner__isnull=True)
        return Q(owner_id=value) & Q(owner__isnull=False)

    def kind_tags(self, spec, op, value) -> Q:
        through = Lead.tags.through
        return Q(Exists(through.objects.filter(lead_id=OuterRef("pk"), tag_id=value)))

    def kind_segment(self, spec, op, value) -> Q:
        segment = self.segments().get(value)
        if segment is None or value in self.seen:
            return FALSE
        if segment.kind == SegmentKind.STATIC:
            return _members_of(value)
        # Same registry, segments and budget: a nested segment costs no extra queries.
        inner = Compiler(self.workspace, self.now, self.seen | {value}, registry=self.registry)
        inner.budget, inner._segments = self.budget, self._segments
        return inner.node(segment.rules or EMPTY_TREE)

    def segments(self) -> dict[int, Segment]:
        if self._segments is None:
            self._segments = {
                s.pk: s
                for s in Segment.objects.filter(workspace=self.workspace).only("kind", "rules")
            }
        return self._segments

    def kind_activity(self, spec, op, value) -> Q:
        # The workspace condition lets PostgreSQL read a time window's lead ids straight off
        # the covering indexes activity_ws_type_time_lead / activity_ws_time_lead.
        activities = Activity.objects.filter(workspace=self.workspace)
        if value["type"]:
            activities = activities.filter(type=value["type"])
        if value["url"]:
            activities = activities.filter(_text_lookup(F("url"), "contains", value["url"]))
        if value["days"] is not None:
            since = self.now - timedelta(days=value["days"])
            activities = activities.filter(occurred_at__gte=since)
        count = value.get("count", 1)
        if count == 1:
            return Q(Exists(activities.filter(lead_id=OuterRef("pk"))))
        # At least N: one uncorrelated grouped subquery over the workspace's matching
        # activities, hashed once, instead of counting each lead's activities in turn.
        counted = (
            activities.order_by()
            .values("lead_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=count)
            .values("lead_id")
        )
        return Q(pk__in=counted)

    def last_activity(self, activity_type: str, op: str, value) -> Q:
        """Conditions on the latest activity of a type, with EXISTS on the lead's activities.

        The latest time t lies in [low, high) ⇔ some activity lies in [low, high) and none
        lies at or after high.
        """
        activities = Activity.objects.filter(
            workspace=self.workspace, lead_id=OuterRef("pk"), type=activity_type
        )
        if op == "empty":
            return ~Q(Exists(activities))
        low, high = self.moment_range(op, value)
        within = activities
        if low is not None:
            within = within.filter(occurred_at__gte=low)
        if high is not None:
            within = within.filter(occurred_at__lt=high)
            return Q(Exists(within)) & ~Q(Exists(activities.filter(occurred_at__gte=high)))
        return Q(Exists(within))

    # Custom fields ---------------------------------------------------------------------------

    def custom(self, spec: FieldSpec, op: str, value: Any) -> Q:
        key = spec.custom_field.key
        present = Q(HasKey(F("attributes"), key))
        if op == "empty":
            if spec.kind == Kind.TEXT:
                return ~present | Q(Exact(KeyTextTransform(key, "attributes"), ""))
            return ~present
        if spec.kind == Kind.TEXT:
            text = AsciiLower(KeyTextTransform(key, "attributes"))
            return Q(JsonTypeIs(key, "string")) & Q(_text_lookup(text, op, value, folded=True))
        if spec.kind in (Kind.CHOICE, Kind.BOOLEAN):
            values = value if op == "in" else [value]
            condition = attribute_equals(key, values[0])
            for item in values[1:]:
                condition |= attribute_equals(key, item)
            # SQLite's json_extract() of a missing key is NULL: `present` keeps it false.
            return present & condition
        if spec.kind == Kind.NUMBER:
            low, high, lookups = (
                (value[0], value[1], ("gte", "lte")) if op == "between" else (value, None, (op,))
            )
            condition = Q(JsonTypeIs(key, "number"))
            if op == "is":
                return condition & (_json_lookup(key, "exact", value))
            condition &= _json_lookup(key, lookups[0], low)
            if high is not None:
                condition &= _json_lookup(key, lookups[1], high)
            return condition
        # Dates are stored as "YYYY-MM-DD": ISO strings order like the dates they name.
        low, high = self.day_range(op, value)
        condition = Q(JsonTypeIs(key, "string"))
        if low is not None:
            condition &= _json_lookup(key, "gte", low.isoformat())
        if high is not None:
            condition &= _json_lookup(key, "lt", high.isoformat())
        return condition

    # Time ----------------------------------------------------------------------------------

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def day_range(self, op: str, value: Any) -> tuple[date | None, date | None]:
        """[low, high) in days for a date condition; None is open."""
        if op == "less_than_days_ago":
            return _days_before(self.today, value), None
        if op == "more_than_days_ago":
            return None, _days_before(self.today, value)
        if op == "between":
            return date.fromisoformat(value[0]), _next_day(date.fromisoformat(value[1]))
        day = date.fromisoformat(value)
        if op == "on":
            return day, _next_day(day)
        if op == "before":
            return None, day
        if op == "after":
            return _next_day(day), None
        raise AssertionError(op)  # pragma: no cover

    def moment_range(self, op: str, value: Any) -> tuple[datetime | None, datetime | None]:
        """[low, high) in time for a datetime condition; None is open."""
        if op == "less_than_days_ago":
            return self.now - timedelta(days=value), None
        if op == "more_than_days_ago":
            return None, self.now - timedelta(days=value)
        low, high = self.day_range(op, value)
        return (
            self.day_start(low) if low is not None else None,
            self.day_start(high) if high is not None else None,
        )


def _days_before(day: date, days: int) -> date:
    try:
        return day - timedelta(days=days)
    except OverflowError:
        return date.min


def _next_day(day: date) -> date | None:
    """The day after, or None (open) after the calendar's last day."""
    return None if day == date.max else day + timedelta(days=1)


def _within(column: str, low, high) -> Q:
    """low <= column < high (either end may be open); never true for NULL."""
    condition = Q(**{f"{column}__isnull": False})
    if low is not None:
        condition &= Q(**{f"{column}__gte": low})
    if high is not None:
        condition &= Q(**{f"{column}__lt": high})
    return condition


def _text_lookup(lhs, op: str, value: str, *, folded: bool = False):
    """fold(lhs) is / contains / starts with fold(value)."""
    lhs = lhs if folded else AsciiLower(lhs)
    lookup = {"is": Exact, "contains": Contains, "starts_with": StartsWith}[op]
    return lookup(lhs, ascii_fold(value))


def _json_lookup(key: str, lookup: str, value: Any) -> Q:
    """attributes.key <lookup> value, typed by JSON (numbers as numbers, dates as ISO text).

    The explicit lookup keeps a key named like one ("lt", "contains") a key.
    """
    return Q(**{f"attributes__{key}__{lookup}": value})


def _members_of(segment_id: int) -> Q:
    """The lead is a member of the static segment."""
    members = SegmentMembership.objects.filter(segment_id=segment_id, lead_id=OuterRef("pk"))
    return Q(Exists(members))


def rules_condition(
    tree: dict,
    *,
    workspace: Workspace | int,
    now: datetime | None = None,
    registry: FieldRegistry | None = None,
) -> Q:
    """One condition on Lead for a clean tree (see rules_clean), at the frozen time `now`.

    A caller that already holds the workspace's field registry passes it (one query less).
    """
    return Compiler(workspace, now or timezone.now(), registry=registry).node(tree or EMPTY_TREE)


def segment_condition(segment: Segment, *, now: datetime | None = None) -> Q:
    """Membership of a static segment, or the rules of a dynamic one, as a condition on Lead."""
    if segment.kind == SegmentKind.STATIC:
        return _members_of(segment.pk)
    compiler = Compiler(segment.workspace_id, now or timezone.now(), frozenset({segment.pk}))
    return compiler.node(segment.rules or EMPTY_TREE)


def segment_leads(segment: Segment, *, now: datetime | None = None) -> QuerySet[Lead]:
    """The live leads in a segment, evaluated now (never a stale copy)."""
    return leads_for(segment.workspace_id).filter(segment_condition(segment, now=now))


def rules_count(
    tree: dict,
    *,
    workspace: Workspace | int,
    now: datetime | None = None,
    seen=frozenset(),
    registry: FieldRegistry | None = None,
) -> int:
    """How many live leads a clean tree matches: the exact count a preview shows.

    The same leads as leads_for(workspace).filter(rules_condition(tree, …)), counted as a
    sum over disjoint parts where that lets PostgreSQL use joins (Compiler.disjoint_parts).
    """
    compiler = Compiler(workspace, now or timezone.now(), seen, registry=registry)
    leads = leads_for(workspace)
    return sum(leads.filter(part).count() for part in compiler.disjoint_parts(tree or EMPTY_TREE))


def segment_count(segment: Segment, *, now: datetime | None = None) -> int:
    """How many live leads are in a segment now."""
    if segment.kind == SegmentKind.STATIC:
        return segment_leads(segment).count()
    return rules_count(
        segment.rules or EMPTY_TREE,
        workspace=segment.workspace_id,
        now=now,
        seen=frozenset({segment.pk}),
    )
