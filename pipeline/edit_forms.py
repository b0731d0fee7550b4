"""The Add / Edit lead form (PRODUCT L6).

The form checks the shape of the input (lengths, types, choices, custom field values); the
lead services normalise and keep the rules (email/phone/country normalising, duplicates,
consent). Their ValidationErrors come back onto the fields with add_service_error().
"""

from datetime import date
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError

from contacts.custom_fields import TEXT_MAX_LENGTH, attributes_clean
from contacts.models import ContactRole, CustomField, CustomFieldType, Lead
from contacts.normalize import country_normalize, phone_normalize
from contacts.queries import leads_for
from leadcrm.models import User, Workspace

CUSTOM_PREFIX = "cf_"  # form names of custom fields; no standard field starts with it
TAG_MAX_LENGTH = 60
STALE_FORM = "This form is out of date: reload the page and make your changes again."
BOOLEAN_CHOICES = [("", "—"), ("yes", "Yes"), ("no", "No")]

# (legend, field names) in the order the form shows them; custom fields follow.
GROUPS = [
    (
        "Contact",
        [
            "email",
            "first_name",
            "last_name",
            "phone",
            "mobile",
            "job_title",
            "department",
            "contact_role",
            "secondary_emails",
        ],
    ),
    ("Company", ["company", "domain"]),
    ("Pipeline", ["status", "email_status", "source", "owner", "tags"]),
    ("Address", ["street", "city", "region", "postal_code", "country"]),
    ("Social", ["linkedin_url", "twitter_handle"]),
    ("Qualification (BANT)", ["bant_budget", "bant_authority", "bant_timeline", "bant_need"]),
    ("Other", ["timezone", "preferred_language", "birthday"]),
]
WIDE_FIELDS = {"secondary_emails", "street", "bant_need"}

# Names a stale-edit message may name that are not fields of this form.
OTHER_LABELS = {
    "attributes": "Custom fields",
    "do_not_contact": "Do not contact",
    "consent_status": "Consent status",
    "consent_type": "Consent type",
    "consent_source": "Consent source",
    "consent_proof": "Consent proof",
}


@cache
def _timezones() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def _model_field(name: str, **kwargs) -> forms.Field:
    """The form field Django would make for the Lead field (length limits, choices, label)."""
    return Lead._meta.get_field(name).formfield(**kwargs)


def _text(name: str, **kwargs) -> forms.CharField:
    return _model_field(name, required=False, **kwargs)


def _custom_field(field: CustomField) -> forms.Field:
    """One form field per active custom field, typed by its type (PRODUCT W5)."""
    # Numbers and dates stay text here: attributes_clean() gives the messages import gives.
    label = f"{field.label} (required)" if field.required else field.label
    options: dict[str, Any] = {"label": label, "required": field.required}
    if field.type == CustomFieldType.NUMBER:
        return forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}), **options)
    if field.type == CustomFieldType.DATE:
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **options)
    if field.type == CustomFieldType.BOOLEAN:
        return forms.ChoiceField(choices=BOOLEAN_CHOICES, **options)
    if field.type == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *[(c, c) for c in field.choices]], **options)
    return forms.CharField(max_length=TEXT_MAX_LENGTH, **options)


def _custom_initial(field: CustomField, value: Any) -> Any:
    if field.type == CustomFieldType.BOOLEAN and isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class LeadForm(forms.Form):
    email = forms.EmailField(max_length=254)
    first_name = _text("first_name")
    last_name = _text("last_name")
    phone = forms.CharField(
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
        help_text="Stored as +14155550100 when it has a country code or the country is known.",
    )
    mobile = forms.CharField(
        max_length=40, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    job_title = _text("job_title")
    department = _text("department")
    contact_role = forms.ChoiceField(
        choices=[("", "—"), *ContactRole.choices], required=False, label="Contact role"
    )
    secondary_emails = forms.CharField(
        required=False,
        max_length=2000,
        label="Other emails",
        help_text="Separate addresses with commas.",
    )
    company = forms.CharField(
        max_length=200,
        required=False,
        label="Company name",
        help_text="An existing company of that name is reused; a new name creates one.",
    )
    domain = forms.CharField(
        max_length=253,
        required=False,
        help_text="Left empty, it is taken from the email (except free-mail addresses).",
    )
    status = _model_field("status")
    email_status = _model_field("email_status")
    source = _text("source")
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    tags = forms.CharField(
        max_length=2000, required=False, help_text="Separate tags with commas, like vip, webinar."
    )
    street = _text("street")
    city = _text("city")
    region = _text("region")
    postal_code = _text("postal_code")
    country = forms.CharField(
        max_length=60,
        required=False,
        help_text="A name or an ISO code: “United States”, “USA” and “US” all give US.",
    )
    linkedin_url = forms.URLField(
        max_length=300, required=False, label="LinkedIn URL", assume_scheme="https"
    )
    twitter_handle = _text("twitter_handle")
    bant_budget = _text("bant_budget", label="Budget")
    bant_authority = _text("bant_authority", label="Authority")
    bant_need = _text("bant_need", label="Need", widget=forms.Textarea(attrs={"rows": 2}))
    bant_timeline = _text("bant_timeline", label="Timeline")
    timezone = _text("timezone", label="Time zone", help_text="Like Europe/Berlin.")
    preferred_language = _text("preferred_language")
    birthday = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, workspace: Workspace, lead: Lead | None = None, **kwargs):
        self.workspace = workspace
        self.lead = lead
        self.custom_fields = list(CustomField.objects.for_workspace(workspace).active())
        if lead is not None:
            kwargs["initial"] = {**self._initial_from(lead), **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(
            memberships__workspace=workspace
        ).order_by("full_name", "email")
        self.fields["owner"].label_from_instance = lambda user: user.display_name
        for field in self.custom_fields:
            self.fields[CUSTOM_PREFIX + field.key] = _custom_field(field)
        if lead is not None:
            self.fields["version"] = forms.IntegerField(
                widget=forms.HiddenInput,
                min_value=1,
                error_messages=dict.fromkeys(["required", "invalid", "min_value"], STALE_FORM),
            )
        # Set by add_service_error() when the email belongs to another lead.
        self.email_conflict: Lead | None = None

    def _initial_from(self, lead: Lead) -> dict[str, Any]:
        special = {"owner", "company", "secondary_emails", "tags"}
        initial = {name: getattr(lead, name) for name in self.base_fields if name not in special}
        initial.update(
            owner=lead.owner_id,
            company=lead.company.name if lead.company_id else "",
            secondary_emails=", ".join(lead.secondary_emails),
            tags=", ".join(sorted(lead.tags.values_list("name", flat=True))),
            version=lead.version,
        )
        for field in self.custom_fields:
            value = lead.attributes.get(field.key)
            initial[CUSTOM_PREFIX + field.key] = _custom_initial(field, value)
        return initial

    # Validation ----------------------------------------------------------------------------

    def clean_secondary_emails(self) -> list[str]:
        return _names(self.cleaned_data["secondary_emails"])

    def clean_tags(self) -> list[str]:
        names = _names(self.cleaned_data["tags"])
        too_long = [name for name in names if len(name) > TAG_MAX_LENGTH]
        if too_long:
            raise ValidationError(
                f"A tag has at most {TAG_MAX_LENGTH} characters; “{too_long[0][:30]}…” is longer."
            )
        return names

    # Country and phones are normalised again by the services; checking them here shows
    # their errors together with the form's own.
    def clean_country(self) -> str:
        return country_normalize(self.cleaned_data["country"])

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        if value and value.casefold() not in _timezones():
            raise ValidationError("Use a time zone name like Europe/Berlin or America/New_York.")
        return _timezones().get(value.casefold(), "")

    def clean_birthday(self) -> date | None:
        birthday = self.cleaned_data["birthday"]
        if birthday and not date(1900, 1, 1) <= birthday <= date.today():
            raise ValidationError("Enter a birthday between 1900 and today.")
        return birthday

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "country" in cleaned:
            for name in ("phone", "mobile"):
                if cleaned.get(name):
                    try:
                        cleaned[name] = phone_normalize(cleaned[name], cleaned["country"])
                    except ValidationError as error:
                        self.add_error(name, error)
        # The values the form found well-formed, checked against the definitions; a required
        # field left blank already has the form's own error.
        values = {
            key: value
            for key, value in self.custom_values().items()
            if CUSTOM_PREFIX + key not in self.errors
        }
        try:
            attributes_clean(
                workspace=self.workspace,
                values=values,
                partial=True,
                definitions=self.custom_fields,
            )
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                self.add_error(CUSTOM_PREFIX + key, messages)
        return cleaned

    def custom_values(self) -> dict[str, Any]:
        """Custom field values by key, as typed ("" clears a value)."""
        return {f.key: self.cleaned_data.get(CUSTOM_PREFIX + f.key, "") for f in self.custom_fields}

    def service_values(self) -> dict[str, Any]:
        """Keyword arguments for lead_create() / lead_update()."""
        values = {name: self.cleaned_data[name] for name in self.base_fields}
        if not values["domain"] and not (self.lead and self.lead.domain):
            del values["domain"]  # left empty: the service derives it from the (new) email
        values["attributes"] = self.custom_values()
        return values

    def add_service_error(self, error: ValidationError) -> None:
        """Put a service's ValidationError on the fields it names, else at the top."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, errors in error.error_dict.items():
            target = name if name in self.base_fields else CUSTOM_PREFIX + name
            if target not in self.fields:
                self.add_error(None, [f"{name}: {message}" for e in errors for message in e])
                continue
            for item in errors:
                if name == "email" and item.code in ("duplicate", "in_trash"):
                    self.email_conflict = self._conflicting_lead(item.params["lead_id"])
                self.add_error(target, item)

    def _conflicting_lead(self, lead_id: int) -> Lead | None:
        return leads_for(self.workspace, include_deleted=True).filter(pk=lead_id).first()

    # Display -------------------------------------------------------------------------------

    @property
    def has_required_custom_fields(self) -> bool:
        return any(field.required for field in self.custom_fields)

    def groups(self) -> list[tuple[str, list[tuple[forms.BoundField, bool]]]]:
        """(legend, [(bound field, wide?)]) for the template."""
        groups = [
            (legend, [(self[name], name in WIDE_FIELDS) for name in names])
            for legend, names in GROUPS
        ]
        if self.custom_fields:
            custom = [(self[CUSTOM_PREFIX + f.key], False) for f in self.custom_fields]
            groups.append(("Custom fields", custom))
        return groups

    def with_version(self, version: int) -> "LeadForm":
        """The same typed values on a fresh version, so saving again overwrites (stale edit)."""
        data = self.data.copy()
        data["version"] = str(version)
        return LeadForm(data, workspace=self.workspace, lead=self.lead)

    def describe(self, lead: Lead, names: list[str]) -> list[tuple[str, str]]:
        """(label, the lead's current value) for each changed field of a stale edit."""
        described = []
        for name in names:
            if name == "attributes":
                for field in self.custom_fields:
                    value = lead.attributes.get(field.key)
                    described.append((field.label, _display(_custom_initial(field, value))))
            elif name in self.base_fields:
                described.append((self[name].label, _current(lead, name)))
            else:
                described.append((OTHER_LABELS.get(name, name), _current(lead, name)))
        return described


def _current(lead: Lead, name: str) -> str:
    if name == "tags":
        return ", ".join(sorted(lead.tags.values_list("name", flat=True))) or "—"
    if name == "owner":
        return lead.owner.display_name if lead.owner_id else "—"
    field = Lead._meta.get_field(name)
    if field.choices:
        return getattr(lead, f"get_{name}_display")() or "—"
    return _display(getattr(lead, name))


def _display(value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    if isinstance(value, bool):
        value = "Yes" if value else "No"
    return "—" if value in (None, "") else str(value)
