"""The lead table (PRODUCT L1), shared by the leads list, the company page and segments.

django-tables2 owns the columns, headers, sorting and pagination; the body's cells are
rendered by templatetags/lead_cells.py. Sortable columns sort on indexed columns with the id
as tie-breaker, so any page of any sort is an index scan.
"""

from collections.abc import Iterable

import django_tables2 as tables

from contacts.models import CustomField, CustomFieldType, Lead

DEFAULT_COLUMNS = ["name", "email", "company", "status", "score", "owner", "last_activity_at"]


class CustomFieldColumn(tables.Column):
    def __init__(self, field: CustomField, **kwargs):
        self.custom_field = field
        super().__init__(
            verbose_name=field.label,
            accessor=tables.A(f"attributes__{field.key}"),
            orderable=False,
            empty_values=(None, ""),
            **kwargs,
        )


class LeadTable(tables.Table):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {
                "aria-label": "Select all on this page",
                "data-select-page": "",
                "class": "form-check-input",
            },
            "td__input": {"name": "lead", "form": "bulk-form", "aria-label": "Select lead"},
        },
        orderable=False,
        exclude_from_export=True,
    )
    name = tables.Column(
        verbose_name="Name",
        accessor="last_name",
        order_by=("last_name", "first_name", "id"),
    )
    email = tables.Column(order_by=("email", "id"))
    company = tables.Column(accessor="company__name", verbose_name="Company", orderable=False)
    status = tables.Column(order_by=("status", "-score", "-id"))
    email_status = tables.Column(verbose_name="Email status", orderable=False)
    score = tables.Column(order_by=("score", "id"))
    # Served by the (workspace, -quality_score, -id) index.
    quality_score = tables.Column(verbose_name="Quality", order_by=("quality_score", "id"))
    owner = tables.Column(accessor="owner__display_name", verbose_name="Owner", orderable=False)
    source = tables.Column(orderable=False)
    tags = tables.Column(accessor="pk", verbose_name="Tags", orderable=False)
    job_title = tables.Column(verbose_name="Job title", orderable=False)
    phone = tables.Column(orderable=False)
    country = tables.Column(orderable=False)
    consent_status = tables.Column(verbose_name="Consent", orderable=False)
    created_at = tables.DateTimeColumn(
        verbose_name="Created", format="Y-m-d", order_by=("created_at", "id")
    )
    last_activity_at = tables.DateTimeColumn(
        verbose_name="Last activity", format="Y-m-d", order_by=("last_activity_at", "id")
    )
    last_contacted_at = tables.DateTimeColumn(
        verbose_name="Last contacted", format="Y-m-d", order_by=("last_contacted_at", "id")
    )

    class Meta:
        model = Lead
        fields: list[str] = []
        template_name = "contacts/lead_table.html"
        attrs = {"class": "table table-hover align-middle mb-0 lead-table"}
        order_by = ("-created_at",)
        empty_text = "No leads match."


STANDARD_COLUMNS = [name for name in LeadTable.base_columns if name != "select"]


def column_choices(custom_fields: Iterable[CustomField]) -> list[tuple[str, str]]:
    """(key, label) of every column a member may show: standard ones, then custom fields."""
    standard = [(name, LeadTable.base_columns[name].verbose_name) for name in STANDARD_COLUMNS]
    return [*standard, *[(f"cf.{f.key}", f.label) for f in custom_fields]]


def lead_table(
    leads,
    *,
    columns: list[str],
    custom_fields: Iterable[CustomField],
    selectable: bool,
    htmx_target: str = "#lead-results",
    **kwargs,
) -> LeadTable:
    """A LeadTable showing `columns` in that order (unknown keys are ignored)."""
    custom_fields = list(custom_fields)
    by_key = {f"cf.{f.key}": f for f in custom_fields}
    shown = visible_columns(columns, custom_fields)
    extra = [(key, CustomFieldColumn(by_key[key])) for key in shown if key in by_key]
    sequence = (["select"] if selectable else []) + shown
    exclude = [name for name in LeadTable.base_columns if name not in sequence]
    # Meta.order_by is dropped when its column is hidden: the queryset keeps the default.
    leads = leads.order_by("-created_at", "-id")
    table = LeadTable(leads, extra_columns=extra, sequence=sequence, exclude=exclude, **kwargs)
    # What templatetags/lead_cells.py needs to render the body without tables2's per-cell work.
    table.cell_names = sequence
    table.htmx_target = htmx_target  # what sorting and paging links swap
    table.boolean_keys = frozenset(
        f.key for f in by_key.values() if f.type == CustomFieldType.BOOLEAN
    )
    return table


def visible_columns(columns: list[str], custom_fields: Iterable[CustomField]) -> list[str]:
    """The column keys a table shows for a saved choice: known keys only, else the default."""
    custom = {f"cf.{f.key}" for f in custom_fields}
    return [c for c in columns if c in STANDARD_COLUMNS or c in custom] or DEFAULT_COLUMNS
