"""Forms of GDPR erasure (PRODUCT C6): a data-subject request's list, a lead-list selection.

The list form reads its addresses (upload and box) only once every other field is right, so a
refused form has read nothing; the addresses then exist only in `cleaned_data["emails"]`,
which the view hands straight to erasure_request_create().
"""

import re

from django import forms
from django.core.exceptions import ValidationError

from compliance.forms import AddressListForm
from contacts.filters import as_id

CONFIRM_WORD = "ERASE"
REFERENCE_HELP = (
    "A ticket or case number, e.g. DSR-2026-117. It is kept with the request: never type a "
    "name or an email address here."
)


class ErasureListForm(AddressListForm):
    reference = forms.CharField(
        max_length=200, required=False, label="Reference (optional)", help_text=REFERENCE_HELP
    )
    confirm = forms.BooleanField(
        label="I understand erased leads cannot be recovered",
        error_messages={"required": "Tick the box to confirm that erased leads are gone for good."},
    )
    field_order = ["reference", "file", "addresses", "confirm"]


class SelectionEraseForm(forms.Form):
    """The lead list's selection (as its bulk bar posts it) and, on the confirmation page, the
    typed confirmation: the number of leads, or ERASE."""

    all_matching = forms.BooleanField(required=False)
    query = forms.CharField(required=False)
    reference = forms.CharField(
        max_length=200, required=False, label="Reference (optional)", help_text=REFERENCE_HELP
    )
    confirmation = forms.CharField(max_length=20, required=False, label="Confirmation")

    def clean(self):
        data = super().clean()
        # Row checkboxes: any whole numbers; the view keeps only this workspace's leads.
        ids = (as_id(value) for value in self.data.getlist("lead"))
        data["lead_ids"] = [pk for pk in ids if pk is not None]
        if not data.get("all_matching") and not data["lead_ids"]:
            raise ValidationError("Select at least one lead to erase.")
        return data

    def confirms(self, count: int) -> bool:
        """Whether ERASE or `count` was typed (1,204 and 1 204 count too); else says why."""
        typed = (self.cleaned_data.get("confirmation") or "").strip()
        if typed.upper() == CONFIRM_WORD or re.sub(r"[\s,.]", "", typed) == str(count):
            return True
        self.add_error(
            "confirmation",
            f"Type {count:,} (the number of leads selected) or {CONFIRM_WORD} to confirm."
            if typed
            else f"Type {count:,} or {CONFIRM_WORD} to confirm the erasure.",
        )
        return False
