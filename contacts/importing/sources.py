"""Reading uploaded lead files (PRODUCT I1): CSV, XLSX and vCard into a header and rows of text.

`source_detect` looks at a file once (its kind, encoding, delimiter, header); `source_rows` then
reads it as often as the preview, the dry run and the import need. Everything streams, so a
1M-row file is read with flat memory: the csv module over a text wrapper of the file, openpyxl in
read-only mode, vCards line by line.

Our own export puts a `'` before formula-looking text (contacts.export.cell_safe); CSV and XLSX
cells get it stripped again here, so an export imports back unchanged.
"""

import codecs
import contextlib
import csv
import io
import quopri
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from contacts.export import cell_unsafe

MAX_COLUMNS = 500
DELIMITERS = (",", ";", "\t", "|")  # on a tie, the earlier wins
SNIFF_BYTES = 64 * 1024  # how much of the file decides its kind
SAMPLE_CHARS = 1024 * 1024  # the most text read to find the delimiter and header
SAMPLE_RECORDS = 50
SCAN_BYTES = 1024 * 1024  # chunk size of the encoding check

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls, and password-protected .xlsx
CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)

VCARD_HEADERS = [
    "Full name",
    "First name",
    "Last name",
    "Email",
    "Other emails",
    "Phone",
    "Mobile",
    "Company",
    "Department",
    "Job title",
    "Street",
    "City",
    "Region",
    "Postal code",
    "Country",
    "Website",
    "Birthday",
    "Note",
]


class SourceError(Exception):
    """A file we cannot read; str(error) is a clear message for the user (no traceback talk)."""


@dataclass
class SourceInfo:
    kind: str  # "csv" | "xlsx" | "vcf"
    headers: list[str]  # one per column, stripped; a blank header becomes "Column 3" (1-based)
    encoding: str = ""  # csv: "utf-8-sig" | "utf-8" | "cp1252" | "latin-1"
    delimiter: str = ""  # csv: one of , ; \t |
    header_row: int = 1  # the line (csv) / sheet row (xlsx) of the header, 1-based
    sheet: str = ""  # xlsx: the sheet read

    def as_json(self) -> dict:
        """For ImportJob.file_info."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SourceInfo":
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


def source_detect(path: Path, *, file_name: str = "") -> SourceInfo:
    """What the file is and where its header is, judged by its content (names lie)."""
    name = f"“{file_name}”" if file_name else "The file"
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise SourceError("The file is empty.")
    if head.startswith(ZIP_MAGIC):
        return _xlsx_detect(path, name)
    if head.startswith(OLE_MAGIC):
        raise SourceError(
            f"{name} is an old Excel (.xls) file or a password-protected workbook, which we "
            "cannot read. Open it in Excel, save it as CSV or .xlsx (without a password) and "
            "upload that."
        )
    if b"\x00" in head:
        raise SourceError(
            f"{name} is not a text file we can read. Save it as CSV (UTF-8) or .xlsx and "
            "upload that."
        )
    if head.removeprefix(codecs.BOM_UTF8).lstrip()[:11].upper() == b"BEGIN:VCARD":
        return SourceInfo(kind="vcf", headers=list(VCARD_HEADERS))
    return _csv_detect(path)


def source_rows(path: Path, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    """(row number the user sees, values) for every data row after the header.

    Values are exactly one per header: short rows are padded with "", empty cells beyond the
    header dropped. A row with non-empty cells beyond the header comes as it is (longer), so the
    caller can report it rather than lose them. Entirely blank rows are skipped.
    """
    readers = {"csv": _csv_rows, "xlsx": _xlsx_rows, "vcf": _vcard_rows}
    width = len(info.headers)
    for number, values in readers[info.kind](path, info):
        if _is_blank(values):
            continue
        if len(values) < width:
            values += [""] * (width - len(values))
        elif len(values) > width and _is_blank(values[width:]):
            del values[width:]
        yield number, values


# Shared ---------------------------------------------------------------------------------------


def _is_blank(values: list[str]) -> bool:
    return not "".join(values).strip()


def _header_index(records: list[tuple[int, list[str]]]) -> int:
    """Which record is the header, skipping preamble ("Exported from …", a title, blank cells).

    The header is the first record mostly filled in and as wide as most records after it (or
    wider: a few short data rows must not make the real header look like preamble). A title
    padded with empty cells to the table's width is not mostly filled in.
    """
    for index, (_, cells) in enumerate(records):
        following = Counter(len(later) for _, later in records[index + 1 :])
        most = max(following.values(), default=0)
        width = min((count for count, seen in following.items() if seen == most), default=0)
        filled = sum(1 for cell in cells if cell.strip())
        if len(cells) >= width and filled * 2 > len(cells):
            return index
    return 0


def _headers(cells: list[str]) -> list[str]:
    if len(cells) > MAX_COLUMNS:
        raise SourceError(
            f"The file has {len(cells)} columns; at most {MAX_COLUMNS} can be imported. "
            "Remove the columns you don't need and upload it again."
        )
    return [cell.strip() or f"Column {number}" for number, cell in enumerate(cells, start=1)]


# CSV ------------------------------------------------------------------------------------------


def _csv_detect(path: Path) -> SourceInfo:
    encoding = _csv_encoding(path)
    with _csv_open(path, encoding) as text:
        sample = text.read(SAMPLE_CHARS)
        complete = not text.read(1)
    if not sample.strip():
        raise SourceError("The file is empty.")
    delimiter, records = _csv_sniff(sample, complete)
    header_row, cells = records[_header_index(records)]
    return SourceInfo(
        kind="csv",
        headers=_headers(cells),
        encoding=encoding,
        delimiter=delimiter,
        header_row=header_row,
    )


def _csv_encoding(path: Path) -> str:
    """UTF-8 if the whole file decodes as UTF-8 (a BOM says so outright); else cp1252, or
    latin-1 if the file has bytes cp1252 leaves undefined (latin-1 decodes anything)."""
    with path.open("rb") as handle:
        if handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        is_utf8 = is_cp1252 = True
        while (is_utf8 or is_cp1252) and (chunk := handle.read(SCAN_BYTES)):
            if is_utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            is_cp1252 = is_cp1252 and not any(byte in chunk for byte in CP1252_UNDEFINED)
        if is_utf8:
            try:
                decoder.decode(b"", final=True)  # a character cut off at the end
            except UnicodeDecodeError:
                is_utf8 = False
    return "utf-8" if is_utf8 else "cp1252" if is_cp1252 else "latin-1"


def _csv_open(path: Path, encoding: str) -> TextIO:
    """The file as text for the csv module (newline="": it splits lines itself). Only a file with
    a BOM may still hold a byte its encoding can't decode: that byte becomes U+FFFD."""
    return path.open(encoding=encoding, errors="replace", newline="")


def _csv_sniff(sample: str, complete: bool) -> tuple[str, list[tuple[int, list[str]]]]:
    """The delimiter that splits the most of the first records into one number (> 1) of cells,
    and those records. Judged by share, not count: a wrong delimiter that breaks quoted newlines
    makes more records. The csv module parses each candidate, so quoted delimiters don't count.
    """
    candidates = []
    for delimiter in DELIMITERS:
        records = _sample_records(sample, delimiter, complete)
        counts = Counter(len(cells) for _, cells in records)
        width, matches = max(counts.items(), key=lambda item: (item[1], item[0]))
        score = (matches / len(records), width) if width > 1 else (0.0, 0)
        candidates.append((score, delimiter, records))
    _, delimiter, records = max(candidates, key=lambda candidate: candidate[0])
    return delimiter, records


def _sample_records(sample: str, delimiter: str, complete: bool) -> list[tuple[int, list[str]]]:
    """The first non-blank records of the sample, none of them cut short by its end."""
    records: list[tuple[int, list[str]]] = []
    try:
        for record in _csv_records(io.StringIO(sample, newline=""), delimiter):
            if not _is_blank(record[1]):
                records.append(record)
            if len(records) > SAMPLE_RECORDS:
                break
    except SourceError:
        # a stray quote ran a field past csv's size limit: judge on what parsed before it
        if not records:
            raise
    if (len(records) > SAMPLE_RECORDS or not complete) and len(records) > 1:
        records.pop()
    return records


def _csv_records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted newline makes a record span lines)."""
    reader = csv.reader(lines, delimiter=delimiter)
    line = 0
    try:
        for cells in reader:
            # cheap test first: nearly no cell starts with a quote
            yield line + 1, [cell_unsafe(cell) if cell[:1] == "'" else cell for cell in cells]
            line = reader.line_num
    except csv.Error as error:  # non-strict csv only fails on a field past its size limit
        raise SourceError(
            f"Line {line + 1} has a value longer than {csv.field_size_limit():,} characters. "
            'This usually means a quote (") there is never closed.'
        ) from error


def _csv_rows(path: Path, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    with _csv_open(path, info.encoding) as text:
        for line, cells in _csv_records(text, info.delimiter):
            if line > info.header_row:
                yield line, cells


# XLSX -----------------------------------------------------------------------------------------


def _unreadable(name: str) -> SourceError:
    return SourceError(
        f"{name} is not a readable Excel workbook. Open it in Excel, save it as .xlsx or CSV "
        "and upload that."
    )


@contextlib.contextmanager
def _workbook(path: Path, name: str) -> Iterator[Workbook]:
    """The workbook, read-only; closed at the end (read-only mode keeps the file open).

    openpyxl gets the open file, not the path: it refuses paths without an Excel extension,
    and uploads are stored under names of our own.
    """
    with path.open("rb") as handle:
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except Exception as error:  # a corrupt zip or a zip that is no workbook fails anywhere
            raise _unreadable(name) from error
        with contextlib.closing(workbook):
            yield workbook


def _sheet_rows(sheet: Any, name: str) -> Iterator[tuple[int, list[str]]]:
    """Every row of the sheet as text, numbered as Excel shows it (empty rows included)."""
    sheet.reset_dimensions()  # a wrong stored size would cut columns off; rows come as stored
    rows = enumerate(sheet.iter_rows(values_only=True), start=1)
    while True:
        try:
            number, values = next(rows)
        except StopIteration:
            return
        except Exception as error:  # broken sheet XML
            raise _unreadable(name) from error
        yield number, [_cell_text(value) for value in values]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return cell_unsafe(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        # a phone number stored as a number is integral; 15 digits is Excel's own precision
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _xlsx_detect(path: Path, name: str) -> SourceInfo:
    """The first sheet with data; its first rows padded to one width, as a CSV export would."""
    with _workbook(path, name) as workbook:
        for sheet in workbook.worksheets:
            rows = (row for row in _sheet_rows(sheet, name) if not _is_blank(row[1]))
            records = list(islice(rows, SAMPLE_RECORDS))
            if records:
                break
        else:
            raise SourceError(f"{name} has no data in any of its sheets.")
    trimmed = [(number, _trim(cells)) for number, cells in records]
    width = max(len(cells) for _, cells in trimmed)
    padded = [(number, cells + [""] * (width - len(cells))) for number, cells in trimmed]
    header_row, cells = padded[_header_index(padded)]
    return SourceInfo(
        kind="xlsx", headers=_headers(cells), header_row=header_row, sheet=sheet.title
    )


def _trim(cells: list[str]) -> list[str]:
    """Without trailing empty cells (formatting alone makes Excel store those)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _xlsx_rows(path: Path, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    with _workbook(path, "The file") as workbook:
        if info.sheet not in workbook.sheetnames:
            raise SourceError(f"The workbook has no sheet “{info.sheet}”.")
        for number, cells in _sheet_rows(workbook[info.sheet], "The file"):
            if number > info.header_row:
                yield number, cells


# vCard ----------------------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPE_OR_SEMICOLON = re.compile(r"\\(.)|;", re.DOTALL)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
NOT_PREFERRED = 101  # PREF runs 1 (most preferred) to 100


def _vcard_rows(path: Path, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    """One row per card, numbered 1, 2, …; properties outside cards are ignored."""
    card: list[tuple[str, dict[str, list[str]], str]] | None = None
    number = start = 0
    for line_number, line in _vcard_lines(path):
        name, params, value = _vcard_property(line)
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            if card is not None:
                raise _unfinished_card(number, start)
            number, start, card = number + 1, line_number, []
        elif card is None:
            continue
        elif name == "END" and value.strip().upper() == "VCARD":
            yield number, _vcard_values(card)
            card = None
        else:
            card.append((name, params, value))
    if card is not None:
        raise _unfinished_card(number, start)


def _unfinished_card(number: int, line: int) -> SourceError:
    return SourceError(f"Card {number}, which begins on line {line}, has no END:VCARD.")


def _vcard_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, logical line): folded lines are joined as bytes, before decoding, because
    a fold may fall inside a UTF-8 character. vCard 2.1 quoted-printable soft breaks too."""
    pending: bytearray | None = None
    start = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            if pending is not None and line[:1] in (b" ", b"\t"):
                pending += line[1:]
            elif pending is not None and _soft_break(pending):
                pending[-1:] = line
            else:
                if pending is not None:
                    yield start, _decode(pending)
                pending, start = bytearray(line), number
    if pending is not None:
        yield start, _decode(pending)


def _soft_break(line: bytearray) -> bool:
    """A quoted-printable value ending in "=" goes on on the next line (vCard 2.1)."""
    return line.endswith(b"=") and b"QUOTED-PRINTABLE" in line.partition(b":")[0].upper()


def _decode(data: bytes | bytearray) -> str:
    """UTF-8, else cp1252 as Windows writes it, else latin-1 (which decodes anything)."""
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _vcard_property(line: str) -> tuple[str, dict[str, list[str]], str]:
    """(name without its group, params by upper-case name with lower-case values, raw value).

    `;` and `:` inside quoted parameter values don't count; a line without `:` is no property.
    """
    parts: list[str] = []
    start, quoted = 0, False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in ";:":
            parts.append(line[start:index])
            start = index + 1
            if char == ":":
                name = parts[0].rpartition(".")[2].strip().upper()  # item1.EMAIL → EMAIL
                params = _vcard_params(parts[1:])
                value = line[start:]
                # vCard 2.1 also allows a bare QUOTED-PRINTABLE, read as a TYPE above
                if "quoted-printable" in params.get("ENCODING", []) + params.get("TYPE", []):
                    charset = params.get("CHARSET", ["utf-8"])[0]
                    value = _decode_quoted_printable(value, charset)
                return name, params, value
    return "", {}, ""


def _vcard_params(parts: list[str]) -> dict[str, list[str]]:
    """TYPE=work,voice and TYPE="work,voice" alike; a bare `CELL` (vCard 2.1) is a TYPE."""
    params: dict[str, list[str]] = defaultdict(list)
    for part in parts:
        key, has_value, value = part.partition("=")
        if not has_value:
            key, value = "TYPE", part
        values = value.strip().strip('"').split(",")
        params[key.strip().upper()].extend(item.strip().lower() for item in values)
    return dict(params)


def _decode_quoted_printable(value: str, charset: str) -> str:
    data = quopri.decodestring(value.encode())
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return _decode(data)


def _unescape(value: str) -> str:
    r"""\n is a newline; \, \; \\ (and any other escaped character) stand for themselves."""
    return _ESCAPE.sub(lambda match: "\n" if match[1] in "nN" else match[1], value)


def _components(value: str, count: int) -> list[str]:
    """A structured value (N, ORG, ADR) split on unescaped `;`, unescaped, `count` long."""
    parts, current, position = [], [], 0
    for match in _ESCAPE_OR_SEMICOLON.finditer(value):
        current.append(value[position : match.start()])
        if match[1] is None:
            parts.append("".join(current))
            current = []
        else:
            current.append("\n" if match[1] in "nN" else match[1])
        position = match.end()
    current.append(value[position:])
    parts.append("".join(current))
    return (parts + [""] * count)[:count]


def _pref_rank(params: dict[str, list[str]]) -> int:
    """PREF=1 (vCard 4) or TYPE=pref (3.0, bare PREF in 2.1) is most preferred."""
    if "PREF" in params:
        pref = params["PREF"][0]
        return int(pref) if pref.isdigit() else 1
    return 1 if "pref" in params.get("TYPE", []) else NOT_PREFERRED


def _vcard_values(properties: list[tuple[str, dict[str, list[str]], str]]) -> list[str]:
    """One card as values in VCARD_HEADERS order."""
    found: dict[str, list[tuple[dict[str, list[str]], str]]] = defaultdict(list)
    for name, params, value in properties:
        if value.strip():
            found[name].append((params, value))

    def first(name: str) -> str:
        return found[name][0][1] if found[name] else ""

    last_name, first_name = _components(first("N"), 2)
    company, department = _components(first("ORG"), 2)
    _, _, street, city, region, postal_code, country = _components(first("ADR"), 7)

    emails = [_unescape(value) for _, value in found["EMAIL"]]
    ranks = [_pref_rank(params) for params, _ in found["EMAIL"]]
    email = emails.pop(ranks.index(min(ranks))) if emails else ""

    phone = mobile = ""
    for params, value in found["TEL"]:
        number = _unescape(value).removeprefix("tel:")  # vCard 4 may give a tel: URI
        if {"cell", "mobile"} & set(params.get("TYPE", [])):
            mobile = mobile or number
        else:
            phone = phone or number

    birthday = _unescape(first("BDAY"))
    if _COMPACT_DATE.fullmatch(birthday):
        birthday = _COMPACT_DATE.sub(r"\1-\2-\3", birthday)

    return [
        _unescape(first("FN")),
        first_name,
        last_name,
        email,
        "; ".join(emails),
        phone,
        mobile,
        company,
        department,
        _unescape(first("TITLE")),
        street,
        city,
        region,
        postal_code,
        country,
        _unescape(first("URL")),
        birthday,
        "\n".join(_unescape(value) for _, value in found["NOTE"]),
    ]
