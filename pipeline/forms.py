"""Forms of the lead page (PRODUCT L7): the shape of the input; the services keep the rules."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.models import ActivityType, ConsentStatus, ConsentType, GdprBasis, Lead
from contacts.normalize import country_normalize
from pipeline.edit_forms import STALE_FORM

# What a person logs by hand; every other activity type comes from the product itself.
LOGGABLE_TYPES = (ActivityType.CALL, ActivityType.MEETING, ActivityType.NOTE)


def errors_add(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields (unknown keys go on the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


class ActivityLogForm(forms.Form):
    type = forms.ChoiceField(
        choices=[(t.value, t.label) for t in LOGGABLE_TYPES],
        initial=ActivityType.CALL,
        widget=forms.RadioSelect,
    )
    subject = forms.CharField(max_length=300, required=False)
    # Kept exactly as typed: a note is the rep's own words.
    body = forms.CharField(
        label="Notes", widget=forms.Textarea(attrs={"rows": 3}), required=False, strip=False
    )
    occurred_at = forms.DateTimeField(
        label="When",
        required=False,
        help_text="Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "log_%s")  # unique ids beside the consent form
        super().__init__(*args, **kwargs)

    def clean_occurred_at(self):
        occurred_at = self.cleaned_data["occurred_at"]
        if occurred_at and occurred_at > timezone.now():
            raise ValidationError("That is in the future; log what has happened.")
        return occurred_at

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("subject") and not (cleaned.get("body") or "").strip():
            raise ValidationError("Say what happened: a subject or some notes.")
        return cleaned


def _optional(choices) -> list[tuple[str, str]]:
    return [("", "—"), *choices]


class ConsentForm(forms.Form):
    status = forms.ChoiceField(label="Email permission", choices=ConsentStatus.choices)
    type = forms.ChoiceField(choices=_optional(ConsentType.choices), required=False)
    source = forms.CharField(
        label="Consent source",
        max_length=200,
        required=False,
        help_text="Where it comes from, like “Signed up at the Berlin fair”.",
    )
    proof = forms.CharField(
        label="Consent proof note",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Needed to opt a lead in again after they unsubscribed.",
    )
    gdpr_basis = forms.ChoiceField(
        label="GDPR basis", choices=_optional(GdprBasis.choices), required=False
    )
    country = forms.CharField(
        max_length=60, required=False, help_text="Where consent was given: a name or a code."
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "consent_%s")
        super().__init__(*args, **kwargs)

    def clean_country(self) -> str:
        return country_normalize(self.cleaned_data["country"])


BANT_FIELDS = ("bant_budget", "bant_authority", "bant_need", "bant_timeline")


def _bant_field(name: str, label: str, **kwargs) -> forms.Field:
    """The Lead field's form field (its length limit) under the card's short label."""
    return Lead._meta.get_field(name).formfield(required=False, label=label, **kwargs)


class BantForm(forms.Form):
    """The lead page's Qualification (BANT) card in edit mode (PRODUCT A6)."""

    bant_budget = _bant_field("bant_budget", "Budget")
    bant_authority = _bant_field("bant_authority", "Authority")
    bant_need = _bant_field("bant_need", "Need", widget=forms.Textarea(attrs={"rows": 2}))
    bant_timeline = _bant_field("bant_timeline", "Timeline")
    # The lead's version when the form was shown: lead_update() refuses a stale one.
    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages=dict.fromkeys(["required", "invalid", "min_value"], STALE_FORM),
    )

    def __init__(self, *args, lead: Lead, **kwargs):
        kwargs.setdefault("auto_id", "bant_%s")  # unique ids beside the page's other forms
        kwargs.setdefault("initial", {name: getattr(lead, name) for name in BANT_FIELDS})
        kwargs["initial"].setdefault("version", lead.version)
        super().__init__(*args, **kwargs)
        self.lead = lead

    def with_version(self, version: int) -> "BantForm":
        """The same typed values on a fresh version, so saving again overwrites (stale edit)."""
        data = self.data.copy()
        data["version"] = str(version)
        return BantForm(data, lead=self.lead)
