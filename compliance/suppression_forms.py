"""Forms of Settings → Suppression list (PRODUCT C4): add addresses, remove one by typing it."""

from django import forms

from compliance.forms import AddressListForm
from contacts.models import SuppressionReason

# What a member may add by hand; Unsubscribed and Erased (GDPR) entries come from those events.
ADDABLE_REASONS = [
    (reason.value, reason.label)
    for reason in (SuppressionReason.MANUAL, SuppressionReason.BOUNCED, SuppressionReason.COMPLAINT)
]


class SuppressionAddForm(AddressListForm):
    reason = forms.ChoiceField(
        choices=ADDABLE_REASONS, initial=SuppressionReason.MANUAL, required=False
    )
    field_order = ["addresses", "file", "reason"]

    def clean_reason(self) -> str:
        return self.cleaned_data.get("reason") or SuppressionReason.MANUAL

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["addresses"].label = "Addresses"
        self.fields["file"].label = "And/or a file of addresses"


class SuppressionRemoveForm(forms.Form):
    email = forms.EmailField(
        label="Email address to remove",
        max_length=254,
        help_text="Only hashes are stored: type the address to find its entry.",
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
