"""GDPR erasure in bulk (PRODUCT C6): Settings → GDPR erasure (an uploaded or typed list), a
request's progress and report, and "Erase (GDPR)…" on the leads list's selection."""

import json
import tempfile
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from compliance import erasure_views
from compliance.erasure import erasure_request_create
from compliance.models import ErasureRequest
from contacts.models import Lead, LeadStatus, SuppressedEmail
from contacts.queries import suppression_check
from tests.conftest import login
from tests.contacts.factories import ActivityFactory, LeadFactory

LIST_URL = reverse("erasure")
SELECTION_URL = reverse("compliance:selection-erase")
BULK_URL = reverse("pipeline:lead-bulk")
CONFIRM = "I understand erased leads cannot be recovered"


def detail_url(erasure: ErasureRequest) -> str:
    return reverse("erasure-detail", args=[erasure.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def csv_file(*emails: str, name: str = "dsr.csv") -> SimpleUploadedFile:
    rows = ["Email,Note", *(f"{email},request" for email in emails)]
    return SimpleUploadedFile(name, "\n".join(rows).encode(), content_type="text/csv")


@pytest.fixture
def alice(owner):
    return login(owner)


@pytest.fixture
def temp_dirs(settings, tmp_path, monkeypatch):
    """Uploads spill to a temporary file in a system temp dir of the test's own, so both it
    and the import directory's tmp/ can be checked for leftovers."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    settings.FILE_UPLOAD_TEMP_DIR = None
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes to a temporary file
    return [system_tmp, settings.IMPORT_DIR / "tmp"]


def leftovers(dirs) -> list[str]:
    return [str(path) for directory in dirs if directory.exists() for path in directory.iterdir()]


# Settings → GDPR erasure: an uploaded list ----------------------------------------------------


def test_an_uploaded_list_erases_the_matching_leads_and_suppresses_every_address(
    ws, other_ws, alice, temp_dirs, django_capture_on_commit_callbacks
):
    ada = LeadFactory(workspace=ws, email="ada@example.test")
    bob = LeadFactory(workspace=ws, email="Bob.Smith@Example.test")
    ActivityFactory(lead=ada)
    kept = LeadFactory(workspace=ws, email="kept@example.test")
    theirs = LeadFactory(workspace=other_ws, email="carol@globex.test")
    emails = ["ADA@example.test", "bob.smith@example.test", "nobody@example.test", theirs.email]

    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            LIST_URL,
            {"reference": "DSR-117", "file": csv_file(*emails), "confirm": "on"},
        )

    erasure = ErasureRequest.objects.get()
    assert response.status_code == 302 and response.url == detail_url(erasure)
    assert not Lead.objects.filter(pk__in=[ada.pk, bob.pk]).exists()
    assert Lead.objects.filter(pk__in=[kept.pk, theirs.pk]).count() == 2
    for email in emails:
        assert suppression_check(workspace=ws, email=email)
    assert not suppression_check(workspace=other_ws, email=theirs.email)
    assert erasure.status == ErasureRequest.Status.DONE
    assert (erasure.origin, erasure.reference) == ("upload", "DSR-117")
    assert (erasure.leads_total, erasure.leads_erased, erasure.addresses_total) == (2, 2, 4)
    assert erasure.report["leads"] == 2
    assert erasure.report["activities"] >= 1
    assert erasure.report["addresses suppressed"] == 4
    assert leftovers(temp_dirs) == []

    page = alice.get(detail_url(erasure)).content.decode()
    assert "Erased 2 leads" in page
    assert "4 addresses on the suppression list" in page
    assert "2 addresses matched no lead; they are on the suppression list" in page
    assert "DSR-117" in page
    for email in [*emails, "bob.smith", "carol@globex"]:
        assert email.lower() not in page.lower()


def test_a_request_holds_no_address_and_nothing_is_left_to_do_once_done(
    ws, alice, django_capture_on_commit_callbacks
):
    LeadFactory(workspace=ws, email="ada@example.test")

    with django_capture_on_commit_callbacks() as callbacks:  # queued, not run yet
        alice.post(
            LIST_URL,
            {"addresses": "ada@example.test; nobody@example.test", "confirm": "on"},
        )
    erasure = ErasureRequest.objects.get()
    stored = json.dumps([erasure.lead_ids, erasure.email_hashes, erasure.report, erasure.error])
    assert "@" not in stored + erasure.reference
    assert len(erasure.lead_ids) == 1 and len(erasure.email_hashes) == 2

    for callback in callbacks:  # the worker runs
        callback()

    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.DONE
    assert erasure.lead_ids == [] and erasure.email_hashes == []
    assert "@" not in json.dumps(erasure.report)


def test_typed_addresses_and_a_file_count_together(ws, alice, django_capture_on_commit_callbacks):
    ada = LeadFactory(workspace=ws, email="ada@example.test")
    bob = LeadFactory(workspace=ws, email="bob@example.test")

    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            LIST_URL,
            {
                "file": csv_file("ada@example.test"),
                "addresses": "Bob@Example.test\nada@example.test\nnot-an@address",
                "confirm": "on",
            },
        )

    assert response.status_code == 302
    assert not Lead.objects.filter(pk__in=[ada.pk, bob.pk]).exists()
    assert ErasureRequest.objects.get().addresses_total == 2
    assert messages_of(response) == [
        "Erasure requested for 2 addresses: 2 leads to erase. 1 entries with an “@” were "
        "not addresses: skipped."
    ]


def test_the_confirmation_box_is_required(ws, alice, temp_dirs):
    lead = LeadFactory(workspace=ws, email="ada@example.test")

    response = alice.post(LIST_URL, {"file": csv_file(lead.email), "addresses": lead.email})

    assert response.status_code == 400
    assert "Tick the box to confirm" in response.content.decode()
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert not ErasureRequest.objects.exists()
    assert leftovers(temp_dirs) == []


def test_a_list_without_any_address_is_refused(ws, alice):
    response = alice.post(LIST_URL, {"addresses": "nobody at all, x@", "confirm": "on"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "No email address was found" in page
    assert "1 entries with an “@” are not valid addresses" in page
    assert not ErasureRequest.objects.exists()


def test_an_empty_form_is_refused(ws, alice):
    response = alice.post(LIST_URL, {"confirm": "on"})

    assert response.status_code == 400
    assert "No email address was found" in response.content.decode()
    assert not ErasureRequest.objects.exists()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("list.xlsx", b"PK\x03\x04 not a workbook \x00\xff" * 20, "not a readable Excel workbook"),
        ("list.bin", bytes(range(256)) * 10, "is not a text file we can read"),
        ("list.csv", b"", "The file is empty."),
    ],
)
def test_an_unreadable_file_is_refused_and_left_nowhere(
    ws, alice, temp_dirs, name, content, message
):
    lead = LeadFactory(workspace=ws, email="ada@example.test")

    response = alice.post(LIST_URL, {"file": SimpleUploadedFile(name, content), "confirm": "on"})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert not ErasureRequest.objects.exists()
    assert not SuppressedEmail.objects.exists()
    assert leftovers(temp_dirs) == []


def test_a_too_big_file_is_refused(ws, alice, settings, temp_dirs):
    settings.IMPORT_MAX_UPLOAD_BYTES = 20
    lead = LeadFactory(workspace=ws, email="ada@example.test")

    response = alice.post(
        LIST_URL, {"file": csv_file(lead.email, "b@example.test"), "confirm": "on"}
    )

    assert response.status_code == 400
    assert "is larger than" in response.content.decode()
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert not ErasureRequest.objects.exists()
    assert leftovers(temp_dirs) == []


# The list of requests and a request's page ----------------------------------------------------


def test_the_page_lists_past_requests_newest_first(ws, owner, alice):
    lead = LeadFactory(workspace=ws)
    older = erasure_request_create(
        workspace=ws, actor=owner.user, origin="upload", emails=["x@example.test"], enqueue=False
    )
    newer = erasure_request_create(
        workspace=ws, actor=owner.user, origin="selection", lead_ids=[lead.pk], enqueue=False
    )
    ErasureRequest.objects.filter(pk=older.pk).update(
        created_at=timezone.now() - timedelta(minutes=1)  # queued, not yet stale
    )

    page = alice.get(LIST_URL).content.decode()

    assert page.index(f'data-erasure="{newer.pk}"') < page.index(f'data-erasure="{older.pk}"')
    assert "Selected leads" in page and "Uploaded list" in page
    assert 'hx-trigger="every 2s"' in page  # both still waiting for a worker


def test_a_request_whose_worker_died_resumes_when_the_page_opens(ws, owner, alice):
    lead = LeadFactory(workspace=ws)
    erasure = erasure_request_create(
        workspace=ws, actor=owner.user, origin="selection", lead_ids=[lead.pk], enqueue=False
    )
    ErasureRequest.objects.filter(pk=erasure.pk).update(
        status=ErasureRequest.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )

    response = alice.get(LIST_URL)

    assert response.status_code == 200
    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.DONE
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_a_running_request_polls_every_two_seconds_and_stops_when_done(ws, owner, alice):
    lead = LeadFactory(workspace=ws)
    erasure = erasure_request_create(
        workspace=ws, actor=owner.user, origin="selection", lead_ids=[lead.pk], enqueue=False
    )

    running = alice.get(detail_url(erasure), headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in running
    assert "<progress" in running and "<html" not in running

    ErasureRequest.objects.filter(pk=erasure.pk).update(
        status=ErasureRequest.Status.DONE, leads_erased=1, report={"leads": 1}
    )
    done = alice.get(detail_url(erasure), headers={"HX-Request": "true"}).content.decode()
    assert "every 2s" not in done
    assert "Erased 1 lead." in done


def test_a_single_lead_erasure_has_a_report_page(ws, owner, alice):
    from compliance.erasure import lead_erase

    lead = LeadFactory(workspace=ws, email="solo@example.test")
    ActivityFactory(lead=lead)
    erasure = lead_erase(lead=lead, actor=owner.user, confirmation="solo@example.test")

    response = alice.get(detail_url(erasure))

    page = response.content.decode()
    assert response.status_code == 200
    assert "One lead" in page
    assert "Erased 1 lead and 1 activity." in page
    assert "solo@example.test" not in page
    assert "matched no lead" not in page


def test_a_failed_request_says_so(ws, owner, alice):
    erasure = erasure_request_create(
        workspace=ws, actor=owner.user, origin="upload", emails=["x@example.test"], enqueue=False
    )
    ErasureRequest.objects.filter(pk=erasure.pk).update(
        status=ErasureRequest.Status.FAILED, error="OperationalError: database is locked"
    )

    page = alice.get(detail_url(erasure)).content.decode()

    assert "The erasure stopped with an error" in page
    assert "every 2s" not in page


# A selection of the leads list ---------------------------------------------------------------


def test_the_bulk_bar_offers_erasure_to_owners_only(ws, owner, marketer):
    LeadFactory(workspace=ws)

    assert 'value="gdpr_erase"' in login(owner).get(reverse("pipeline:lead-list")).content.decode()
    page = login(marketer).get(reverse("pipeline:lead-list")).content.decode()
    assert 'value="gdpr_erase"' not in page


def test_erase_from_the_bulk_bar_asks_for_confirmation_first(ws, alice):
    leads = LeadFactory.create_batch(3, workspace=ws)

    response = alice.post(
        BULK_URL,
        {"action": "gdpr_erase", "lead": [leads[0].pk, leads[1].pk], "query": "q=x"},
        follow=True,
    )

    assert response.redirect_chain == [(SELECTION_URL, 307)]
    page = response.content.decode()
    assert "Erase 2 leads?" in page
    assert 'name="confirmation"' in page
    assert f'name="lead" value="{leads[0].pk}"' in page
    assert Lead.objects.filter(workspace=ws).count() == 3
    assert not ErasureRequest.objects.exists()


def test_confirmed_selected_leads_are_erased(ws, alice, django_capture_on_commit_callbacks):
    leads = LeadFactory.create_batch(3, workspace=ws)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            SELECTION_URL,
            {"lead": [leads[0].pk, leads[1].pk], "query": "", "confirmation": "2"},
        )

    erasure = ErasureRequest.objects.get()
    assert response.status_code == 302 and response.url == detail_url(erasure)
    assert erasure.origin == "selection" and erasure.leads_erased == 2
    assert list(Lead.objects.filter(workspace=ws)) == [leads[2]]
    assert messages_of(response) == ["Erasing 2 leads."]


def test_all_matching_erases_every_lead_the_filters_match(
    ws, alice, django_capture_on_commit_callbacks
):
    qualified = LeadFactory.create_batch(30, workspace=ws, status=LeadStatus.QUALIFIED)
    new = LeadFactory.create_batch(2, workspace=ws, status=LeadStatus.NEW)
    selection = {"lead": [qualified[0].pk], "all_matching": "1", "query": "status=qualified"}

    asked = alice.post(SELECTION_URL, selection)
    assert "Erase 30 leads?" in asked.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(SELECTION_URL, {**selection, "confirmation": "ERASE"})

    assert list(Lead.objects.filter(workspace=ws).order_by("pk")) == new
    assert ErasureRequest.objects.get().leads_erased == 30


@pytest.mark.parametrize("typed", ["", "3", "erase it", "1"])
def test_a_wrong_confirmation_erases_nothing(ws, alice, typed):
    leads = LeadFactory.create_batch(2, workspace=ws)

    response = alice.post(
        SELECTION_URL, {"lead": [x.pk for x in leads], "query": "", "confirmation": typed}
    )

    assert response.status_code == 400
    assert "Type 2" in response.content.decode()
    assert Lead.objects.filter(workspace=ws).count() == 2
    assert not ErasureRequest.objects.exists()


def test_selected_ids_of_another_workspace_are_never_erased(
    ws, other_ws, alice, django_capture_on_commit_callbacks
):
    mine = LeadFactory(workspace=ws)
    theirs = LeadFactory(workspace=other_ws)
    selection = {"lead": [mine.pk, theirs.pk], "query": ""}

    assert "Erase 1 lead?" in alice.post(SELECTION_URL, selection).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(SELECTION_URL, {**selection, "confirmation": "1"})

    assert not Lead.objects.filter(pk=mine.pk).exists()
    assert Lead.objects.filter(pk=theirs.pk).exists()
    assert ErasureRequest.objects.get().leads_total == 1


def test_only_another_workspaces_leads_selected_erases_nothing(ws, other_ws, alice):
    theirs = LeadFactory(workspace=other_ws)

    response = alice.post(SELECTION_URL, {"lead": [theirs.pk], "query": "", "confirmation": "1"})

    assert response.status_code == 302
    assert messages_of(response) == [
        "None of the selected leads exists any more: nothing to erase."
    ]
    assert Lead.objects.filter(pk=theirs.pk).exists()
    assert not ErasureRequest.objects.exists()


def test_an_empty_selection_goes_back_to_the_list(ws, alice):
    response = alice.post(SELECTION_URL, {"query": "status=new"})

    assert response.status_code == 302
    assert response.url == reverse("pipeline:lead-list") + "?status=new"
    assert messages_of(response) == ["Select at least one lead to erase."]


def test_a_selection_over_the_cap_is_refused(ws, alice, monkeypatch):
    monkeypatch.setattr(erasure_views, "MAX_LEADS", 2)
    LeadFactory.create_batch(3, workspace=ws)

    response = alice.post(
        SELECTION_URL, {"all_matching": "1", "query": "", "confirmation": "ERASE"}
    )

    assert response.status_code == 302
    assert "More than 2 leads are selected" in messages_of(response)[0]
    assert Lead.objects.filter(workspace=ws).count() == 3
    assert not ErasureRequest.objects.exists()


# Who may ------------------------------------------------------------------------------------


def test_owners_and_admins_open_the_erasure_page(owner, admin):
    for member in (owner, admin):
        assert login(member).get(LIST_URL).status_code == 200


@pytest.mark.parametrize("role", ["marketer", "rep", "viewer"])
def test_other_roles_cannot_erase(ws, role, request):
    member = request.getfixturevalue(role)
    client = login(member)
    lead = LeadFactory(workspace=ws, email="ada@example.test")
    erasure = erasure_request_create(
        workspace=ws, actor=None, origin="selection", lead_ids=[lead.pk], enqueue=False
    )

    assert client.get(LIST_URL).status_code == 403
    assert client.post(LIST_URL, {"addresses": lead.email, "confirm": "on"}).status_code == 403
    assert client.get(detail_url(erasure)).status_code == 403
    selection = {"lead": [lead.pk], "query": "", "confirmation": "1"}
    assert client.post(SELECTION_URL, selection).status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert ErasureRequest.objects.count() == 1


def test_another_workspaces_request_is_not_found(other_ws, outsider, alice):
    theirs = erasure_request_create(
        workspace=other_ws, actor=None, origin="upload", emails=["x@globex.test"], enqueue=False
    )

    assert alice.get(detail_url(theirs)).status_code == 404


def test_the_pages_refuse_the_wrong_method(ws, owner, alice):
    erasure = erasure_request_create(
        workspace=ws, actor=owner.user, origin="upload", emails=["x@example.test"], enqueue=False
    )

    assert alice.post(detail_url(erasure)).status_code == 405
    assert alice.get(SELECTION_URL).status_code == 405
    assert alice.put(LIST_URL).status_code == 405


def test_the_history_answers_htmx_with_its_fragment(ws, alice):
    response = alice.get(LIST_URL, headers={"HX-Request": "true"})

    page = response.content.decode()
    assert 'id="erasure-history"' in page and "<html" not in page


def test_the_page_runs_a_constant_number_of_queries(
    ws, owner, admin, alice, django_assert_max_num_queries
):
    for member in [owner, admin] * 5:
        erasure_request_create(
            workspace=ws, actor=member.user, origin="upload", emails=["x@e.test"], enqueue=False
        )

    with django_assert_max_num_queries(8):
        response = alice.get(LIST_URL)

    assert response.content.decode().count("data-erasure=") == 10
