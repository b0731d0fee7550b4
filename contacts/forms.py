from django import forms

from contacts.models import CustomField, CustomFieldType

CHOICES_HELP = "One choice per line. Only for fields of type Choice."


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class CustomFieldCreateForm(forms.Form):
    """The shape of the input; contacts.custom_fields.custom_field_create() keeps the rules."""

    label = forms.CharField(max_length=100)
    key = forms.CharField(
        max_length=50,
        help_text="Lowercase letters, digits and underscores, like <code>annual_budget</code>. "
        "Used in filters, imports and the API; it cannot change later.",
    )
    type = forms.ChoiceField(choices=CustomFieldType.choices)
    choices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text=CHOICES_HELP
    )
    required = forms.BooleanField(required=False, label="Required on every lead")

    def clean_choices(self) -> list[str]:
        return _lines(self.cleaned_data["choices"])


class CustomFieldEditForm(forms.Form):
    label = forms.CharField(max_length=100)
    choices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="One choice per line. A choice that leads still use cannot be removed.",
    )
    required = forms.BooleanField(
        required=False,
        label="Required on every lead",
        help_text="Applies whenever a lead is saved from now on; existing leads keep their "
        "values (or lack of one) until then.",
    )

    def __init__(self, *args, field: CustomField, **kwargs):
        kwargs.setdefault(
            "initial",
            {"label": field.label, "choices": "\n".join(field.choices), "required": field.required},
        )
        super().__init__(*args, **kwargs)
        if field.type != CustomFieldType.CHOICE:
            del self.fields["choices"]

    def clean_choices(self) -> list[str]:
        return _lines(self.cleaned_data["choices"])


class CustomFieldMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class CustomFieldDeleteForm(forms.Form):
    confirm_key = forms.CharField(label="Type the field's key to confirm", max_length=50)

    def __init__(self, *args, field: CustomField, **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_field = field

    def clean_confirm_key(self) -> str:
        typed = self.cleaned_data["confirm_key"].strip()
        if typed != self.custom_field.key:
            key = self.custom_field.key
            raise forms.ValidationError(f"Type “{key}” exactly to delete this field.")
        return typed
