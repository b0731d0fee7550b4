"""One raw file row → the values it will store, or every problem with it (PRODUCT I2–I4).

The cleaner applies the same normalisers as contacts.services (email, phone, country,
custom-field cleaners), so an imported value means what a typed one means. Blank cells
never clear a value: a spreadsheet's empty cell says "unknown", not "erase".
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from contacts.custom_fields import CLEANERS
from contacts.importing.targets import CUSTOM_PREFIX, NEW_FIELD, SKIP, TARGETS_BY_KEY, Kind
from contacts.models import (
    ConsentStatus,
    ConsentType,
    CustomField,
    CustomFieldType,
    EmailStatus,
    LeadStatus,
)
from contacts.normalize import country_normalize, email_normalize, phone_normalize

CONSENT_KEYS = ("consent_status", "consent_type", "consent_source", "consent_proof", "gdpr_basis")
# Google Contacts writes labels as "* myContacts ::: Friends"; "* myContacts" is not a label.
_LIST_SPLIT = re.compile(r"[;,\n]+|:::")
_EMAILS_SPLIT = re.compile(r"[;,\s]+")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})\Z")
_SLASHED_ISO = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})\Z")
_url_validate = URLValidator(schemes=["http", "https"])
# The last four digits of a phone number, with the separators around them.
_PHONE_TAIL = re.compile(r"^(.*?)(\d)(\D*)(\d)(\D*)(\d)(\D*)(\d)(\D*)\Z", re.DOTALL)
# Addresses of this plain shape are valid for Django's validator too (dot-atom local part,
# ASCII labels, alphabetic TLD), so they skip it; anything else goes through email_normalize.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.ASCII,
)


def email_clean(text: str) -> str:
    """email_normalize(), with a fast path for plain addresses (most of a file)."""
    email = text.lower()
    if len(email) <= 254 and _PLAIN_EMAIL.fullmatch(email):
        return email
    return email_normalize(text)


@dataclass(slots=True)
class CleanRow:
    """A row as it will be stored. Only the cells that held something are here.

    Slots and `as_tuple` keep it cheap: a million of them are built, and a large file's
    cross a pipe from the reading process (reading.py).
    """

    row_number: int
    email: str
    values: list[str]  # the raw cells, for the error report
    fields: dict[str, Any] = field(default_factory=dict)  # plain Lead fields
    secondary_emails: list[str] = field(default_factory=list)
    company: str = ""
    owner_id: int | None = None
    owner_given: bool = False
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, str] = field(default_factory=dict)

    def as_tuple(self) -> tuple:
        """The fields in order: CleanRow(*row.as_tuple()) is the same row."""
        return tuple(getattr(self, name) for name in self.__slots__)

    @property
    def unsubscribes(self) -> bool:
        """The row says this person opted out: honoured, never reversed (I5)."""
        return (
            self.fields.get("status") == LeadStatus.UNSUBSCRIBED
            or self.fields.get("email_status") == EmailStatus.UNSUBSCRIBED
            or self.consent.get("consent_status") == ConsentStatus.OPTED_OUT
        )


@dataclass
class RowProblem:
    column: str  # the file's header ("" for the row as a whole)
    reason: str


class RowInvalid(Exception):
    def __init__(self, row_number: int, values: list[str], problems: list[RowProblem]):
        self.row_number = row_number
        self.values = values
        self.problems = problems
        super().__init__("; ".join(f"{p.column}: {p.reason}" for p in problems))


def _choice_lookup(choices) -> dict[str, str]:
    lookup = {}
    for value, label in choices:
        lookup[value.casefold()] = value
        lookup[str(label).casefold()] = value
        lookup[value.replace("_", " ").casefold()] = value
    return lookup


def date_parse(text: str) -> date:
    """ISO dates, plus the two unambiguous spellings spreadsheets use (2025/03/31, 31.03.2025)."""
    value = text.strip()
    try:
        if match := _DOTTED_DATE.match(value):
            return date(int(match[3]), int(match[2]), int(match[1]))
        if match := _SLASHED_ISO.match(value):
            return date(int(match[1]), int(match[2]), int(match[3]))
        return date.fromisoformat(value[:10] if "T" in value else value)
    except ValueError:
        raise ValidationError(
            f"“{value[:40]}” is not a date we can read; use YYYY-MM-DD, like 2025-03-31."
        ) from None


def name_split(full: str) -> tuple[str, str]:
    """ "Ada Lovelace" → (Ada, Lovelace); "Lovelace, Ada" → (Ada, Lovelace); "Cher" → (Cher, "")."""
    full = " ".join(full.split())
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    first, _, last = full.rpartition(" ")
    return (first, last) if first else (last, "")


class RowCleaner:
    """Cleans rows for one import. Built once per run: lookups are cached across rows."""

    def __init__(
        self,
        *,
        headers: list[str],
        mapping: list[str],
        custom_fields: list[CustomField],
        members: dict[str, int],
        defaults: dict[str, Any] | None = None,
    ):
        self.headers = headers
        self.custom = {f.key: f for f in custom_fields}
        self.members = members  # casefolded email or full name → user id
        self.defaults = defaults or {}
        # (column index, header, target key, kind)
        self.columns: list[tuple[int, str, str, Kind]] = []
        for index, key in enumerate(mapping):
            if key in (SKIP, None) or index >= len(headers):
                continue
            if key.startswith(CUSTOM_PREFIX):
                if key.removeprefix(CUSTOM_PREFIX) not in self.custom:
                    raise ValueError(f"Unknown custom field {key!r}")
                kind = Kind.CUSTOM
            elif key == NEW_FIELD:
                raise ValueError("New fields are created before cleaning; map them as cf.<key>")
            else:
                kind = TARGETS_BY_KEY[key].kind
            self.columns.append((index, headers[index], key, kind))
        self._choices = {
            key: _choice_lookup(target.choices)
            for key, target in TARGETS_BY_KEY.items()
            if target.kind == Kind.CHOICE
        }
        self._countries: dict[str, str] = {}
        self._phones: dict[tuple, str | ValidationError] = {}
        self.handlers = [
            (i, header, self._handler(key, kind)) for i, header, key, kind in self.columns
        ]
        self.email_header = self._header_of("email") or "Email"

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> "RowCleaner":
        """A cleaner from plain data (what a reading process receives)."""
        custom = [CustomField(**field) for field in args["custom_fields"]]
        return cls(
            headers=args["headers"],
            mapping=args["mapping"],
            custom_fields=custom,
            members=args["members"],
            defaults=args["defaults"],
        )

    # -- helpers with caches
    def _country(self, value: str) -> str:
        try:
            return self._countries[value]
        except KeyError:
            result = self._countries[value] = country_normalize(value)
            return result

    def _choice(self, key: str, value: str) -> str:
        found = self._choices[key].get(" ".join(value.split()).casefold())
        if found is None:
            labels = ", ".join(label for _, label in TARGETS_BY_KEY[key].choices)
            raise ValidationError(f"“{value[:40]}” is not one of: {labels}.")
        return found

    def owner_id(self, value: str) -> int:
        found = self.members.get(" ".join(value.split()).casefold())
        if found is None:
            raise ValidationError(f"No member “{value[:60]}” in this workspace (use their email).")
        return found

    def _phone(self, text: str, country: str) -> str:
        """phone_normalize, with parses shared by numbers that differ only in their last
        four digits (a number's validity and shape never depend on them): a million
        numbers cost a few thousand parses instead of a million."""
        tail = _PHONE_TAIL.match(text)
        if tail is None:
            return phone_normalize(text, country)
        key = (country, tail[1], tail[3], tail[5], tail[7], tail[9])
        digits = tail[2] + tail[4] + tail[6] + tail[8]
        cached = self._phones.get(key)
        if cached is None:
            try:
                result = phone_normalize(text, country)
            except ValidationError as error:
                self._phones[key] = error
                raise
            if result.endswith(digits) and len(self._phones) < 100_000:
                self._phones[key] = result[: -len(digits)]
            return result
        if isinstance(cached, ValidationError):
            raise ValidationError(f"“{text[:40]}” is not a phone number we can read.")
        return cached + digits

    def _handler(self, key: str, kind: Kind):
        """The function that stores one non-blank cell of this column on the row."""
        target = "consent" if key in CONSENT_KEYS else "fields"

        def store(row, pending, value):
            getattr(row, target)[key] = value

        if kind == Kind.EMAIL:

            def handle(row, pending, text):
                row.email = email_clean(text)
        elif kind == Kind.EMAILS:

            def handle(row, pending, text):
                emails = []
                for part in _EMAILS_SPLIT.split(text):
                    if part and (email := email_clean(part)) not in emails:
                        emails.append(email)
                row.secondary_emails = emails
        elif kind == Kind.PHONE:

            def handle(row, pending, text):
                pending.setdefault("phones", []).append((key, text))  # needs the row's country
        elif kind == Kind.COUNTRY:

            def handle(row, pending, text):
                row.fields["country"] = pending["country"] = self._country(text)
        elif kind == Kind.NAME:

            def handle(row, pending, text):
                pending["full_name"] = text
        elif kind == Kind.CHOICE:

            def handle(row, pending, text):
                store(row, pending, self._choice(key, text))
        elif kind == Kind.OWNER:

            def handle(row, pending, text):
                row.owner_id = self.owner_id(text)
                row.owner_given = True
        elif kind == Kind.COMPANY:

            def handle(row, pending, text):
                row.company = self._text(text, 200)
        elif kind == Kind.TAGS:

            def handle(row, pending, text):
                names = (" ".join(part.split()) for part in _LIST_SPLIT.split(text))
                row.tags = [name for name in names if name and not name.startswith("* ")]
                if any(len(n) > 60 for n in row.tags):
                    raise ValidationError("A tag can have at most 60 characters.")
        elif kind == Kind.DATE:

            def handle(row, pending, text):
                row.fields[key] = date_parse(text)
        elif kind == Kind.BOOLEAN:

            def handle(row, pending, text):
                row.fields[key] = CLEANERS[CustomFieldType.BOOLEAN](text, None)
        elif kind == Kind.URL:
            max_length = TARGETS_BY_KEY[key].max_length

            def handle(row, pending, text):
                url = text if "://" in text else "https://" + text
                _url_validate(url)
                row.fields[key] = self._text(url, max_length)
        elif kind == Kind.CUSTOM:
            custom = self.custom[key.removeprefix(CUSTOM_PREFIX)]
            cleaner = CLEANERS[custom.type]

            def handle(row, pending, text):
                row.attributes[custom.key] = cleaner(text, custom)
        elif kind == Kind.LONG_TEXT:

            def handle(row, pending, text):
                store(row, pending, self._text(text, 10_000, collapse=False))
        else:
            max_length = TARGETS_BY_KEY[key].max_length

            def handle(row, pending, text):
                store(row, pending, self._text(text, max_length))

        return handle

    # -- one row
    def clean(self, row_number: int, values: list[str]) -> CleanRow:
        """The row's CleanRow; RowInvalid lists every problem of the row at once."""
        problems: list[RowProblem] = []
        width = len(self.headers)
        if len(values) > width and any(v.strip() for v in values[width:]):
            problems.append(
                RowProblem(
                    "",
                    f"The row has {len(values)} cells but the header only {width}: a "
                    "delimiter or quote is probably out of place.",
                )
            )
        row = CleanRow(row_number, "", values, {}, [], "", None, False, [], {}, {})
        pending: dict[str, Any] = {}
        for index, header, handle in self.handlers:
            text = values[index].strip() if index < len(values) else ""
            if text:
                try:
                    handle(row, pending, text)
                except ValidationError as error:
                    problems.append(RowProblem(header, " ".join(error.messages)))
        if pending:
            self._finish(row, pending, problems)
        if not row.email and not any(p.column == self.email_header for p in problems):
            problems.append(RowProblem(self.email_header, "No email address."))
        status = row.consent.get("consent_status")
        if status:
            self._consent_check(row, status, problems)
        if problems:
            raise RowInvalid(row_number, values, problems)
        return row

    def _finish(self, row: CleanRow, pending: dict, problems: list[RowProblem]) -> None:
        """What needs the whole row: the name split, phones (they need the country)."""
        if "full_name" in pending:
            first, last = name_split(pending["full_name"])
            # "Cher" gives no last name: a part the cell lacks is blank, and never clears one.
            if first:
                row.fields.setdefault("first_name", first[:100])
            if last:
                row.fields.setdefault("last_name", last[:100])
        country = pending.get("country") or self.defaults.get("country", "")
        for key, text in pending.get("phones", ()):
            try:
                row.fields[key] = self._phone(text, country)
            except ValidationError as error:
                problems.append(RowProblem(self._header_of(key), " ".join(error.messages)))

    def _consent_check(self, row: CleanRow, status: str, problems: list[RowProblem]) -> None:
        if status == ConsentStatus.OPTED_IN and not (
            row.consent.get("consent_source") or self.defaults.get("consent_source")
        ):
            problems.append(
                RowProblem(
                    self._header_of("consent_status"),
                    "Opted In needs a consent source (a column or the default).",
                )
            )
        if not row.consent.get("consent_type") and status != ConsentStatus.UNKNOWN:
            row.consent["consent_type"] = ConsentType.IMPORTED

    @staticmethod
    def _text(text: str, max_length: int, *, collapse: bool = True) -> str:
        if "\x00" in text:
            raise ValidationError("Text cannot contain null characters.")
        value = text
        # The checks skip the work for the usual cell: printable (no tab or newline), single
        # spaces, ASCII (already NFC).
        if collapse and ("  " in value or not value.isprintable()):
            value = " ".join(value.split())
        if not value.isascii():
            value = unicodedata.normalize("NFC", value)
        if max_length and len(value) > max_length:
            raise ValidationError(
                f"Use at most {max_length:,} characters (this has {len(value):,})."
            )
        return value

    def _header_of(self, key: str) -> str:
        return next((h for _, h, k, _ in self.columns if k == key), "")
