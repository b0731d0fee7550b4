"""The lead filter set (PRODUCT L2/L3), shared by the leads list, the kanban and exports.

No filter joins rows, so none adds DISTINCT (django-filter's default for multiple choices),
which would stop PostgreSQL from reading the first page straight off an index.

Always built on leads_for(workspace): FilterSet(request.GET, queryset=leads_for(ws), …).
Every filter compiles to a condition an index serves at a million leads (search: trigram on
PostgreSQL; custom-field equality: JSON containment, GIN-indexed).
"""

from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from contacts.custom_fields import CLEANERS, NUMBER_LIMIT, attribute_equals
from contacts.models import (
    ConsentStatus,
    CustomField,
    CustomFieldType,
    EmailStatus,
    Lead,
    LeadStatus,
    Tag,
    Tier,
)
from contacts.normalize import search_term
from leadcrm.models import Membership, User, Workspace

ME, NOBODY = "me", "none"


def owner_choices(workspace: Workspace) -> list[tuple[str, str]]:
    """An owner filter's choices: Me, Nobody, then the workspace's members by name."""
    members = (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )
    return [
        (ME, "Me"),
        (NOBODY, "Nobody"),
        *[(str(m.user_id), m.user.display_name) for m in members],
    ]


MAX_ID = 2**63 - 1  # a larger number is no row's id (and overflows the database's integers)


def as_id(text: str) -> int | None:
    """The row id a text names (ASCII digits that fit an id column), else None."""
    if text.isascii() and text.isdecimal() and len(text) <= 19 and int(text) <= MAX_ID:
        return int(text)
    return None


MAX_SEARCH_WORDS = 8
CHECKBOXES = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
DATE_INPUT = forms.DateInput(attrs={"type": "date"})
DATE_RANGE = django_filters.widgets.DateRangeWidget(attrs={"type": "date"})


def search_condition(text: str) -> Q:
    """Every word must appear in the lead's search text (name, email, company)."""
    condition = Q()
    words = list(dict.fromkeys(w for w in search_term(text).split(" ") if w))
    for word in words[:MAX_SEARCH_WORDS]:  # a bound on the query's size, whatever is typed
        condition &= Q(search_text__contains=word)
    return condition


class IdsField(django_filters.fields.ModelMultipleChoiceField):
    """Ids of rows; a number no id column can hold is an invalid choice, not a crash."""

    def _check_values(self, value):
        for pk in value:
            if as_id(str(pk)) is None:
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": pk},
                )
        return super()._check_values(value)


class IdsFilter(django_filters.ModelMultipleChoiceFilter):
    field_class = IdsField


class LeadFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    status = django_filters.MultipleChoiceFilter(
        distinct=False, choices=LeadStatus.choices, widget=CHECKBOXES
    )
    email_status = django_filters.MultipleChoiceFilter(
        distinct=False, choices=EmailStatus.choices, widget=CHECKBOXES
    )
    owner = django_filters.MultipleChoiceFilter(
        distinct=False, method="filter_owner", label="Owner"
    )
    company = django_filters.CharFilter(method="filter_company", label="Company")
    source = django_filters.CharFilter(field_name="source", lookup_expr="iexact")
    tags = IdsFilter(queryset=Tag.objects.none(), method="filter_tags", label="Tags")
    tags_all = django_filters.BooleanFilter(
        method="filter_noop", label="Match all tags", widget=forms.CheckboxInput
    )
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte", label="Score ≥")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte", label="Score ≤")
    quality_min = django_filters.NumberFilter(
        field_name="quality_score", lookup_expr="gte", label="Quality ≥"
    )
    quality_max = django_filters.NumberFilter(
        field_name="quality_score", lookup_expr="lte", label="Quality ≤"
    )
    tier = django_filters.MultipleChoiceFilter(
        distinct=False, choices=Tier.choices, widget=CHECKBOXES
    )
    consent_status = django_filters.MultipleChoiceFilter(
        distinct=False, choices=ConsentStatus.choices, label="Consent", widget=CHECKBOXES
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at__date", label="Created", widget=DATE_RANGE
    )
    last_contacted = django_filters.DateFromToRangeFilter(
        field_name="last_contacted_at__date", label="Last contacted", widget=DATE_RANGE
    )
    last_activity = django_filters.DateFromToRangeFilter(
        field_name="last_activity_at__date", label="Last activity", widget=DATE_RANGE
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    def __init__(self, data=None, *args, workspace: Workspace, user: User, **kwargs):
        self.workspace, self.user = workspace, user
        # Retired fields have no filter but may still be searched by key (query language).
        self.live_custom_fields = list(CustomField.objects.filter(workspace=workspace).live())
        self.custom_fields = [f for f in self.live_custom_fields if not f.is_retired]
        super().__init__(data, *args, **kwargs)
        self.filters["tags"].queryset = Tag.objects.filter(workspace=workspace).order_by("name")
        self.filters["owner"].extra["choices"] = owner_choices(workspace)
        for field in self.custom_fields:
            self.filters.update(custom_field_filters(field))

    # django-filter passes (queryset, name, value) to method filters.
    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(search_condition(value))

    def filter_owner(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        condition = Q()
        for value in values:
            if value == ME:
                condition |= Q(owner=self.user)
            elif value == NOBODY:
                condition |= Q(owner__isnull=True)
            else:
                condition |= Q(owner_id=int(value))
        return queryset.filter(condition)

    def filter_company(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value.isdecimal():
            pk = as_id(value)
            return queryset.filter(company_id=pk) if pk is not None else queryset.none()
        return queryset.filter(company__name__icontains=value.strip())

    def filter_tags(self, queryset: QuerySet, name: str, tags: list[Tag]) -> QuerySet:
        if not tags:
            return queryset
        through = Lead.tags.through
        if self.form.cleaned_data.get("tags_all"):
            for tag in tags:
                queryset = queryset.filter(
                    Exists(through.objects.filter(lead_id=OuterRef("pk"), tag_id=tag.pk))
                )
            return queryset
        return queryset.filter(
            Exists(through.objects.filter(lead_id=OuterRef("pk"), tag__in=list(tags)))
        )

    def filter_noop(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset  # read by filter_tags


def json_number(value: Decimal) -> int | float:
    """A number JSON can compare; past the range values may have, the range's edge does."""
    value = max(Decimal(-NUMBER_LIMIT), min(Decimal(NUMBER_LIMIT), value))
    return int(value) if value == value.to_integral_value() else float(value)


def custom_field_filters(field: CustomField) -> dict[str, django_filters.Filter]:
    """Filters fitting the field's type, named cf_<key>… in the URL."""
    key, label = field.key, field.label
    path = f"attributes__{key}"

    def equals(queryset, name, value):
        values = value if isinstance(value, list) else [value]
        condition = Q()
        for raw in values:
            try:
                cleaned = CLEANERS[field.type](raw, field)
            except ValidationError:
                return queryset.none()
            condition |= attribute_equals(key, cleaned)
        return queryset.filter(condition)

    def compare(lookup):
        def method(queryset, name, value):
            is_date = field.type == CustomFieldType.DATE
            value = value.isoformat() if is_date else json_number(value)
            return queryset.filter(**{f"{path}__{lookup}": value})

        return method

    if field.type == CustomFieldType.TEXT:
        return {
            f"cf_{key}": django_filters.CharFilter(
                field_name=path, lookup_expr="icontains", label=f"{label} contains"
            )
        }
    if field.type == CustomFieldType.NUMBER:
        return {
            f"cf_{key}_min": django_filters.NumberFilter(method=compare("gte"), label=f"{label} ≥"),
            f"cf_{key}_max": django_filters.NumberFilter(method=compare("lte"), label=f"{label} ≤"),
        }
    if field.type == CustomFieldType.DATE:
        return {
            f"cf_{key}_after": django_filters.DateFilter(
                method=compare("gte"), label=f"{label} from", widget=DATE_INPUT
            ),
            f"cf_{key}_before": django_filters.DateFilter(
                method=compare("lte"), label=f"{label} until", widget=DATE_INPUT
            ),
        }
    if field.type == CustomFieldType.BOOLEAN:
        return {
            f"cf_{key}": django_filters.ChoiceFilter(
                choices=[("yes", "Yes"), ("no", "No")],
                method=equals,
                label=label,
                empty_label="Any",
            )
        }
    return {
        f"cf_{key}": django_filters.MultipleChoiceFilter(
            distinct=False,
            choices=[(c, c) for c in field.choices],
            method=equals,
            label=label,
            widget=CHECKBOXES,
        )
    }
