"""The shapes of Settings → Scoring's input; contacts.scoring_settings keeps the rules."""

from django import forms

from contacts.models import ActivityType, ScoringRule, ScoringSettings
from contacts.scoring_settings import POINTS_LIMIT, SOURCE_MAX_LENGTH, URL_CONTAINS_MAX_LENGTH

POINTS_MESSAGE = f"Points go from −{POINTS_LIMIT} to {POINTS_LIMIT}."
WEIGHT_MESSAGE = "Use a weight from 0 to 100."
WHOLE_NUMBER = "Enter a whole number."


def _weight_field(**kwargs) -> forms.IntegerField:
    messages = {"min_value": WEIGHT_MESSAGE, "max_value": WEIGHT_MESSAGE, "invalid": WHOLE_NUMBER}
    return forms.IntegerField(min_value=0, max_value=100, error_messages=messages, **kwargs)


class ScoringRuleForm(forms.Form):
    activity_type = forms.ChoiceField(label="Activity", choices=ActivityType.choices)
    url_contains = forms.CharField(
        label="URL contains",
        required=False,
        max_length=URL_CONTAINS_MAX_LENGTH,
        error_messages={"max_length": f"Use at most {URL_CONTAINS_MAX_LENGTH} characters."},
        help_text="Optional, like <code>/pricing</code>. Only for Page Visited, Email Clicked "
        "and Form Submit.",
    )
    points = forms.IntegerField(
        required=False,
        min_value=-POINTS_LIMIT,
        max_value=POINTS_LIMIT,
        error_messages={
            "min_value": POINTS_MESSAGE,
            "max_value": POINTS_MESSAGE,
            "invalid": "Enter a whole number, like 20 or -50.",
        },
        help_text=f"−{POINTS_LIMIT} to {POINTS_LIMIT}, not 0.",
    )
    resets = forms.BooleanField(required=False, label="Reset score to 0 instead")

    def __init__(self, *args, rule: ScoringRule | None = None, **kwargs):
        if rule is not None:
            kwargs.setdefault(
                "initial",
                {
                    "activity_type": rule.activity_type,
                    "url_contains": rule.url_contains,
                    "points": None if rule.resets else rule.points,
                    "resets": rule.resets,
                },
            )
        super().__init__(*args, **kwargs)


class SourceWeightForm(forms.Form):
    """One row of the source weights table; a row left blank is ignored."""

    source = forms.CharField(
        required=False,
        max_length=SOURCE_MAX_LENGTH,
        error_messages={"max_length": f"Use at most {SOURCE_MAX_LENGTH} characters."},
        widget=forms.TextInput(attrs={"aria-label": "Source", "placeholder": "Source name"}),
    )
    weight = _weight_field(
        required=False, widget=forms.NumberInput(attrs={"aria-label": "Weight (0–100)"})
    )


SourceWeightFormSet = forms.formset_factory(SourceWeightForm, extra=3, can_delete=True)


class OtherWeightsForm(forms.Form):
    other_source_weight = _weight_field(
        label="Any other source",
        widget=forms.NumberInput(attrs={"aria-label": "Weight of any other source"}),
    )
    no_source_weight = _weight_field(
        label="No source", widget=forms.NumberInput(attrs={"aria-label": "Weight of no source"})
    )


def source_weight_forms(
    settings: ScoringSettings, data=None
) -> tuple[forms.BaseFormSet, OtherWeightsForm]:
    """The table's rows and its last two lines, bound to `data` or showing `settings`."""
    formset = SourceWeightFormSet(data, initial=settings.source_weights, prefix="source")
    form = OtherWeightsForm(
        data,
        initial={
            "other_source_weight": settings.other_source_weight,
            "no_source_weight": settings.no_source_weight,
        },
    )
    return formset, form


def source_weights_from(formset: forms.BaseFormSet) -> list[dict]:
    """The rows kept: neither ticked for removal nor left blank."""
    rows = []
    for form in formset:
        data = form.cleaned_data
        if data.get("DELETE") or (not data.get("source") and data.get("weight") is None):
            continue
        rows.append({"source": data.get("source", ""), "weight": data.get("weight")})
    return rows
