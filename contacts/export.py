"""The one export service every export in the product reuses (PRODUCT L8, I8): CSV, XLSX, vCard.

Spreadsheet cells are neutralised against formula injection (OWASP "CSV injection"): text that
starts with `=`, `+`, `-`, `@`, tab, CR or LF gets a leading `'`, which our own import strips
again (`cell_unsafe`), so an export imports back unchanged. Numbers, dates and booleans are
values, not text, so they never get the prefix. vCard is not a spreadsheet: no prefix there.

Leads are read in pk-ordered chunks (keyset pagination), so memory stays flat for 1M leads.
"""

import csv
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import IO, Any, Literal
from urllib.parse import quote

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from contacts.models import CustomField, CustomFieldType, Lead, Tag
from leadcrm.models import Workspace

# Formula injection ----------------------------------------------------------------------------

TRIGGERS = frozenset("=+-@\t\r\n")
# Text that needs the quote: a trigger first, or quotes then a trigger. The second case keeps
# the round trip exact: "'=1" is exported as "''=1", and cell_unsafe strips just one quote.
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r\n]")
LIST_SEPARATOR = "; "


def _text(value: Any) -> str:
    """A value as plain text, before any neutralisation."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: True is an int
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.isoformat(timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(_text(item) for item in value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def cell_safe(value: Any) -> str:
    """The value as spreadsheet-safe text: text that Excel would run as a formula gets a `'`.

    A number (even a negative one) is a number, not a formula: written plainly. The string "-5"
    is text, so it is prefixed. Dates become ISO 8601 (aware datetimes in UTC); None becomes "";
    lists are joined with "; " and the joined text is neutralised once.
    """
    if _is_number(value):
        return str(value)
    text = _text(value)
    return "'" + text if _NEEDS_QUOTE.match(text) else text


def cell_unsafe(text: str) -> str:
    """The inverse of cell_safe() for text, used by our own import."""
    if text.startswith("'") and _NEEDS_QUOTE.match(text, 1):
        return text[1:]
    return text


# Columns --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportColumn:
    key: str
    header: str
    getter: Callable[[Lead], Any]


def _field(name: str) -> Callable[[Lead], Any]:
    return lambda lead: getattr(lead, name)


def _label(name: str) -> Callable[[Lead], Any]:
    """The display label of a choices field ("Decision Maker", not "decision_maker")."""
    return lambda lead: getattr(lead, f"get_{name}_display")()


def _tag_names(lead: Lead) -> list[str]:
    return [tag.name for tag in lead.tags.all()]  # prefetched, ordered by name


# key → (header, getter), in the order "all columns" exports them.
STANDARD_COLUMNS: dict[str, tuple[str, Callable[[Lead], Any]]] = {
    "email": ("Email", _field("email")),
    "secondary_emails": ("Secondary emails", _field("secondary_emails")),
    "first_name": ("First name", _field("first_name")),
    "last_name": ("Last name", _field("last_name")),
    "full_name": ("Full name", _field("full_name")),
    "phone": ("Phone", _field("phone")),
    "mobile": ("Mobile", _field("mobile")),
    "job_title": ("Job title", _field("job_title")),
    "department": ("Department", _field("department")),
    "contact_role": ("Contact role", _label("contact_role")),
    "company": ("Company", lambda lead: lead.company.name if lead.company else None),
    "domain": ("Domain", _field("domain")),
    "source": ("Source", _field("source")),
    "owner": ("Owner", lambda lead: lead.owner.email if lead.owner else None),
    "tags": ("Tags", _tag_names),
    "linkedin_url": ("LinkedIn URL", _field("linkedin_url")),
    "twitter_handle": ("Twitter handle", _field("twitter_handle")),
    "street": ("Street", _field("street")),
    "city": ("City", _field("city")),
    "region": ("Region", _field("region")),
    "postal_code": ("Postal code", _field("postal_code")),
    "country": ("Country", _field("country")),
    "timezone": ("Timezone", _field("timezone")),
    "preferred_language": ("Preferred language", _field("preferred_language")),
    "birthday": ("Birthday", _field("birthday")),
    "status": ("Status", _label("status")),
    "email_status": ("Email status", _label("email_status")),
    "consent_status": ("Consent status", _label("consent_status")),
    "consent_type": ("Consent type", _label("consent_type")),
    "consent_source": ("Consent source", _field("consent_source")),
    "consent_captured_at": ("Consent captured at", _field("consent_captured_at")),
    "do_not_contact": ("Do not contact", _field("do_not_contact")),
    "score": ("Score", _field("score")),
    "tier": ("Tier", _label("tier")),
    "quality_score": ("Quality score", _field("quality_score")),
    "bant_budget": ("Budget", _field("bant_budget")),
    "bant_authority": ("Authority", _field("bant_authority")),
    "bant_need": ("Need", _field("bant_need")),
    "bant_timeline": ("Timeline", _field("bant_timeline")),
    "created_at": ("Created at", _field("created_at")),
    "updated_at": ("Updated at", _field("updated_at")),
    "last_contacted_at": ("Last contacted at", _field("last_contacted_at")),
    "last_activity_at": ("Last activity at", _field("last_activity_at")),
}
CUSTOM_PREFIX = "cf."


def _custom_getter(field: CustomField) -> Callable[[Lead], Any]:
    key, is_date = field.key, field.type == CustomFieldType.DATE

    def get(lead: Lead) -> Any:
        value = (lead.attributes or {}).get(key)
        if is_date and isinstance(value, str):
            try:
                return date.fromisoformat(value)  # stored as "YYYY-MM-DD"; a date in XLSX
            except ValueError:
                return value
        return value

    return get


def lead_column_keys(workspace: Workspace | int) -> list[str]:
    """Every standard column, then the workspace's active custom fields: "export all columns"."""
    custom = CustomField.objects.for_workspace(workspace).active().values_list("key", flat=True)
    return [*STANDARD_COLUMNS, *(CUSTOM_PREFIX + key for key in custom)]


def lead_columns(workspace: Workspace | int, keys: list[str]) -> list[ExportColumn]:
    """The columns named by `keys`: standard keys, or `cf.<key>` for the workspace's own fields.

    A retired custom field can still be exported (its values are kept); a field being deleted,
    another workspace's field or an unknown key is a ValueError.
    """
    custom_keys = {k.removeprefix(CUSTOM_PREFIX) for k in keys if k.startswith(CUSTOM_PREFIX)}
    fields = {}
    if custom_keys:
        live = CustomField.objects.for_workspace(workspace).live().filter(key__in=custom_keys)
        fields = {field.key: field for field in live}
    columns, unknown = [], []
    for key in keys:
        if key in STANDARD_COLUMNS:
            header, getter = STANDARD_COLUMNS[key]
            columns.append(ExportColumn(key, header, getter))
        elif key.startswith(CUSTOM_PREFIX) and key.removeprefix(CUSTOM_PREFIX) in fields:
            field = fields[key.removeprefix(CUSTOM_PREFIX)]
            columns.append(ExportColumn(key, field.label, _custom_getter(field)))
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"Unknown export columns: {', '.join(unknown)}")
    return columns


# Rows -----------------------------------------------------------------------------------------


def leads_in_pk_chunks(queryset: QuerySet[Lead], *, chunk: int = 2000) -> Iterator[Lead]:
    """Every lead of the (unsliced) queryset once, in pk order, `chunk` at a time.

    Keyset pagination (`pk > last`) keeps each chunk an index range scan however deep the
    export goes (OFFSET rescans), and prefetching per chunk keeps tags to one query per chunk
    (QuerySet.iterator() would either skip the prefetch or hold it for the whole run). A join
    in the caller's filters may repeat a lead; repeats are adjacent in pk order and skipped.
    """
    # prefetch_related(None) drops a caller's own "tags" prefetch, which would clash with ours.
    leads = (
        queryset.select_related("company", "owner")
        .prefetch_related(None)
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    )
    last_pk = None
    while True:
        page = leads if last_pk is None else leads.filter(pk__gt=last_pk)
        batch = list(page.order_by("pk")[:chunk])
        for lead in batch:
            if lead.pk != last_pk:
                last_pk = lead.pk
                yield lead
        if len(batch) < chunk:
            return


def leads_export_rows(
    queryset: QuerySet[Lead], columns: list[ExportColumn], *, chunk: int = 2000
) -> Iterator[list[Any]]:
    """One list of raw values per lead (what the writers below format), in pk order."""
    for lead in leads_in_pk_chunks(queryset, chunk=chunk):
        yield [column.getter(lead) for column in columns]


# CSV ------------------------------------------------------------------------------------------

BOM = "\ufeff"
_CSV_BATCH = 500  # rows per yielded chunk: fewer, larger writes to the socket


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a generator."""

    def write(self, line: str) -> str:
        return line


def csv_stream(columns: list[ExportColumn], rows: Iterable[list[Any]]) -> Iterator[str]:
    """UTF-8 CSV for Excel of the columns' headers and the rows (see csv_text)."""
    return csv_text([column.header for column in columns], rows)


def csv_text(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """UTF-8 CSV for Excel: a BOM first, CRLF line ends, every cell through cell_safe()."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    yield BOM + writer.writerow([cell_safe(header) for header in headers])
    batch = []
    for row in rows:
        batch.append(writer.writerow([cell_safe(value) for value in row]))
        if len(batch) >= _CSV_BATCH:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


# XLSX -----------------------------------------------------------------------------------------

XLSX_MAX_ROWS = 1_048_576  # per sheet, header included; more rows continue on a new sheet
XLSX_MAX_TEXT = 32_767  # characters per cell
_XLSX_CHUNK = 64 * 1024
_XLSX_SPOOL = 8 * 1024 * 1024  # beyond this the workbook spills to a temporary file


def _xlsx_value(value: Any) -> Any:
    """Numbers, booleans and dates as themselves; text neutralised and made storable."""
    if value is None or isinstance(value, bool) or _is_number(value):
        return value
    if isinstance(value, datetime):
        # Excel has no time zones: naive UTC; openpyxl gives it a date-time number format.
        return timezone.make_naive(value, UTC) if timezone.is_aware(value) else value
    if isinstance(value, date):
        return value
    # XML can't hold most control characters, and Excel refuses longer cells.
    text = ILLEGAL_CHARACTERS_RE.sub("", cell_safe(value))
    return text[:XLSX_MAX_TEXT] or None  # a blank cell, not an empty string


def xlsx_write(columns: list[ExportColumn], rows: Iterable[list[Any]], file: IO[bytes]) -> None:
    """Write an XLSX workbook (sheet "Leads", bold frozen header) to a binary file."""
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def new_sheet(number: int):
        sheet = workbook.create_sheet("Leads" if number == 1 else f"Leads ({number})")
        sheet.freeze_panes = "A2"
        header = []
        for column in columns:
            cell = WriteOnlyCell(sheet, value=_xlsx_value(column.header))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        return sheet

    sheets, sheet, written = 1, new_sheet(1), 1
    for row in rows:
        if written == XLSX_MAX_ROWS:
            sheets += 1
            sheet, written = new_sheet(sheets), 1
        sheet.append([_xlsx_value(value) for value in row])
        written += 1
    workbook.save(file)


def xlsx_stream(columns: list[ExportColumn], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """The workbook in chunks. A zip can't be streamed as it is written, so it is spooled
    (in memory while small, on disk beyond) and sent once complete."""
    with tempfile.SpooledTemporaryFile(max_size=_XLSX_SPOOL) as file:
        xlsx_write(columns, rows, file)
        file.seek(0)
        while chunk := file.read(_XLSX_CHUNK):
            yield chunk


# vCard ----------------------------------------------------------------------------------------

VCARD_LINE_OCTETS = 75
_VCARD_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", ";": "\\;", "\n": "\\n"})


def vcard_escape(text: str) -> str:
    """A TEXT value escaped per RFC 6350 3.4 (CRLF and lone CR count as one newline)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_VCARD_ESCAPES)


def vcard_fold(line: str) -> str:
    """The line folded into CRLF-separated pieces of at most 75 octets (RFC 6350 3.2).

    Continuations start with a space, which counts toward their 75. Pieces end on character
    boundaries, so a multi-byte UTF-8 character is never split.
    """
    pieces, current, size, limit = [], [], 0, VCARD_LINE_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, VCARD_LINE_OCTETS - 1
        current.append(char)
        size += octets
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def _vcard_lines(lead: Lead) -> Iterator[str]:
    yield "BEGIN:VCARD"
    yield "VERSION:3.0"
    yield f"N:{vcard_escape(lead.last_name)};{vcard_escape(lead.first_name)};;;"
    yield f"FN:{vcard_escape(lead.full_name or lead.email)}"
    if lead.company:
        yield f"ORG:{vcard_escape(lead.company.name)}"
    if lead.job_title:
        yield f"TITLE:{vcard_escape(lead.job_title)}"
    if lead.email:
        yield f"EMAIL;TYPE=INTERNET,PREF:{vcard_escape(lead.email)}"
    for email in lead.secondary_emails or []:
        yield f"EMAIL;TYPE=INTERNET:{vcard_escape(str(email))}"
    if lead.phone:
        yield f"TEL;TYPE=WORK,VOICE:{vcard_escape(lead.phone)}"
    if lead.mobile:
        yield f"TEL;TYPE=CELL:{vcard_escape(lead.mobile)}"
    address = [lead.street, lead.city, lead.region, lead.postal_code, lead.country]
    if any(address):
        # post office box; extended address; street; locality; region; postal code; country
        yield "ADR;TYPE=WORK:;;" + ";".join(vcard_escape(part) for part in address)
    if lead.linkedin_url:
        # A URI, not TEXT: commas and semicolons are part of it; only line breaks must go.
        yield "URL:" + re.sub(r"[\r\n]", "", lead.linkedin_url)
    yield "END:VCARD"


def vcard_stream(leads: Iterable[Lead]) -> Iterator[str]:
    """vCard 3.0, one card per lead, CRLF line ends, long lines folded."""
    for lead in leads:
        yield "".join(vcard_fold(line) + "\r\n" for line in _vcard_lines(lead))


# HTTP -----------------------------------------------------------------------------------------

ExportFormat = Literal["csv", "xlsx", "vcf"]
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "vcf": "text/vcard; charset=utf-8",
}


def export_filename(stem: str, fmt: str, *, day: date | None = None) -> tuple[str, str]:
    """(ASCII filename, Unicode filename) such as ("leads-2026-11-23.csv", same)."""
    suffix = f"-{(day or timezone.localdate()).isoformat()}.{fmt}"
    unicode_stem = re.sub(r'[\x00-\x1f\x7f/\\"]+', "-", stem).strip(" .-") or "export"
    ascii_stem = unicodedata.normalize("NFKD", unicode_stem).encode("ascii", "ignore").decode()
    ascii_stem = re.sub(r"[^A-Za-z0-9._]+", "-", ascii_stem).strip(".-") or "export"
    return ascii_stem + suffix, unicode_stem + suffix


def export_disposition(stem: str, fmt: str, *, day: date | None = None) -> str:
    """The Content-Disposition of an export file: the ASCII name, and the Unicode one if it differs
    (RFC 6266), for a streamed export and a background export's download alike."""
    ascii_name, unicode_name = export_filename(stem, fmt, day=day)
    disposition = f'attachment; filename="{ascii_name}"'
    if unicode_name != ascii_name:
        disposition += f"; filename*=UTF-8''{quote(unicode_name, safe='')}"
    return disposition


def export_response(
    request: HttpRequest | None,
    *,
    filename_stem: str,
    fmt: ExportFormat,
    columns: list[ExportColumn] | None,
    queryset: QuerySet[Lead],
) -> StreamingHttpResponse:
    """A download of the leads in `queryset` (vCard ignores `columns`).

    `request` may be None (a background export builds the same content without one).
    """
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"Unknown export format: {fmt}")
    if fmt == "vcf":
        content: Iterator[Any] = vcard_stream(leads_in_pk_chunks(queryset))
    else:
        if not columns:
            raise ValueError("A CSV or XLSX export needs at least one column")
        rows = leads_export_rows(queryset, columns)
        content = csv_stream(columns, rows) if fmt == "csv" else xlsx_stream(columns, rows)
    response = StreamingHttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = export_disposition(filename_stem, fmt)
    response["Cache-Control"] = "private, no-store"  # personal data: never in a shared cache
    return response
