"""Export of the leads list: the current filter with the visible columns (PRODUCT L8, W2)."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from contacts.models import CustomFieldType, LeadStatus
from pipeline.models import LeadListPreference
from tests.conftest import login
from tests.contacts.factories import CompanyFactory, CustomFieldFactory, LeadFactory, TagFactory

URL = reverse("pipeline:lead-export")
DEFAULT_HEADER = [
    "First name",
    "Last name",
    "Email",
    "Company",
    "Status",
    "Score",
    "Owner",
    "Last activity at",
]


@pytest.fixture
def alice(owner):
    return login(owner)


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[list[str]]:
    text = content(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(content(response)), read_only=True)["Leads"]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def columns(ws, membership, keys: list[str]) -> None:
    LeadListPreference.objects.create(workspace=ws, user=membership.user, columns=keys)


# CSV and XLSX --------------------------------------------------------------------------------


def test_csv_export_has_the_default_columns_and_a_row_per_lead(ws, owner, alice):
    acme = CompanyFactory(workspace=ws, name="Acme Rockets")
    LeadFactory(
        workspace=ws,
        email="ada@one.lead",
        first_name="Ada",
        last_name="Lovelace",
        company=acme,
        status=LeadStatus.QUALIFIED,
        score=42,
        owner=owner.user,
    )

    rows = csv_rows(alice.get(URL, {"format": "csv"}))

    assert rows == [
        DEFAULT_HEADER,
        [
            "Ada",
            "Lovelace",
            "ada@one.lead",
            "Acme Rockets",
            "Qualified",
            "42",
            owner.user.email,
            "",
        ],
    ]


def test_csv_export_is_a_dated_attachment(alice):
    response = alice.get(URL, {"format": "csv"})

    today = timezone.localdate().isoformat()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="leads-{today}.csv"'
    assert response["Cache-Control"] == "private, no-store"


def test_format_defaults_to_csv(ws, alice):
    LeadFactory(workspace=ws, email="ada@one.lead")

    response = alice.get(URL)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_rows(response)[0] == DEFAULT_HEADER


def test_xlsx_export_has_the_same_rows_with_numbers_as_numbers(ws, alice):
    LeadFactory(workspace=ws, email="ada@one.lead", first_name="Ada", last_name="L", score=42)

    response = alice.get(URL, {"format": "xlsx"})

    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    rows = xlsx_rows(response)
    assert rows[0] == DEFAULT_HEADER
    assert rows[1][:3] == ["Ada", "L", "ada@one.lead"]
    assert rows[1][5] == 42


@pytest.mark.parametrize("fmt", ["pdf", "vcard", "", "CSV"])
def test_other_formats_are_refused(alice, fmt):
    response = alice.get(URL, {"format": fmt})

    assert response.status_code == 400
    assert response.content == b"Choose csv, xlsx or vcf."


def test_all_columns_exports_every_field_whatever_the_list_shows(ws, owner, alice):
    CustomFieldFactory(workspace=ws, key="industry", label="Industry")
    LeadFactory(workspace=ws, email="ada@one.lead", attributes={"industry": "SaaS"})
    columns(ws, owner, ["email"])

    rows = csv_rows(alice.get(URL, {"format": "csv", "columns": "all"}))

    assert rows[0][:3] == ["Email", "Secondary emails", "First name"]
    assert "Consent status" in rows[0] and rows[0][-1] == "Industry"
    assert rows[1][0] == "ada@one.lead" and rows[1][-1] == "SaaS"


def test_the_workspace_exports_as_vcards(ws, alice):
    LeadFactory(workspace=ws, email="ada@one.lead", first_name="Ada", last_name="Lovelace")
    LeadFactory(workspace=ws, email="bob@two.lead", first_name="Bob", last_name="Byte")

    response = alice.get(URL, {"format": "vcf"})

    text = content(response).decode()
    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    assert text.count("BEGIN:VCARD") == 2
    assert "FN:Ada Lovelace" in text and "EMAIL;TYPE=INTERNET,PREF:bob@two.lead" in text


# What is exported ----------------------------------------------------------------------------


def test_export_has_only_the_leads_of_the_current_filter(ws, alice):
    LeadFactory(workspace=ws, email="new@one.lead", status=LeadStatus.NEW)
    LeadFactory(workspace=ws, email="won@one.lead", status=LeadStatus.CONVERTED)

    rows = csv_rows(alice.get(URL, {"format": "csv", "status": "converted"}))

    assert [row[2] for row in rows[1:]] == ["won@one.lead"]


def test_export_has_only_the_leads_of_the_current_search(ws, alice):
    LeadFactory(workspace=ws, email="zoe@one.lead", first_name="Zoë")
    LeadFactory(workspace=ws, email="ada@one.lead", first_name="Ada")

    rows = csv_rows(alice.get(URL, {"format": "csv", "q": "ZOË"}))

    assert [row[2] for row in rows[1:]] == ["zoe@one.lead"]


def test_export_covers_every_page_not_just_the_first(ws, alice):
    LeadFactory.create_batch(60, workspace=ws)

    rows = csv_rows(alice.get(URL, {"format": "csv", "page": "1", "per_page": "25"}))

    assert len(rows) == 61


def test_export_leaves_out_trashed_leads(ws, alice):
    LeadFactory(workspace=ws, email="live@one.lead")
    LeadFactory(workspace=ws, email="gone@one.lead", deleted_at=datetime(2025, 1, 1, tzinfo=UTC))

    rows = csv_rows(alice.get(URL, {"format": "csv"}))

    assert [row[2] for row in rows[1:]] == ["live@one.lead"]


def test_export_has_the_members_chosen_columns_in_their_order(ws, owner, alice):
    columns(ws, owner, ["source", "email", "tags"])
    ada = LeadFactory(workspace=ws, email="ada@one.lead", source="Trade fair")
    ada.tags.add(TagFactory(workspace=ws, name="vip"), TagFactory(workspace=ws, name="hot"))

    rows = csv_rows(alice.get(URL, {"format": "csv"}))

    assert rows == [["Source", "Email", "Tags"], ["Trade fair", "ada@one.lead", "hot; vip"]]


def test_export_has_custom_field_columns(ws, owner, alice):
    CustomFieldFactory(workspace=ws, key="industry", label="Industry")
    CustomFieldFactory(workspace=ws, key="renewal", label="Renewal", type=CustomFieldType.DATE)
    columns(ws, owner, ["email", "cf.industry", "cf.renewal"])
    LeadFactory(
        workspace=ws,
        email="ada@one.lead",
        attributes={"industry": "Rocketry", "renewal": "2025-03-31"},
    )

    rows = csv_rows(alice.get(URL, {"format": "csv"}))

    assert rows == [["Email", "Industry", "Renewal"], ["ada@one.lead", "Rocketry", "2025-03-31"]]


def test_export_leaves_out_columns_the_list_no_longer_shows(ws, owner, alice):
    CustomFieldFactory(workspace=ws, key="old", label="Old", retired_at=timezone.now())
    CustomFieldFactory(workspace=ws, key="purged", label="Purged", deleting=True)
    columns(ws, owner, ["email", "cf.old", "cf.purged", "cf.never", "nonsense"])
    LeadFactory(workspace=ws, email="ada@one.lead", attributes={"old": "x", "purged": "y"})

    response = alice.get(URL, {"format": "csv"})

    assert response.status_code == 200
    assert csv_rows(response) == [["Email"], ["ada@one.lead"]]


# Formula injection (OWASP) -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "\nx"])
def test_csv_cells_that_start_like_a_formula_are_prefixed(ws, alice, text):
    LeadFactory(workspace=ws, email="ada@one.lead", first_name=text)

    rows = csv_rows(alice.get(URL, {"format": "csv"}))

    assert rows[1][0] == "'" + text


def test_xlsx_cells_that_start_like_a_formula_are_prefixed(ws, alice):
    company = CompanyFactory(workspace=ws, name='=HYPERLINK("http://evil")')
    LeadFactory(workspace=ws, email="ada@one.lead", first_name="@SUM(1)", company=company)

    row = xlsx_rows(alice.get(URL, {"format": "xlsx"}))[1]

    assert row[0] == "'@SUM(1)"
    assert row[3] == '\'=HYPERLINK("http://evil")'


def test_plain_text_is_exported_unchanged(ws, alice):
    LeadFactory(workspace=ws, email="ada@one.lead", first_name="Zoë 😀", last_name="O'Neil")

    rows = csv_rows(alice.get(URL, {"format": "csv"}))

    assert rows[1][:2] == ["Zoë 😀", "O'Neil"]


# Who may export (W2/W3) ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin", "marketer"])
def test_admins_and_marketers_may_export(ws, request, persona):
    LeadFactory(workspace=ws)

    response = login(request.getfixturevalue(persona)).get(URL, {"format": "csv"})

    assert response.status_code == 200
    assert len(csv_rows(response)) == 2


def test_rep_cannot_export_leads(ws, rep):
    LeadFactory(workspace=ws, owner=rep.user)

    assert login(rep).get(URL, {"format": "csv"}).status_code == 403


def test_viewer_cannot_export_leads(ws, viewer):
    assert login(viewer).get(URL, {"format": "csv"}).status_code == 403


def test_outsider_export_has_none_of_acmes_leads(ws, other_ws, outsider):
    LeadFactory(workspace=ws, email="acme@secret.lead")
    LeadFactory(workspace=other_ws, email="globex@own.lead")

    rows = csv_rows(login(outsider).get(URL, {"format": "csv"}))

    assert [row[2] for row in rows[1:]] == ["globex@own.lead"]


def test_it_rejects_post(alice):
    assert alice.post(URL, {"format": "csv"}).status_code == 405


def test_it_sends_anonymous_visitors_to_log_in(db, client):
    response = client.get(URL, {"format": "csv"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "params",
    [
        {"q": "\x00"},
        {"q": "'; DROP TABLE contacts_lead; --"},
        {"company": "9" * 40},
        {"tags": "9" * 40},
        {"score_min": "1e400"},
        {"created_after": "2025-02-30"},
        {"owner": "<script>"},
    ],
    ids=["nul", "sql", "huge company id", "huge tag id", "exponent", "no such day", "script"],
)
def test_naughty_filters_never_break_the_export(ws, alice, params):
    LeadFactory(workspace=ws)

    response = alice.get(URL, {"format": "csv", **params})

    assert response.status_code == 200
    assert csv_rows(response)[0] == DEFAULT_HEADER
