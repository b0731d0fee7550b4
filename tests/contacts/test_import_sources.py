"""Reading uploaded lead files (PRODUCT I1): CSV, XLSX and vCard quirks, and flat memory."""

import csv
import io
import os
import tracemalloc
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook

from contacts.export import cell_safe, vcard_fold
from contacts.importing import sources
from contacts.importing.sources import (
    VCARD_HEADERS,
    SourceError,
    SourceInfo,
    source_detect,
    source_rows,
)


def _write(tmp_path: Path, content: str | bytes, name: str = "upload") -> Path:
    """Uploads are stored under names of our own, without the user's extension."""
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _read(path: Path) -> tuple[SourceInfo, list[tuple[int, list[str]]]]:
    info = source_detect(path)
    return info, list(source_rows(path, info))


def _error(path: Path, **kwargs) -> str:
    with pytest.raises(SourceError) as caught:
        info = source_detect(path, **kwargs)
        list(source_rows(path, info))
    return str(caught.value)


# SourceInfo -----------------------------------------------------------------------------------


def test_info_round_trips_through_json():
    info = SourceInfo("csv", ["Email", "Name"], "cp1252", ";", 3)
    data = info.as_json()
    assert data == {
        "kind": "csv",
        "headers": ["Email", "Name"],
        "encoding": "cp1252",
        "delimiter": ";",
        "header_row": 3,
        "sheet": "",
    }
    assert SourceInfo.from_json(data) == info
    assert SourceInfo.from_json({"kind": "vcf", "headers": ["A"], "later": 1}).kind == "vcf"


# Kind -----------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    assert _error(_write(tmp_path, b"")) == "The file is empty."
    assert _error(_write(tmp_path, b"\r\n  \n\n")) == "The file is empty."


def test_binary_file_is_refused(tmp_path):
    message = _error(_write(tmp_path, b"Email,Name\n\x00\x01\x02"), file_name="leads.csv")
    assert "“leads.csv”" in message
    assert "CSV" in message and ".xlsx" in message


def test_old_xls_is_refused(tmp_path):
    message = _error(_write(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600))
    assert ".xls" in message
    assert "save it as CSV or .xlsx" in message


def test_kind_comes_from_content_not_name(tmp_path):
    csv_named_xlsx = _write(tmp_path, "Email\na@example.com\n", "leads.xlsx")
    assert source_detect(csv_named_xlsx, file_name="leads.xlsx").kind == "csv"
    vcard_named_csv = _write(tmp_path, "\ufeff\r\n begin:vcard\r\nFN:A\r\nEND:VCARD\r\n", "x.csv")
    assert source_detect(vcard_named_csv).kind == "vcf"


# CSV: encodings -------------------------------------------------------------------------------


def test_utf8_with_bom(tmp_path):
    info, rows = _read(_write(tmp_path, "\ufeffEmail,Name\na@example.com,José\n"))
    assert (info.kind, info.encoding, info.headers) == ("csv", "utf-8-sig", ["Email", "Name"])
    assert rows == [(2, ["a@example.com", "José"])]


def test_a_bom_is_trusted_and_a_stray_byte_replaced(tmp_path):
    info, rows = _read(_write(tmp_path, b"\xef\xbb\xbfEmail,Name\na@example.com,Jos\xe9\n"))
    assert info.encoding == "utf-8-sig"
    assert rows == [(2, ["a@example.com", "Jos\ufffd"])]


def test_utf8_without_bom(tmp_path):
    info, rows = _read(_write(tmp_path, "Email,Name\na@example.com,Zoë 北京\n"))
    assert info.encoding == "utf-8"
    assert rows == [(2, ["a@example.com", "Zoë 北京"])]


def test_windows_file_falls_back_to_cp1252(tmp_path):
    info, rows = _read(
        _write(tmp_path, "Email,Name,Price\na@example.com,José,€5\n".encode("cp1252"))
    )
    assert info.encoding == "cp1252"
    assert rows == [(2, ["a@example.com", "José", "€5"])]


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    content = "Email,Name\na@example.com,José\n".encode("latin-1") + b"b@example.com,\x81\n"
    info, rows = _read(_write(tmp_path, content))
    assert info.encoding == "latin-1"
    assert rows == [(2, ["a@example.com", "José"]), (3, ["b@example.com", "\x81"])]


def test_the_whole_file_is_checked_for_utf8(tmp_path):
    """A Latin-1 byte far past the sample still decides the encoding."""
    content = (
        b"Email,Name\n" + b"a@example.com,Ann\n" * 150_000 + "z@example.com,José\n".encode("cp1252")
    )
    assert len(content) > sources.SAMPLE_CHARS + sources.SCAN_BYTES
    info, rows = _read(_write(tmp_path, content))
    assert info.encoding == "cp1252"
    assert rows[-1] == (150_002, ["z@example.com", "José"])


def test_utf8_characters_split_across_scan_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "SCAN_BYTES", 3)
    info, rows = _read(_write(tmp_path, "Name,City\néé,Zürich\n"))
    assert info.encoding == "utf-8"
    assert rows == [(2, ["éé", "Zürich"])]


def test_utf8_cut_off_at_the_end_is_not_utf8(tmp_path):
    info = source_detect(_write(tmp_path, b"Name,City\nAnn,Z\xc3"))
    assert info.encoding == "cp1252"


# CSV: delimiters ------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter(tmp_path, delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["Email", "Name", "Company", "Note"])
    writer.writerow(["a@example.com", "Ann", "Acme, Inc; Ltd", "x|y\tz"])
    writer.writerow(["b@example.com", "Bob", "Globex", ""])
    info, rows = _read(_write(tmp_path, buffer.getvalue()))
    assert info.delimiter == delimiter
    assert info.headers == ["Email", "Name", "Company", "Note"]
    assert rows == [
        (2, ["a@example.com", "Ann", "Acme, Inc; Ltd", "x|y\tz"]),
        (3, ["b@example.com", "Bob", "Globex", ""]),
    ]


def test_quoted_delimiters_and_newlines_do_not_fool_the_delimiter(tmp_path):
    note = '"Met at a fair; liked it;\nwants a demo; call; back"'
    content = "Email,Note\n" + "".join(f"p{i}@example.com,{note}\n" for i in range(10))
    info, rows = _read(_write(tmp_path, content))
    assert info.delimiter == ","
    assert [number for number, _ in rows] == list(range(2, 21, 2))
    assert rows[0][1] == ["p0@example.com", "Met at a fair; liked it;\nwants a demo; call; back"]


def test_semicolons_with_decimal_commas(tmp_path):
    info, rows = _read(_write(tmp_path, "Name;Budget\nAnn;12,5\nBob;13,0\n"))
    assert info.delimiter == ";"
    assert rows == [(2, ["Ann", "12,5"]), (3, ["Bob", "13,0"])]


def test_single_column(tmp_path):
    info, rows = _read(_write(tmp_path, "Email\na@example.com\nb@example.com\n"))
    assert (info.delimiter, info.headers) == (",", ["Email"])
    assert rows == [(2, ["a@example.com"]), (3, ["b@example.com"])]


# CSV: records and row numbers -----------------------------------------------------------------


def test_quoted_newline_keeps_row_numbers_physical(tmp_path):
    content = 'Email,Note\r\na@example.com,"line one\r\nline two"\r\nb@example.com,single\r\n'
    _, rows = _read(_write(tmp_path, content))
    assert rows == [
        (2, ["a@example.com", "line one\r\nline two"]),
        (4, ["b@example.com", "single"]),
    ]


def test_preamble_lines_are_skipped(tmp_path):
    content = (
        "Exported from HubSpot on 2026-01-01\n"
        "\n"
        "Leads,,\n"
        "Email,First name,Last name\n"
        "a@example.com,Ann,Lee\n"
        "b@example.com,Bob,\n"
    )
    info, rows = _read(_write(tmp_path, content))
    assert (info.header_row, info.headers) == (4, ["Email", "First name", "Last name"])
    assert rows == [(5, ["a@example.com", "Ann", "Lee"]), (6, ["b@example.com", "Bob", ""])]


def test_blank_rows_are_skipped(tmp_path):
    content = "Email,Name\n\na@example.com,Ann\n,\n  ,   \n\nb@example.com,Bob\n\n"
    _, rows = _read(_write(tmp_path, content))
    assert rows == [(3, ["a@example.com", "Ann"]), (7, ["b@example.com", "Bob"])]


def test_short_and_long_rows(tmp_path):
    content = (
        "Email,Name,City\na@example.com\nb@example.com,Bob,Rome,,\nc@example.com,Cy,Oslo,extra\n"
    )
    _, rows = _read(_write(tmp_path, content))
    assert rows == [
        (2, ["a@example.com", "", ""]),
        (3, ["b@example.com", "Bob", "Rome"]),
        (4, ["c@example.com", "Cy", "Oslo", "extra"]),  # reported by the caller, not lost
    ]


def test_header_only(tmp_path):
    info, rows = _read(_write(tmp_path, "Email,Name\r\n"))
    assert info.headers == ["Email", "Name"]
    assert rows == []


def test_headers_are_stripped_and_blanks_named(tmp_path):
    info = source_detect(_write(tmp_path, " Email ,,Name,Phone,\na,b,c,d,e\nf,g,h,i,j\n"))
    assert info.headers == ["Email", "Column 2", "Name", "Phone", "Column 5"]


def test_cells_are_kept_as_they_are(tmp_path):
    _, rows = _read(_write(tmp_path, 'Email,Name\n a@example.com ,"  Ann  Lee "\n'))
    assert rows == [(2, [" a@example.com ", "  Ann  Lee "])]


def test_too_many_columns(tmp_path):
    header = ",".join(f"c{i}" for i in range(501))
    assert "501 columns" in _error(_write(tmp_path, header + "\n"))
    header = ",".join(f"c{i}" for i in range(500))
    assert len(source_detect(_write(tmp_path, header + "\n")).headers) == 500


def test_formula_quote_of_our_export_is_stripped(tmp_path):
    content = "Email,Note\n'=SUM(A1),'hello\n'+49 30 1234,''=1\n'@home,'-\n"
    _, rows = _read(_write(tmp_path, content))
    assert rows == [
        (2, ["=SUM(A1)", "'hello"]),
        (3, ["+49 30 1234", "'=1"]),
        (4, ["@home", "-"]),
    ]


def test_exported_text_imports_back_unchanged(tmp_path):
    values = ["=SUM(A1)", "'hello", "'=1", "-5", "+49 30", "@handle", "plain", "\tindented"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Value", "Other"])
    writer.writerows([cell_safe(value), "x"] for value in values)
    _, rows = _read(_write(tmp_path, buffer.getvalue()))
    assert [row[0] for _, row in rows] == values


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('Email,Note\na@example.com,ok\nb@example.com,"never closed\n' + "x,y\n" * 40_000, 3),
        ('"Email,Note\n' + "x,y\n" * 400_000, 1),  # fails already while detecting
    ],
)
def test_unclosed_quote_names_the_line(tmp_path, content, line):
    message = _error(_write(tmp_path, content))
    assert message.startswith(f"Line {line} has a value longer than 131,072 characters.")
    assert 'quote (")' in message


# XLSX -----------------------------------------------------------------------------------------


def _workbook(tmp_path: Path, *sheets: list[list]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for number, rows in enumerate(sheets, start=1):
        sheet = workbook.create_sheet(f"Sheet {number}")
        for row in rows:
            sheet.append(row)
    path = tmp_path / "upload"
    workbook.save(path)
    return path


def test_xlsx_values_become_text(tmp_path):
    path = _workbook(
        tmp_path,
        [
            ["Leads export"],
            [],
            ["Email", "Score", "Budget", "Phone", "Active", "Since", "Met", "At", "Note"],
            [
                "a@example.com",
                5,
                12.5,
                4915112345678,
                True,
                date(2026, 1, 2),
                datetime(2026, 1, 2, 9, 30, 15),
                time(9, 30),
                "'=SUM(A1)",
            ],
            [],
            ["b@example.com", 5.0, 0.1 + 0.2, None, False, datetime(2026, 3, 4), None, None, "'hi"],
        ],
        [["Ignored"], ["x"]],
    )
    info, rows = _read(path)
    assert (info.kind, info.sheet, info.header_row) == ("xlsx", "Sheet 1", 3)
    assert info.headers[:2] == ["Email", "Score"]
    assert rows == [
        (
            4,
            [
                "a@example.com",
                "5",
                "12.5",
                "4915112345678",
                "Yes",
                "2026-01-02",
                "2026-01-02T09:30:15",
                "09:30:00",
                "=SUM(A1)",
            ],
        ),
        (6, ["b@example.com", "5", "0.3", "", "No", "2026-03-04", "", "", "'hi"]),
    ]


def test_xlsx_first_sheet_with_data(tmp_path):
    path = _workbook(tmp_path, [], [[None, None], ["Email", "Name"], ["a@example.com", "Ann"]])
    info, rows = _read(path)
    assert (info.sheet, info.header_row, info.headers) == ("Sheet 2", 2, ["Email", "Name"])
    assert rows == [(3, ["a@example.com", "Ann"])]


def test_xlsx_short_long_and_blank_header_cells(tmp_path):
    path = _workbook(
        tmp_path,
        [
            ["Email", None, "City", "Country"],
            ["a@example.com"],
            ["b@example.com", "x", "Rome", None, "stray"],
            ["c@example.com", None, None, None, None],
        ],
    )
    info, rows = _read(path)
    assert info.headers == ["Email", "Column 2", "City", "Country", "Column 5"]
    assert rows == [
        (2, ["a@example.com", "", "", "", ""]),
        (3, ["b@example.com", "x", "Rome", "", "stray"]),
        (4, ["c@example.com", "", "", "", ""]),
    ]


def test_xlsx_without_data(tmp_path):
    assert "no data" in _error(_workbook(tmp_path, [], [[None]]))


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04" + os.urandom(2000),
        "zip that is no workbook",
    ],
)
def test_unreadable_workbook(tmp_path, content):
    path = tmp_path / "upload"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", content)
    message = _error(path, file_name="leads.xlsx")
    assert "“leads.xlsx” is not a readable Excel workbook" in message


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_workbook_is_closed(tmp_path):
    path = _workbook(tmp_path, [["Email"], *([f"p{i}@example.com"] for i in range(100))])

    def open_handles() -> int:
        fds = Path("/proc/self/fd")
        return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))

    info = source_detect(path)
    assert open_handles() == 0
    assert len(list(source_rows(path, info))) == 100
    assert open_handles() == 0
    rows = source_rows(path, info)
    next(rows)
    assert open_handles() == 1
    rows.close()
    assert open_handles() == 0


# vCard ----------------------------------------------------------------------------------------


def _vcard(*cards: str) -> str:
    return "".join(f"BEGIN:VCARD\r\n{card.strip()}\r\nEND:VCARD\r\n" for card in cards)


def _as_dicts(rows) -> list[dict[str, str]]:
    return [dict(zip(VCARD_HEADERS, values, strict=True)) for _, values in rows]


def test_vcard3_several_cards(tmp_path):
    content = _vcard(
        """
VERSION:3.0
N:Lee;Ann;;;
FN:Ann Lee
ORG:Acme\\, Inc;Sales
TITLE:Head of Sales
EMAIL;TYPE=INTERNET:ann@old.example.com
EMAIL;TYPE=INTERNET,PREF:ann@acme.example.com
EMAIL;TYPE=INTERNET:ann@home.example.com
TEL;TYPE=WORK,VOICE:+49 30 1234
TEL;TYPE=CELL:+49 170 5678
TEL;TYPE=HOME:+49 30 9999
ADR;TYPE=WORK:;;Main St 1\\nBuilding B;Berlin;BE;10115;Germany
ADR;TYPE=HOME:;;Elsewhere 2;Bonn;;;
URL:https://acme.example.com
BDAY:19900415
NOTE:Likes tea\\, not coffee\\; call at 9\\nBackslash: \\\\
""",
        """
VERSION:3.0
N:Roe;Bob;;;
FN:Bob Roe
EMAIL:bob@example.com
""",
    )
    info, rows = _read(_write(tmp_path, content))
    assert (info.kind, info.headers) == ("vcf", VCARD_HEADERS)
    assert [number for number, _ in rows] == [1, 2]
    ann, bob = _as_dicts(rows)
    assert ann == {
        "Full name": "Ann Lee",
        "First name": "Ann",
        "Last name": "Lee",
        "Email": "ann@acme.example.com",
        "Other emails": "ann@old.example.com; ann@home.example.com",
        "Phone": "+49 30 1234",
        "Mobile": "+49 170 5678",
        "Company": "Acme, Inc",
        "Department": "Sales",
        "Job title": "Head of Sales",
        "Street": "Main St 1\nBuilding B",
        "City": "Berlin",
        "Region": "BE",
        "Postal code": "10115",
        "Country": "Germany",
        "Website": "https://acme.example.com",
        "Birthday": "1990-04-15",
        "Note": "Likes tea, not coffee; call at 9\nBackslash: \\",
    }
    assert (bob["Email"], bob["Other emails"], bob["Company"]) == ("bob@example.com", "", "")


def test_vcard4_groups_pref_and_quoted_params(tmp_path):
    content = _vcard(
        """
VERSION:4.0
FN:Cy Dee
N:Dee;Cy;;;
item1.EMAIL;TYPE=work:cy@work.example.com
item1.X-ABLabel:_$!<Work>!$_
item2.EMAIL;PREF=1;TYPE=home:cy@home.example.com
TEL;VALUE=uri;TYPE="work,voice":tel:+1-555-0100
TEL;VALUE=uri;TYPE="cell":tel:+1-555-0199
ADR;LABEL="Main St 1; Springfield":;;Main St 1;Springfield;IL;62701;USA
BDAY:--0415
""",
    )
    (cy,) = _as_dicts(_read(_write(tmp_path, content))[1])
    assert cy["Email"] == "cy@home.example.com"
    assert cy["Other emails"] == "cy@work.example.com"
    assert (cy["Phone"], cy["Mobile"]) == ("+1-555-0100", "+1-555-0199")
    assert (cy["Street"], cy["City"], cy["Country"]) == ("Main St 1", "Springfield", "USA")
    assert cy["Birthday"] == "--0415"


def test_vcard_folding_inside_a_utf8_character(tmp_path):
    note = "Café crème ".encode()
    split = note.index("é".encode()) + 1  # between the two bytes of é
    content = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zo\xc3\r\n \xab Ann\r\n"
        + b"NOTE:"
        + note[:split]
        + b"\n\t"
        + note[split:]
        + b"and more\r\nEND:VCARD\r\n"
    )
    (card,) = _as_dicts(_read(_write(tmp_path, content))[1])
    assert card["Full name"] == "Zoë Ann"
    assert card["Note"] == "Café crème and more"


def test_vcard_folded_by_our_export(tmp_path):
    note = "ü" * 60 + "; and so on, " * 10
    line = "NOTE:" + note.replace(",", "\\,").replace(";", "\\;")
    content = "BEGIN:VCARD\r\n" + vcard_fold(line) + "\r\nEND:VCARD\r\n"
    (card,) = _as_dicts(_read(_write(tmp_path, content))[1])
    assert card["Note"] == note


def test_vcard21_best_effort(tmp_path):
    content = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Ek;Åsa\r\n"
        "TEL;CELL:+46 70 123\r\nTEL;WORK;VOICE:+46 8 456\r\n"
        "EMAIL;INTERNET:asa@old.example.com\r\nEMAIL;PREF;INTERNET:asa@example.com\r\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Caf=C3=A9 =\r\nau lait\r\n"
        "TITLE;QUOTED-PRINTABLE:Chef =C3=A0 Paris\r\n"
        "END:VCARD\r\n"
    )
    (card,) = _as_dicts(_read(_write(tmp_path, content))[1])
    assert (card["First name"], card["Last name"]) == ("Åsa", "Ek")
    assert (card["Phone"], card["Mobile"]) == ("+46 8 456", "+46 70 123")
    assert (card["Email"], card["Other emails"]) == ("asa@example.com", "asa@old.example.com")
    assert card["Note"] == "Café au lait"
    assert card["Job title"] == "Chef à Paris"


def test_vcard_in_cp1252_and_lf_line_ends(tmp_path):
    content = "BEGIN:VCARD\nFN:José Müller\nEND:VCARD\n".encode("cp1252")
    (card,) = _as_dicts(_read(_write(tmp_path, content))[1])
    assert card["Full name"] == "José Müller"


def test_vcard_blank_card_is_skipped_but_counted(tmp_path):
    content = _vcard("VERSION:3.0", "VERSION:3.0\r\nFN:Ann")
    rows = _read(_write(tmp_path, content))[1]
    assert [(number, values[0]) for number, values in rows] == [(2, "Ann")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:B\r\n",
            "Card 2, which begins on line 4, has no END:VCARD.",
        ),
        (
            "BEGIN:VCARD\r\nFN:A\r\nBEGIN:VCARD\r\nFN:B\r\nEND:VCARD\r\n",
            "Card 1, which begins on line 1, has no END:VCARD.",
        ),
    ],
)
def test_vcard_without_end(tmp_path, content, message):
    assert _error(_write(tmp_path, content)) == message


# Streaming ------------------------------------------------------------------------------------


def test_large_csv_streams_with_flat_memory(tmp_path):
    path = tmp_path / "upload"
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("Email,First name,Last name,Phone,Company,Address,Note\r\n")
        for start in range(0, 200_000, 10_000):
            file.write(
                "".join(
                    f"p{i}@example.com,Person,Nümber {i},+49 30 {i:07d},Acme {i % 97} GmbH,"
                    f'"Street {i}, Berlin",Met at the fair\r\n'
                    for i in range(start, start + 10_000)
                )
            )
    assert path.stat().st_size > 20 * 1024 * 1024

    tracemalloc.start()
    try:
        info = source_detect(path)
        count, last = 0, None
        for row in source_rows(path, info):
            count, last = count + 1, row
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert last == (
        200_001,
        [
            "p199999@example.com",
            "Person",
            "Nümber 199999",
            "+49 30 0199999",
            "Acme 82 GmbH",
            "Street 199999, Berlin",
            "Met at the fair",
        ],
    )
    assert peak < 20 * 1024 * 1024
