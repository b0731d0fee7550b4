"""The leads pages' filter set: contacts' LeadFilterSet plus what needs segments.

contacts must not import segments (apps depend downward), so the segment membership filter
(L2) and the query language in the search box (L3, PRODUCT 10) are added here. The list, the
kanban, bulk "all matching" and export all build it with lead_list_filterset() (a page through
pipeline.views.lead_filterset; a background export as the member who asked for it).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.functions import Lower
from django.http import QueryDict
from django.utils import timezone

from contacts.filters import ME, NOBODY, LeadFilterSet, as_id, json_number
from contacts.models import Company, CustomField, CustomFieldType
from contacts.queries import leads_for
from leadcrm.models import Membership, User
from leadcrm.permissions import member_can
from segments.models import Segment, SegmentState
from segments.query import QueryError, is_plain_search, query_parse
from segments.rules import (
    FieldRegistry,
    referenced_segments,
    rules_condition,
    segment_condition,
)
from segments.services import segment_touch


@dataclass(frozen=True)
class QueryProblem:
    """A search that cannot be read: the message, and the text around the bad part."""

    message: str
    before: str
    token: str
    after: str

    @classmethod
    def of(cls, text: str, message: str, start: int, end: int) -> "QueryProblem":
        return cls(message, text[:start], text[start:end], text[end:])


class SegmentChoiceField(django_filters.fields.ModelChoiceField):
    """A segment of the workspace; retired ones say so; a non-id is an invalid choice."""

    def label_from_instance(self, segment: Segment) -> str:
        return segment.name + (" (retired)" if segment.state == SegmentState.RETIRED else "")

    def to_python(self, value):
        if value not in self.empty_values and as_id(str(value)) is None:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={}
            )
        return super().to_python(value)


class SegmentFilter(django_filters.ModelChoiceFilter):
    field_class = SegmentChoiceField


class LeadListFilterSet(LeadFilterSet):
    segment = SegmentFilter(
        queryset=Segment.objects.none(),
        method="filter_segment",
        label="Segment",
        empty_label="Any segment",
    )

    def __init__(self, data=None, *args, may_view_segments: bool = True, **kwargs):
        self.now: datetime = timezone.now()  # one "now" for every rule of this request
        self.query_tree: dict | None = None  # the search as a clean rule tree, once read
        self._query_problem: QueryProblem | None = None
        super().__init__(data, *args, **kwargs)
        if may_view_segments:
            retired_last = Case(
                When(state=SegmentState.RETIRED, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
            self.filters["segment"].queryset = Segment.objects.for_workspace(
                self.workspace
            ).order_by(retired_last, Lower("name"), "pk")
        else:
            del self.filters["segment"]
        self.may_view_segments = may_view_segments

    def applied_params(self) -> QueryDict:
        """The parameters this filter set read and could use: what it actually filtered by.

        A value it ignored (unreadable, or naming a segment, tag or member no longer there) is
        left out, so a background export can tell when its filters stopped applying.
        """
        applied = QueryDict(mutable=True)
        for name, field in self.form.fields.items():
            if name in self.errors:
                continue
            suffixes = getattr(field.widget, "suffixes", None)  # a range: name_after, …
            for param in [f"{name}_{suffix}" for suffix in suffixes] if suffixes else [name]:
                if param in self.data:
                    applied.setlist(param, self.data.getlist(param))
        return applied

    @property
    def query_problem(self) -> QueryProblem | None:
        """Why the search box's text could not be read (None when it could)."""
        _ = self.qs  # the search is read while filtering
        return self._query_problem

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            registry = FieldRegistry(self.workspace, custom_fields=self.live_custom_fields)
            tree = query_parse(value, workspace=self.workspace, user=self.user, registry=registry)
        except QueryError as error:
            self._query_problem = QueryProblem.of(value, error.message, error.start, error.end)
            return queryset.none()
        self.query_tree = tree
        if is_plain_search(tree):  # words only: the L3 search, as it always was
            words = tree["children"][0]["value"] if tree["children"] else ""
            return super().filter_q(queryset, name, words)
        if not self.may_view_segments and referenced_segments(tree):
            message = "Your role cannot see segments, so it cannot search by them."
            self._query_problem = QueryProblem.of(value, message, 0, len(value))
            return queryset.none()
        condition = rules_condition(tree, workspace=self.workspace, now=self.now, registry=registry)
        return queryset.filter(condition)

    def filter_segment(self, queryset: QuerySet, name: str, segment: Segment) -> QuerySet:
        segment_touch(segment=segment, now=self.now)  # "last used" on the segments list
        return queryset.filter(segment_condition(segment, now=self.now))

    # The list as rules ("Save as dynamic segment") ----------------------------------------------

    def as_rules(self) -> dict:
        """The search and every active filter as one rule tree, all ANDed, in the registry's
        names (docs/segment-rules.md); rules_clean still has to pass it. ValidationError when
        the search or a filter cannot be read."""
        problem = self.query_problem  # reads the search (and validates the form)
        if problem is not None:
            raise ValidationError(f"Fix the search first: {problem.message}")
        if self.form.errors:
            fields = ", ".join(self.form.errors)
            raise ValidationError(f"Fix the filters first (these could not be read: {fields}).")
        data = self.form.cleaned_data
        conditions: list[dict] = []
        tree = self.query_tree or {}
        if tree.get("match", "all") == "all":
            conditions.extend(tree.get("children", []))
        else:
            conditions.append(tree)
        for name in ("status", "email_status", "tier", "consent_status"):
            if data.get(name):
                conditions.append(_choice(name, data[name]))
        if data.get("owner"):
            conditions.append(_any([self._owner(value) for value in data["owner"]]))
        if data.get("company"):
            conditions.append(self._company(data["company"]))
        if data.get("source"):
            conditions.append({"field": "source", "op": "is", "value": data["source"]})
        if data.get("tags"):
            has = [{"field": "tag", "op": "has", "value": tag.pk} for tag in data["tags"]]
            conditions.extend(has if data.get("tags_all") else [_any(has)])
        for field, bound, op in (
            ("score", "score_min", "gte"),
            ("score", "score_max", "lte"),
            ("quality_score", "quality_min", "gte"),
            ("quality_score", "quality_max", "lte"),
        ):
            if data.get(bound) is not None:
                conditions.append({"field": field, "op": op, "value": _number(data[bound])})
        for name in ("created", "last_contacted", "last_activity"):
            days = data.get(name)
            if days:
                start, stop = (d.date() if d is not None else None for d in (days.start, days.stop))
                conditions.extend(_day_range(name, start, stop))
        for field in self.custom_fields:
            conditions.extend(self._custom(field, data))
        if data.get("segment") is not None:
            conditions.append({"field": "segment", "op": "in", "value": data["segment"].pk})
        return {"match": "all", "children": conditions}

    def _owner(self, value: str) -> dict:
        if value == ME:
            return {"field": "owner", "op": "is", "value": self.user.pk}
        if value == NOBODY:
            return {"field": "owner", "op": "empty"}
        return {"field": "owner", "op": "is", "value": int(value)}

    def _company(self, value: str) -> dict:
        if not value.isdecimal():
            return {"field": "company", "op": "contains", "value": value.strip()}
        # An id (the company page's link): that company's name, unique in the workspace.
        pk = as_id(value)
        name = (
            Company.objects.filter(workspace=self.workspace, pk=pk)
            .values_list("name", flat=True)
            .first()
            if pk is not None
            else None
        )
        return {"field": "company", "op": "is", "value": name} if name else _any([])

    def _custom(self, field: CustomField, data: dict) -> list[dict]:
        name, key = f"cf.{field.key}", f"cf_{field.key}"
        if field.type == CustomFieldType.TEXT:
            value = data.get(key)
            return [{"field": name, "op": "contains", "value": value}] if value else []
        if field.type == CustomFieldType.NUMBER:
            return [
                {"field": name, "op": op, "value": _number(json_number(data[bound]))}
                for bound, op in ((f"{key}_min", "gte"), (f"{key}_max", "lte"))
                if data.get(bound) is not None
            ]
        if field.type == CustomFieldType.DATE:
            return _day_range(name, data.get(f"{key}_after"), data.get(f"{key}_before"))
        if field.type == CustomFieldType.BOOLEAN:
            value = data.get(key)
            return [{"field": name, "op": "is", "value": value == "yes"}] if value else []
        values = data.get(key)
        return [_choice(name, values)] if values else []


def lead_list_filterset(data, *, membership: Membership, user: User) -> LeadListFilterSet:
    """The filter set on the workspace's live leads as this member sees them ("me", segments).

    One builder for the pages and for a background export, so both find the same leads. `user`
    is the membership's user, passed apart because a request already holds it.
    """
    return LeadListFilterSet(
        data,
        queryset=leads_for(membership.workspace).select_related("company", "owner"),
        workspace=membership.workspace,
        user=user,
        may_view_segments=member_can(membership, "leadcrm.view_segments"),
    )


def _choice(name: str, values: list[str]) -> dict:
    if len(values) == 1:
        return {"field": name, "op": "is", "value": values[0]}
    return {"field": name, "op": "in", "value": list(values)}


def _any(conditions: list[dict]) -> dict:
    """One condition stays itself; an empty "any" matches no lead."""
    if len(conditions) == 1:
        return conditions[0]
    return {"match": "any", "children": conditions}


def _number(value: Decimal | int | float) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _day_range(name: str, start: date | None, stop: date | None) -> list[dict]:
    """Days start..stop, both included, either open: what the panel's date ranges mean."""
    if start is None and stop is None:
        return []
    if start is not None and stop is not None:
        if start > stop:
            return [_any([])]  # the panel finds nothing either
        return [{"field": name, "op": "between", "value": [start.isoformat(), stop.isoformat()]}]
    conditions = []
    if start is not None and start > date.min:  # "after D" is from the day after D on
        conditions.append({"field": name, "op": "after", "value": _day(start, -1)})
    if stop is not None and stop < date.max:  # "before D" is up to the day before D
        conditions.append({"field": name, "op": "before", "value": _day(stop, 1)})
    if not conditions and name != "created":  # a bound at the calendar's edge: any date
        conditions.append({"field": name, "op": "not_empty"})
    return conditions


def _day(day: date, shift: int) -> str:
    return (day + timedelta(days=shift)).isoformat()
