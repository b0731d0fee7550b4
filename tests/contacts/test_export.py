"""The export service (PRODUCT L8): formula-safe CSV and XLSX, vCard, chunked reads, downloads."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from contacts import export
from contacts.export import (
    BOM,
    ExportColumn,
    cell_safe,
    cell_unsafe,
    csv_stream,
    export_response,
    lead_column_keys,
    lead_columns,
    leads_export_rows,
    vcard_fold,
    vcard_stream,
    xlsx_stream,
)
from contacts.models import ContactRole, CustomFieldType, Lead, LeadStatus
from contacts.queries import leads_for
from tests.contacts.factories import CompanyFactory, CustomFieldFactory, LeadFactory, TagFactory

TRIGGERS = ["=", "+", "-", "@", "\t", "\r", "\n"]
VALUE = [ExportColumn("value", "Value", lambda value: value)]


def _csv(chunks) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :], newline="")))


def _xlsx_sheet(chunks):
    return load_workbook(io.BytesIO(b"".join(chunks)))["Leads"]


def _xlsx(chunks) -> list[tuple]:
    return list(_xlsx_sheet(chunks).iter_rows(values_only=True))


# cell_safe / cell_unsafe ----------------------------------------------------------------------


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_cell_safe_prefixes_text_starting_with_a_formula_trigger(trigger):
    assert cell_safe(f"{trigger}SUM(A1:A9)") == f"'{trigger}SUM(A1:A9)"


@pytest.mark.parametrize("text", ["Ada", "a=b", "", "O'Brien", "'quoted", " =1", "1-2", "ß"])
def test_cell_safe_leaves_safe_text_unchanged(text):
    assert cell_safe(text) == text


@pytest.mark.parametrize(
    ("number", "text"), [(-5, "-5"), (-2.5, "-2.5"), (Decimal("-1.50"), "-1.50"), (0, "0")]
)
def test_cell_safe_writes_numbers_plainly_even_negative_ones(number, text):
    assert cell_safe(number) == text


def test_cell_safe_prefixes_a_negative_number_written_as_text():
    assert cell_safe("-5") == "'-5"


def test_cell_safe_writes_dates_in_iso_8601_and_aware_datetimes_in_utc():
    assert cell_safe(date(2026, 11, 23)) == "2026-11-23"
    moment = datetime(2026, 11, 23, 9, 30, tzinfo=UTC).astimezone(timezone.get_fixed_timezone(60))

    assert cell_safe(moment) == "2026-11-23T09:30:00+00:00"


def test_cell_safe_writes_none_as_empty_and_booleans_as_yes_or_no():
    assert cell_safe(None) == ""
    assert [cell_safe(True), cell_safe(False)] == ["Yes", "No"]


def test_cell_safe_joins_lists_and_neutralises_the_joined_text_once():
    assert cell_safe(["vip", "=cmd", "partner"]) == "vip; =cmd; partner"
    assert cell_safe(["=cmd", "vip"]) == "'=cmd; vip"


def test_cell_safe_quotes_a_quote_before_a_trigger_so_the_round_trip_is_exact():
    assert cell_safe("'=1") == "''=1"
    assert cell_unsafe("''=1") == "'=1"


def test_cell_unsafe_keeps_a_quote_that_cell_safe_did_not_add():
    assert cell_unsafe("'hello") == "'hello"
    assert cell_unsafe("'") == "'"


# Plain st.text() rarely starts with quotes and triggers; the second alphabet makes sure it does.
ANY_TEXT = st.text() | st.text(alphabet="'=+-@\t\r\nab ")


@given(text=ANY_TEXT)
def test_cell_unsafe_undoes_cell_safe_for_any_text(text):
    assert cell_unsafe(cell_safe(text)) == text


@given(text=ANY_TEXT)
def test_cell_safe_never_starts_with_a_trigger(text):
    assert cell_safe(text)[:1] not in TRIGGERS


# CSV ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_csv_prefixes_every_trigger(trigger):
    assert _csv(csv_stream(VALUE, [[f"{trigger}cmd|' /C calc'!A0"]])) == [
        ["Value"],
        [f"'{trigger}cmd|' /C calc'!A0"],
    ]


def test_csv_starts_with_a_bom_and_ends_lines_with_crlf():
    text = "".join(csv_stream(VALUE, [["a"], ["b"]]))

    assert text == f"{BOM}Value\r\na\r\nb\r\n"


def test_csv_writes_numbers_without_the_prefix():
    assert _csv(csv_stream(VALUE * 3, [[-5, "-5", Decimal("2.50")]]))[1] == ["-5", "'-5", "2.50"]


def test_csv_neutralises_a_custom_field_label_used_as_header(ws):
    CustomFieldFactory(workspace=ws, key="evil", label="=HYPERLINK(1)")

    columns = lead_columns(ws, ["cf.evil"])

    assert _csv(csv_stream(columns, []))[0] == ["'=HYPERLINK(1)"]


@pytest.fixture
def awkward_lead(ws, owner):
    lead = LeadFactory(
        workspace=ws,
        email="ada@lovelace.test",
        first_name='=HYPERLINK("http://evil.test","x")',
        last_name='Lovelace, "Countess"',
        company=CompanyFactory(workspace=ws, name="Analytical; Engines\nLtd"),
        phone="+44 20 7946 0000",
        job_title="-",
        contact_role=ContactRole.DECISION_MAKER,
        status=LeadStatus.QUALIFIED,
        owner=owner.user,
        score=42,
        birthday=date(1815, 12, 10),
        created_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    )
    lead.tags.add(TagFactory(workspace=ws, name="vip"), TagFactory(workspace=ws, name="@home"))
    return lead


CSV_KEYS = [
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "job_title",
    "contact_role",
    "status",
    "owner",
    "tags",
    "score",
    "birthday",
    "created_at",
    "last_contacted_at",
]


def test_csv_of_leads_parses_back_to_the_same_values(ws, awkward_lead):
    columns = lead_columns(ws, CSV_KEYS)

    header, row = _csv(csv_stream(columns, leads_export_rows(leads_for(ws), columns)))

    assert header == [
        "Email",
        "First name",
        "Last name",
        "Company",
        "Phone",
        "Job title",
        "Contact role",
        "Status",
        "Owner",
        "Tags",
        "Score",
        "Birthday",
        "Created at",
        "Last contacted at",
    ]
    assert row == [
        "ada@lovelace.test",
        '\'=HYPERLINK("http://evil.test","x")',
        'Lovelace, "Countess"',
        "Analytical; Engines\nLtd",
        "'+44 20 7946 0000",
        "'-",
        "Decision Maker",
        "Qualified",
        "alice@acme.test",
        "'@home; vip",
        "42",
        "1815-12-10",
        "2026-11-23T09:30:00+00:00",
        "",
    ]
    assert cell_unsafe(row[1]) == awkward_lead.first_name
    assert cell_unsafe(row[4]) == awkward_lead.phone


# XLSX -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_xlsx_prefixes_every_trigger(trigger):
    cell = _xlsx_sheet(xlsx_stream(VALUE, [[f"{trigger}1+1"]]))["A2"]

    # XML reads a bare CR as LF; the quote before it is what matters.
    assert (cell.value, cell.data_type) == (f"'{trigger}1+1".replace("\r", "\n"), "s")


def test_xlsx_keeps_numbers_and_booleans_as_values():
    columns = VALUE * 5
    sheet = _xlsx_sheet(xlsx_stream(columns, [[-5, 2.5, Decimal("7.25"), "-5", True]]))

    assert [cell.value for cell in sheet[2]] == [-5, 2.5, 7.25, "'-5", True]
    assert [cell.data_type for cell in sheet[2]] == ["n", "n", "n", "s", "b"]


def test_xlsx_writes_datetimes_as_naive_utc_with_a_date_format():
    moment = datetime(2026, 11, 23, 9, 30, tzinfo=UTC).astimezone(timezone.get_fixed_timezone(60))

    cell = _xlsx_sheet(xlsx_stream(VALUE, [[moment]]))["A2"]

    assert cell.value == datetime(2026, 11, 23, 9, 30)
    assert cell.is_date and "yy" in cell.number_format


def test_xlsx_has_the_header_row_and_one_row_per_lead(ws, awkward_lead):
    LeadFactory.create_batch(2, workspace=ws)
    columns = lead_columns(ws, CSV_KEYS)

    rows = _xlsx(xlsx_stream(columns, leads_export_rows(leads_for(ws), columns)))

    assert len(rows) == 4
    assert rows[0][:3] == ("Email", "First name", "Last name")
    assert rows[1][columns.index(next(c for c in columns if c.key == "score"))] == 42
    assert rows[1][1] == "'" + awkward_lead.first_name
    assert rows[1][-1] is None  # never contacted: a blank cell


def test_xlsx_drops_control_characters_xml_cannot_hold():
    assert _xlsx(xlsx_stream(VALUE, [["bell\x07 and\x00 null"]]))[1] == ("bell and null",)


def test_xlsx_continues_on_a_new_sheet_when_one_is_full(monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)

    workbook = load_workbook(io.BytesIO(b"".join(xlsx_stream(VALUE, [[1], [2], [3]]))))

    assert workbook.sheetnames == ["Leads", "Leads (2)"]
    assert list(workbook["Leads (2)"].values) == [("Value",), (3,)]


# vCard ----------------------------------------------------------------------------------------


def _unfold(card: str) -> list[str]:
    return card.replace("\r\n ", "").split("\r\n")


def _components(value: str) -> list[str]:
    """A structured vCard value split on unescaped ';' and unescaped (RFC 6350 3.4)."""
    parts, current, chars = [], [], iter(value)
    for char in chars:
        if char == "\\":
            escaped = next(chars)
            current.append("\n" if escaped in "nN" else escaped)
        elif char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def test_vcard_escapes_commas_semicolons_backslashes_and_newlines(ws):
    lead = LeadFactory(
        workspace=ws,
        company=CompanyFactory(workspace=ws, name="Smith, Jones; Co \\ Ltd"),
        job_title="Head\r\nof sales",
    )

    lines = _unfold("".join(vcard_stream([lead])))

    assert "ORG:Smith\\, Jones\\; Co \\\\ Ltd" in lines
    assert "TITLE:Head\\nof sales" in lines


def test_vcard_writes_every_contact_detail_without_a_formula_prefix(ws):
    lead = LeadFactory(
        workspace=ws,
        email="eve@corp.test",
        secondary_emails=["eve@home.test"],
        first_name="=Eve",
        last_name="Adams",
        phone="+1 415 555 0100",
        mobile="+1 415 555 0199",
        street="1 Main St",
        city="Springfield",
        postal_code="12345",
        country="US",
        linkedin_url="https://www.linkedin.com/in/eve",
    )

    lines = _unfold("".join(vcard_stream([lead])))

    assert lines[:4] == ["BEGIN:VCARD", "VERSION:3.0", "N:Adams;=Eve;;;", "FN:=Eve Adams"]
    assert "EMAIL;TYPE=INTERNET,PREF:eve@corp.test" in lines
    assert "EMAIL;TYPE=INTERNET:eve@home.test" in lines
    assert "TEL;TYPE=WORK,VOICE:+1 415 555 0100" in lines
    assert "TEL;TYPE=CELL:+1 415 555 0199" in lines
    assert "ADR;TYPE=WORK:;;1 Main St;Springfield;;12345;US" in lines
    assert "URL:https://www.linkedin.com/in/eve" in lines
    assert not any(line.startswith("NOTE") for line in lines)
    assert lines[-2:] == ["END:VCARD", ""]


def test_vcard_writes_one_card_per_lead(ws):
    leads = LeadFactory.create_batch(3, workspace=ws)

    text = "".join(vcard_stream(leads))

    assert text.count("BEGIN:VCARD\r\n") == text.count("END:VCARD\r\n") == 3
    for lead in leads:
        assert f"EMAIL;TYPE=INTERNET,PREF:{lead.email}\r\n" in text


def test_vcard_fold_never_splits_a_multibyte_character():
    line = "FN:" + "é" * 100 + "€" * 40

    pieces = vcard_fold(line).encode().split(b"\r\n")

    assert all(len(piece) <= 75 for piece in pieces)
    assert [piece.decode() for piece in pieces][0] == "FN:" + "é" * 36  # 3 + 72 octets


@given(first_name=st.text(), last_name=st.text(max_size=20))
def test_vcard_lines_fit_75_octets_and_unfold_to_the_original_text(first_name, last_name):
    lead = Lead(email="x@example.test", first_name=first_name, last_name=last_name)

    data = "".join(vcard_stream([lead])).encode()

    pieces = data.split(b"\r\n")
    assert all(len(piece) <= 75 for piece in pieces)
    for piece in pieces:
        piece.decode()  # whole UTF-8 characters only: a split one raises here
    lines = _unfold(data.decode())
    n_line = next(line for line in lines if line.startswith("N:"))

    def newline(text):
        return text.replace("\r\n", "\n").replace("\r", "\n")

    assert _components(n_line[2:])[:2] == [newline(last_name), newline(first_name)]


# Columns --------------------------------------------------------------------------------------


def test_custom_field_columns_read_the_leads_attributes(ws):
    CustomFieldFactory(workspace=ws, key="industry", label="Industry")
    CustomFieldFactory(workspace=ws, key="budget", label="Budget", type=CustomFieldType.NUMBER)
    CustomFieldFactory(workspace=ws, key="renewal", label="Renewal", type=CustomFieldType.DATE)
    LeadFactory(
        workspace=ws,
        email="a@x.test",
        attributes={"industry": "=Tech", "budget": 1200.5, "renewal": "2026-03-01"},
    )
    LeadFactory(workspace=ws, email="b@x.test", attributes={})
    columns = lead_columns(ws, ["email", "cf.industry", "cf.budget", "cf.renewal"])

    csv_rows = _csv(csv_stream(columns, leads_export_rows(leads_for(ws), columns)))
    xlsx_rows = _xlsx(xlsx_stream(columns, leads_export_rows(leads_for(ws), columns)))

    assert csv_rows == [
        ["Email", "Industry", "Budget", "Renewal"],
        ["a@x.test", "'=Tech", "1200.5", "2026-03-01"],
        ["b@x.test", "", "", ""],
    ]
    assert xlsx_rows[1:] == [
        ("a@x.test", "'=Tech", 1200.5, datetime(2026, 3, 1)),
        ("b@x.test", None, None, None),
    ]


def test_a_retired_custom_field_can_still_be_exported(ws):
    CustomFieldFactory(workspace=ws, key="legacy", label="Legacy", retired_at=timezone.now())

    assert [column.header for column in lead_columns(ws, ["cf.legacy"])] == ["Legacy"]


def test_another_workspaces_custom_field_is_an_unknown_column(ws, other_ws):
    CustomFieldFactory(workspace=other_ws, key="industry")

    with pytest.raises(ValueError, match="cf.industry"):
        lead_columns(ws, ["email", "cf.industry"])


def test_a_custom_field_being_deleted_is_an_unknown_column(ws):
    CustomFieldFactory(workspace=ws, key="industry", deleting=True)

    with pytest.raises(ValueError, match="cf.industry"):
        lead_columns(ws, ["cf.industry"])


def test_an_unknown_standard_key_is_refused(ws):
    with pytest.raises(ValueError, match="password"):
        lead_columns(ws, ["email", "password"])


def test_lead_column_keys_lists_every_standard_column_and_the_active_custom_fields(ws, other_ws):
    CustomFieldFactory(workspace=ws, key="industry")
    CustomFieldFactory(workspace=ws, key="legacy", retired_at=timezone.now())
    CustomFieldFactory(workspace=other_ws, key="theirs")

    keys = lead_column_keys(ws)

    assert keys[-1] == "cf.industry" and "cf.legacy" not in keys and "cf.theirs" not in keys
    assert len(lead_columns(ws, keys)) == len(keys)


# Rows -----------------------------------------------------------------------------------------


def test_export_rows_run_a_constant_number_of_queries_per_chunk(
    ws, owner, django_assert_max_num_queries
):
    tag = TagFactory(workspace=ws)
    for _ in range(10):
        LeadFactory(workspace=ws, owner=owner.user, company=CompanyFactory(workspace=ws))
    for lead in Lead.objects.all():
        lead.tags.add(tag)
    columns = lead_columns(ws, ["email", "company", "owner", "tags"])

    with django_assert_max_num_queries(6):  # 3 chunks × (leads + their tags)
        rows = list(leads_export_rows(leads_for(ws), columns, chunk=4))

    assert len(rows) == 10
    assert all(row[1] and row[2] == "alice@acme.test" and row[3] == [tag.name] for row in rows)


def test_export_rows_yield_every_lead_once_in_pk_order(ws, other_ws):
    leads = LeadFactory.create_batch(7, workspace=ws)
    LeadFactory.create_batch(2, workspace=other_ws)
    columns = lead_columns(ws, ["email"])

    rows = list(leads_export_rows(leads_for(ws).order_by("-created_at"), columns, chunk=3))

    assert rows == [[lead.email] for lead in sorted(leads, key=lambda lead: lead.pk)]


def test_export_rows_yield_a_lead_matched_twice_by_a_join_once(ws):
    vip, partner = TagFactory(workspace=ws), TagFactory(workspace=ws)
    both, one = LeadFactory(workspace=ws), LeadFactory(workspace=ws)
    both.tags.add(vip, partner)
    one.tags.add(vip)
    columns = lead_columns(ws, ["email"])

    rows = list(leads_export_rows(leads_for(ws).filter(tags__in=[vip, partner]), columns, chunk=1))

    assert rows == [[both.email], [one.email]]


def test_export_rows_ignore_a_callers_own_tags_prefetch(ws):
    LeadFactory(workspace=ws).tags.add(TagFactory(workspace=ws, name="vip"))
    columns = lead_columns(ws, ["tags"])

    assert list(leads_export_rows(leads_for(ws).prefetch_related("tags"), columns)) == [[["vip"]]]


# Downloads ------------------------------------------------------------------------------------


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_csv_download_is_an_attachment_named_with_the_date(ws):
    lead = LeadFactory(workspace=ws)

    response = export_response(
        None,
        filename_stem="leads",
        fmt="csv",
        columns=lead_columns(ws, ["email"]),
        queryset=leads_for(ws),
    )

    today = timezone.localdate().isoformat()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="leads-{today}.csv"'
    assert response["Cache-Control"] == "private, no-store"
    assert _body(response) == f"{BOM}Email\r\n{lead.email}\r\n".encode()


def test_xlsx_download_opens_in_openpyxl(ws):
    LeadFactory.create_batch(2, workspace=ws)

    response = export_response(
        None,
        filename_stem="leads",
        fmt="xlsx",
        columns=lead_columns(ws, ["email", "score"]),
        queryset=leads_for(ws),
    )

    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].endswith('.xlsx"')
    assert len(_xlsx([_body(response)])) == 3


def test_vcard_download_needs_no_columns(ws):
    LeadFactory.create_batch(2, workspace=ws)

    response = export_response(
        None, filename_stem="leads", fmt="vcf", columns=None, queryset=leads_for(ws)
    )

    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    assert _body(response).count(b"BEGIN:VCARD") == 2


def test_a_unicode_filename_gets_an_ascii_fallback_and_an_rfc_5987_name(ws):
    response = export_response(
        None,
        filename_stem='Überkunden – "München"/Süd',
        fmt="csv",
        columns=lead_columns(ws, ["email"]),
        queryset=leads_for(ws),
    )

    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="Uberkunden-Munchen-Sud-{today}.csv"; '
        f"filename*=UTF-8''%C3%9Cberkunden%20%E2%80%93%20-M%C3%BCnchen-S%C3%BCd-{today}.csv"
    )


def test_an_unknown_format_is_refused(ws):
    with pytest.raises(ValueError, match="pdf"):
        export_response(None, filename_stem="leads", fmt="pdf", columns=[], queryset=leads_for(ws))
