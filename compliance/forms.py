"""A list of addresses, uploaded and/or typed: the part the suppression list's and the GDPR
erasure's forms share.

The form reads its addresses only once every other field is right, so a refused form has read
nothing; they then exist only in `cleaned_data["emails"]` (normalised, once each, in first-seen
order), which the view hands to a service that hashes them or matches them to leads at once.
"""

from django import forms
from django.core.exceptions import ValidationError

from compliance.email_lists import MAX_ADDRESSES, emails_from_text, emails_from_upload
from leadcrm.uploads import RefusableUploadForm

# What a browser offers to pick; the content decides the kind (the import's readers).
ACCEPT = ".csv,.tsv,.txt,.xlsx,.vcf,.vcard"


class AddressListForm(RefusableUploadForm):
    file = forms.FileField(
        label="A file of addresses",
        required=False,  # a refused upload arrives as no file: clean_file says which it was
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
        help_text="CSV, Excel (.xlsx), vCard or plain text: every address in it counts.",
        error_messages={"empty": "The file is empty."},
    )
    addresses = forms.CharField(
        label="And/or addresses typed here",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "autocomplete": "off", "spellcheck": "false"}),
        help_text="One per line, or separated by commas, semicolons or spaces.",
    )

    def clean(self):
        data = super().clean()
        if self.errors:  # read no address until the rest is right
            return data
        emails: dict[str, None] = {}  # in first-seen order, once each
        data["not_addresses"] = 0
        for name, read in (("file", emails_from_upload), ("addresses", emails_from_text)):
            if not data.get(name):
                continue
            try:
                found = read(data[name])
            except ValidationError as error:
                self.add_error(name, error)
                return data
            emails.update(dict.fromkeys(found.emails))
            data["not_addresses"] += found.not_addresses
        if len(emails) > MAX_ADDRESSES:
            raise ValidationError(
                f"The file and the box hold more than {MAX_ADDRESSES:,} addresses together. "
                "Split them and send the parts one after the other."
            )
        if not emails:
            skipped = data["not_addresses"]
            raise ValidationError(
                "No email address was found: upload a file of addresses or type them in the box."
                + (f" {skipped:,} entries with an “@” are not valid addresses." if skipped else "")
            )
        data["emails"] = list(emails)
        return data
