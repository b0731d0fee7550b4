"""The leads pages' filter set: contacts' LeadFilterSet plus what needs segments.

contacts must not import segments (apps depend downward), so the segment membership filter
(L2) and the query language in the search box (L3, PRODUCT 10) are added here. The list, the
kanban, bulk "all matching" and export all build it with pipeline.views.lead_filterset.
"""

from dataclasses import dataclass
from datetime import datetime

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from contacts.filters import LeadFilterSet, as_id
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
        return queryset.filter(rules_condition(tree, workspace=self.workspace, now=self.now))

    def filter_segment(self, queryset: QuerySet, name: str, segment: Segment) -> QuerySet:
        segment_touch(segment=segment, now=self.now)  # "last used" on the segments list
        return queryset.filter(segment_condition(segment, now=self.now))
