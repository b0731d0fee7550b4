"""Forms of Pipeline → Import (PRODUCT I1–I3): the shape of the input; jobs.py keeps the rules."""

from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BoundField

from contacts.importing.targets import NEW_FIELD, SKIP, TARGETS_BY_KEY, Target
from contacts.models import (
    ConsentStatus,
    CustomFieldType,
    ImportJob,
    ImportMode,
    LeadStatus,
)
from leadcrm.models import Membership
from leadcrm.uploads import RefusableUploadForm

# What a browser offers to pick; the content decides the kind (sources.source_detect).
ACCEPT = ".csv,.tsv,.txt,.xlsx,.vcf,.vcard"
# Values an import refuses as defaults (jobs.defaults_clean): not offered at all.
REFUSED_DEFAULTS = {
    "status": {LeadStatus.UNSUBSCRIBED},
    "consent_status": {ConsentStatus.OPTED_OUT},
}
DEFAULT_CHOICE_FIELDS = ("status", "consent_status", "consent_type", "gdpr_basis")
SAMPLES_SHOWN = 3


class ImportUploadForm(RefusableUploadForm):
    file = forms.FileField(
        label="File",
        required=False,  # a refused upload arrives as no file: clean_file says which it was
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
        error_messages={"empty": "The file is empty."},
    )

    def clean_file(self):
        upload = super().clean_file()
        if not upload:
            raise ValidationError("Choose a file to import.")
        return upload


def target_choices(targets: list[Target]) -> list:
    """Skip, the targets grouped by Target.group (rendered as <optgroup>s), a new field."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for target in targets:
        groups.setdefault(target.group, []).append((target.key, target.label))
    return [(SKIP, "Don't import"), *groups.items(), (NEW_FIELD, "New custom field…")]


def _default_choices(key: str) -> list[tuple[str, str]]:
    refused = REFUSED_DEFAULTS.get(key, set())
    return [
        ("", "—"),
        *((v, label) for v, label in TARGETS_BY_KEY[key].choices if v not in refused),
    ]


@dataclass
class Column:
    """One file column on the mapping form: its header, a few values and its inputs."""

    index: int
    header: str
    samples: list[str]
    target: BoundField
    new_key: BoundField
    new_label: BoundField
    new_type: BoundField
    new_choices: BoundField


class ImportMappingForm(forms.Form):
    """Columns (col_<i> and the new_<i>_… inputs), the defaults, the mode and the confirmation.

    Defaults keep the names jobs.import_configure reports errors under, so its ValidationError
    lands next to the right field.
    """

    status = forms.ChoiceField(label="Status", required=False)
    source = forms.CharField(label="Source", max_length=100, required=False)
    owner = forms.ChoiceField(label="Owner", required=False)
    tags = forms.CharField(
        label="Tags", required=False, max_length=1000, help_text="Separated by commas."
    )
    consent_status = forms.ChoiceField(label="Consent status", required=False)
    consent_type = forms.ChoiceField(label="Consent type", required=False)
    consent_source = forms.CharField(label="Consent source", max_length=200, required=False)
    gdpr_basis = forms.ChoiceField(label="GDPR basis", required=False)
    mode = forms.ChoiceField(
        label="What the import does",
        choices=ImportMode.choices,
        widget=forms.RadioSelect,
        help_text="Existing leads are matched by email (secondary emails too), ignoring case.",
    )
    fill_blanks = forms.BooleanField(
        label="Fill blanks only (never overwrite a value)", required=False
    )
    opt_in_confirmed = forms.BooleanField(
        label="I confirm these people gave their consent", required=False
    )

    def __init__(
        self,
        data=None,
        *,
        job: ImportJob,
        targets: list[Target],
        members: list[Membership],
        samples: list[tuple[int, list[str]]],
    ):
        super().__init__(data, initial=self._initial(job))
        self.job = job
        for key in DEFAULT_CHOICE_FIELDS:
            self.fields[key].choices = _default_choices(key)
        self.fields["owner"].choices = [
            ("", "—"),
            *((str(m.user_id), m.user.display_name) for m in members),
        ]
        choices = target_choices(targets)
        type_choices = [(t.value, t.label) for t in CustomFieldType]
        for index, header in enumerate(job.headers):
            label = header or f"Column {index + 1}"
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=label,
                choices=choices,
                required=False,
                # imports.js: "new" reveals the column's new-field inputs
                widget=forms.Select(attrs={"data-column-target": index, "data-header": label}),
            )
            self.fields[f"new_{index}_key"] = forms.CharField(
                label="Key",
                max_length=50,
                required=False,
                widget=forms.TextInput(attrs={"data-new-key": "", "autocomplete": "off"}),
            )
            self.fields[f"new_{index}_label"] = forms.CharField(
                label="Label",
                max_length=100,
                required=False,
                widget=forms.TextInput(attrs={"data-new-label": ""}),
            )
            self.fields[f"new_{index}_type"] = forms.ChoiceField(
                label="Type",
                choices=type_choices,
                required=False,
                widget=forms.Select(attrs={"data-new-type": ""}),
            )
            self.fields[f"new_{index}_choices"] = forms.CharField(
                label="Choices", max_length=2000, required=False, help_text="Separated by commas."
            )
        self.samples = samples

    @staticmethod
    def _initial(job: ImportJob) -> dict:
        defaults = job.defaults
        initial = {
            key: defaults.get(key, "")
            for key in (*DEFAULT_CHOICE_FIELDS, "source", "consent_source")
        }
        initial["owner"] = str(defaults["owner_id"]) if defaults.get("owner_id") else ""
        initial["tags"] = ", ".join(defaults.get("tags", []))
        initial.update(mode=job.mode, fill_blanks=job.fill_blanks)
        initial["opt_in_confirmed"] = job.opt_in_confirmed
        for index, key in enumerate(job.mapping):
            initial[f"col_{index}"] = key
        for index, spec in job.new_fields.items():
            initial[f"col_{index}"] = NEW_FIELD
            for name in ("key", "label", "type"):
                initial[f"new_{index}_{name}"] = spec.get(name, "")
            initial[f"new_{index}_choices"] = ", ".join(spec.get("choices", []))
        return initial

    @property
    def columns(self) -> list[Column]:
        columns = []
        for index, header in enumerate(self.job.headers):
            values = [row[index] for _, row in self.samples if index < len(row)]
            samples = [v for v in values if v.strip()][:SAMPLES_SHOWN]
            bound = [self[f"new_{index}_{name}"] for name in ("key", "label", "type", "choices")]
            columns.append(Column(index, header, samples, self[f"col_{index}"], *bound))
        return columns

    @property
    def defaults_fields(self) -> list[BoundField]:
        names = ("status", "source", "owner", "tags", "consent_status", "consent_type")
        return [self[name] for name in (*names, "consent_source", "gdpr_basis")]

    def _value(self, name: str) -> str:
        value = self[name].value()
        return "" if value is None else str(value)

    @property
    def needs_opt_in(self) -> bool:
        """Seed 003's warning: as chosen now (submitted, or the job's saved settings)."""
        mapped = {self._value(f"col_{i}") for i in range(len(self.job.headers))}
        return self._value("consent_status") == ConsentStatus.OPTED_IN or (
            "consent_status" in mapped
        )

    def configuration(self) -> dict:
        """Keyword arguments of jobs.import_configure, from the cleaned data."""
        data = self.cleaned_data
        count = len(self.job.headers)
        mapping = [data[f"col_{i}"] for i in range(count)]
        new_fields = {
            str(i): {name: data[f"new_{i}_{name}"] for name in ("key", "label", "type", "choices")}
            for i in range(count)
            if mapping[i] == NEW_FIELD
        }
        defaults = {
            key: data[key]
            for key in (*DEFAULT_CHOICE_FIELDS, "source", "owner", "tags", "consent_source")
        }
        return {
            "mapping": mapping,
            "new_fields": new_fields,
            "defaults": defaults,
            "mode": data["mode"],
            "fill_blanks": data["fill_blanks"],
            "opt_in_confirmed": data["opt_in_confirmed"],
        }

    def add_service_error(self, error: ValidationError) -> None:
        """Put import_configure's ValidationError on the fields it names (others on top)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, messages in error.message_dict.items():
            self.add_error(name if name in self.fields else None, messages)
