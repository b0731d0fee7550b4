from django import template
from django.forms import BoundField, CheckboxInput, RadioSelect, Select, SelectMultiple

register = template.Library()


@register.filter
def bootstrap(field: BoundField) -> str:
    """Render a form field's widget with Bootstrap 5 classes, marked invalid when it has errors."""
    widget = field.field.widget
    if isinstance(widget, (CheckboxInput, RadioSelect)):  # also CheckboxSelectMultiple
        css = "form-check-input"
    elif isinstance(widget, (Select, SelectMultiple)) and not isinstance(widget, RadioSelect):
        css = "form-select"
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    return field.as_widget(attrs={"class": css})


@register.filter
def page_numbers(paginator, number: int) -> list[int | None]:
    """Page numbers around the current one, from a BoundedPaginator (None marks a gap)."""
    return paginator.page_range_around(number)
