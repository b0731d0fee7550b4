"""The Unsubscribes page's filters and sort (PRODUCT C3), all GET parameters.

Built on compliance.unsubscribes.unsubscribes_for(workspace): rows are opt-out ConsentEvents.
Every filter is a condition on the event or on its one lead, so none repeats a row; the search
is the leads list's (the lead's case-folded search_text, trigram-indexed on PostgreSQL).
"""

import django_filters
from django.db.models import Q, QuerySet
from django.http import QueryDict

from compliance.unsubscribes import unsubscribes_for
from contacts.filters import (
    CHECKBOXES,
    DATE_RANGE,
    MAX_SEARCH_WORDS,
    ME,
    NOBODY,
    as_id,
    owner_choices,
)
from contacts.models import Channel, ConsentEvent
from contacts.normalize import search_term
from leadcrm.models import User, Workspace

# sort value → the order it stands for; the id last, so every page has one stable order.
SORTS: dict[str, tuple[str, ...]] = {
    "when": ("occurred_at", "pk"),
    "name": ("lead__last_name", "lead__first_name", "lead_id"),
    "email": ("lead__email", "lead_id"),
}
DEFAULT_SORT = "-when"
LEAD_SORTS = {"name", "email"}
LEAD_FILTERS = ("q", "owner")
SORT_CHOICES = [(f"{sign}{key}", f"{sign}{key}") for key in SORTS for sign in ("", "-")]


def sort_order(value: str) -> tuple[str, ...]:
    """The order_by() arguments of a sort value such as "-when"."""
    key = value.removeprefix("-")
    if value.startswith("-"):
        return tuple(f"-{field}" for field in SORTS[key])
    return SORTS[key]


class UnsubscribeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    how = django_filters.MultipleChoiceFilter(
        field_name="channel", distinct=False, choices=Channel.choices, widget=CHECKBOXES
    )
    # From the first moment of the "after" day to the last of the "before" day, in the site's
    # time zone: a range on occurred_at itself, which the index orders.
    unsubscribed = django_filters.DateFromToRangeFilter(
        field_name="occurred_at", label="Unsubscribed", widget=DATE_RANGE
    )
    owner = django_filters.ChoiceFilter(method="filter_owner", label="Owner", empty_label="Anyone")
    sort = django_filters.ChoiceFilter(method="filter_sort", choices=SORT_CHOICES)

    class Meta:
        model = ConsentEvent
        fields: list[str] = []

    def __init__(self, data=None, *args, workspace: Workspace, user: User, **kwargs):
        self.user = user
        super().__init__(data, *args, **kwargs)
        self.filters["owner"].extra["choices"] = owner_choices(workspace)

    # django-filter passes (queryset, name, value) to method filters, for non-empty values.
    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        words = list(dict.fromkeys(w for w in search_term(value).split(" ") if w))
        condition = Q()
        for word in words[:MAX_SEARCH_WORDS]:
            condition &= Q(lead__search_text__contains=word)
        return queryset.filter(condition)

    def filter_owner(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ME:
            return queryset.filter(lead__owner=self.user)
        if value == NOBODY:
            return queryset.filter(lead__owner__isnull=True)
        return queryset.filter(lead__owner_id=as_id(value))

    def filter_sort(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*sort_order(value))

    @property
    def current_sort(self) -> str:
        """The sort in effect: the one asked for if valid, else newest first."""
        self.is_valid()  # cleans the form; an unknown sort is left out of cleaned_data
        return self.form.cleaned_data.get("sort") or DEFAULT_SORT


def unsubscribe_filterset(
    data: QueryDict, *, workspace: Workspace, user: User
) -> UnsubscribeFilterSet:
    """The filter set on the workspace's unsubscribes, in the shape that reads fastest: joined
    to the leads when a filter or the sort reads their columns (see unsubscribes_for)."""
    sort = (data.get("sort") or "").removeprefix("-")
    join_lead = sort in LEAD_SORTS or any((data.get(name) or "").strip() for name in LEAD_FILTERS)
    return UnsubscribeFilterSet(
        data,
        queryset=unsubscribes_for(workspace, join_lead=join_lead),
        workspace=workspace,
        user=user,
    )
