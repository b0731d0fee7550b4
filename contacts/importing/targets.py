"""What an import column can be mapped to (PRODUCT I2).

A mapping is one target key per file column:
    ""            skip the column
    "email" …     a standard target below
    "cf.<key>"    an existing custom field of the workspace
    "new"         a new custom field, described in ImportJob.new_fields[column index]
"""

from dataclasses import dataclass
from enum import StrEnum

from contacts.models import (
    ConsentStatus,
    ConsentType,
    ContactRole,
    CustomField,
    EmailStatus,
    GdprBasis,
    LeadStatus,
)

SKIP = ""
NEW_FIELD = "new"
CUSTOM_PREFIX = "cf."


class Kind(StrEnum):
    EMAIL = "email"
    EMAILS = "emails"  # a list: separated by ; , or whitespace
    TEXT = "text"
    LONG_TEXT = "long_text"
    NAME = "name"  # a full name, split into first and last
    PHONE = "phone"
    COUNTRY = "country"
    CHOICE = "choice"
    DATE = "date"
    BOOLEAN = "boolean"
    OWNER = "owner"  # a member, by email or name
    COMPANY = "company"  # a company name, created when new
    TAGS = "tags"  # separated by ; or ,
    URL = "url"
    CUSTOM = "custom"  # a custom field: its own type decides


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    kind: Kind
    max_length: int = 0
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for CHOICE
    group: str = "Lead"
    # may be given a default for rows that leave it blank (I3)
    defaultable: bool = False


def _choices(enum) -> tuple[tuple[str, str], ...]:
    return tuple((value, str(label)) for value, label in enum.choices)


STANDARD_TARGETS: tuple[Target, ...] = (
    Target("email", "Email", Kind.EMAIL, 254),
    Target("secondary_emails", "Secondary emails", Kind.EMAILS),
    Target("full_name", "Full name", Kind.NAME, 201),
    Target("first_name", "First name", Kind.TEXT, 100),
    Target("last_name", "Last name", Kind.TEXT, 100),
    Target("phone", "Phone", Kind.PHONE, 32),
    Target("mobile", "Mobile", Kind.PHONE, 32),
    Target("job_title", "Job title", Kind.TEXT, 150),
    Target("department", "Department", Kind.TEXT, 100),
    Target("contact_role", "Contact role", Kind.CHOICE, choices=_choices(ContactRole)),
    Target("company", "Company", Kind.COMPANY, 200),
    Target("domain", "Domain", Kind.TEXT, 253),
    Target("source", "Source", Kind.TEXT, 100, defaultable=True),
    Target("owner", "Owner", Kind.OWNER, defaultable=True),
    Target("tags", "Tags", Kind.TAGS, defaultable=True),
    Target("linkedin_url", "LinkedIn URL", Kind.URL, 300),
    Target("twitter_handle", "Twitter handle", Kind.TEXT, 50),
    Target("street", "Street", Kind.TEXT, 200, group="Address"),
    Target("city", "City", Kind.TEXT, 100, group="Address"),
    Target("region", "Region", Kind.TEXT, 100, group="Address"),
    Target("postal_code", "Postal code", Kind.TEXT, 20, group="Address"),
    Target("country", "Country", Kind.COUNTRY, group="Address"),
    Target("timezone", "Timezone", Kind.TEXT, 64, group="Address"),
    Target("preferred_language", "Preferred language", Kind.TEXT, 35),
    Target("birthday", "Birthday", Kind.DATE),
    Target("status", "Status", Kind.CHOICE, choices=_choices(LeadStatus), defaultable=True),
    Target("email_status", "Email status", Kind.CHOICE, choices=_choices(EmailStatus)),
    Target("do_not_contact", "Do not contact", Kind.BOOLEAN),
    Target(
        "consent_status",
        "Consent status",
        Kind.CHOICE,
        choices=_choices(ConsentStatus),
        group="Consent",
        defaultable=True,
    ),
    Target(
        "consent_type",
        "Consent type",
        Kind.CHOICE,
        choices=_choices(ConsentType),
        group="Consent",
        defaultable=True,
    ),
    Target("consent_source", "Consent source", Kind.TEXT, 200, group="Consent", defaultable=True),
    Target("consent_proof", "Consent proof", Kind.LONG_TEXT, group="Consent"),
    Target(
        "gdpr_basis",
        "GDPR basis",
        Kind.CHOICE,
        choices=_choices(GdprBasis),
        group="Consent",
        defaultable=True,
    ),
    Target("bant_budget", "Budget (BANT)", Kind.TEXT, 200, group="Qualification"),
    Target("bant_authority", "Authority (BANT)", Kind.TEXT, 200, group="Qualification"),
    Target("bant_need", "Need (BANT)", Kind.LONG_TEXT, group="Qualification"),
    Target("bant_timeline", "Timeline (BANT)", Kind.TEXT, 200, group="Qualification"),
)
TARGETS_BY_KEY = {target.key: target for target in STANDARD_TARGETS}
DEFAULTABLE = tuple(target for target in STANDARD_TARGETS if target.defaultable)


def custom_target(field: CustomField) -> Target:
    return Target(CUSTOM_PREFIX + field.key, field.label, Kind.CUSTOM, group="Custom fields")


def targets_for(custom_fields: list[CustomField]) -> list[Target]:
    """Every target a column of this workspace's import may take (active custom fields only)."""
    custom = [custom_target(f) for f in custom_fields if not f.is_retired and not f.deleting]
    return [*STANDARD_TARGETS, *custom]
