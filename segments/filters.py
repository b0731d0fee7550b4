"""The segments list's filters: search by name, type, state, and retired hidden by default."""

import django_filters
from django import forms
from django.db.models import QuerySet

from segments.models import Segment, SegmentKind, SegmentState


class SegmentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="name",
        lookup_expr="icontains",
        label="Search segments",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search by name"}),
    )
    kind = django_filters.ChoiceFilter(
        choices=SegmentKind.choices, empty_label="Any type", label="Type"
    )
    state = django_filters.ChoiceFilter(
        choices=SegmentState.choices, empty_label="Any state", label="State"
    )
    retired = django_filters.BooleanFilter(
        method="filter_retired", widget=forms.CheckboxInput, label="Show retired"
    )

    class Meta:
        model = Segment
        fields: list[str] = []

    def filter_retired(self, queryset: QuerySet[Segment], name: str, value: bool):
        return queryset  # applied in filter_queryset, which also sees the state asked for

    def filter_queryset(self, queryset: QuerySet[Segment]) -> QuerySet[Segment]:
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if not data.get("retired") and not data.get("state"):
            queryset = queryset.exclude(state=SegmentState.RETIRED)  # hidden by default (G3)
        return queryset
