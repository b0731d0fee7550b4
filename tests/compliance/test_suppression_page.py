"""Settings → Suppression list (PRODUCT C4): counts, dates and reasons — never an address."""

import io

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.consent import suppression_add
from contacts.models import SuppressedEmail, SuppressionReason
from contacts.queries import suppression_check, suppression_hash
from leadcrm.models import AuditLog
from tests.contacts.factories import LeadFactory

PAGE = reverse("suppression")
ADD = reverse("suppression-add")
REMOVE = reverse("suppression-remove")


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def xlsx(*rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("persona, status", [("owner", 200), ("admin", 200), ("marketer", 200)])
def test_who_manages_the_list_sees_it(persona, status, team, as_member, request):
    assert as_member(request.getfixturevalue(persona)).get(PAGE).status_code == status


@pytest.mark.parametrize("persona", ["rep", "viewer"])
def test_others_are_refused_every_part_of_it(persona, team, as_member, request):
    client = as_member(request.getfixturevalue(persona))

    assert client.get(PAGE).status_code == 403
    assert client.post(ADD, {"addresses": "a@example.test"}).status_code == 403
    assert client.post(REMOVE, {"email": "a@example.test"}).status_code == 403
    assert not SuppressedEmail.objects.exists()


def test_typed_addresses_are_added_as_hashes_and_never_shown(ws, marketer, as_member):
    client = as_member(marketer)
    suppression_add(
        workspace=ws, email="old@example.test", reason=SuppressionReason.MANUAL, actor=None
    )

    response = client.post(
        ADD,
        {
            "addresses": "Ada@Example.test, bob@example.test;\nold@example.test  not-an@@address",
            "reason": SuppressionReason.COMPLAINT,
        },
        follow=True,
    )

    assert messages_of(response) == [
        "2 addresses added to the suppression list; 1 was already on it; "
        "1 entry was not a valid address."
    ]
    content = response.content.decode()
    for address in ("ada@example.test", "bob@example.test", "old@example.test"):
        assert suppression_check(workspace=ws, email=address)
        assert address not in content.lower()
    assert SuppressedEmail.objects.get(email_hash=suppression_hash("ADA@example.test")).reason == (
        SuppressionReason.COMPLAINT
    )
    assert "data-suppression-total>3<" in content
    assert AuditLog.objects.filter(action="suppression.add", changes__count=2).exists()


def test_an_uploaded_csv_or_workbook_adds_every_address_in_it(ws, admin, as_member):
    client = as_member(admin)
    csv = 'Name,Email,Note\r\nAda,ada@example.test,=HYPERLINK("x")\r\nBob,BOB@example.test,\r\n'

    client.post(ADD, {"file": SimpleUploadedFile("list.csv", csv.encode()), "reason": "bounced"})
    client.post(
        ADD,
        {
            "file": SimpleUploadedFile("list.xlsx", xlsx(["Email"], ["cy@example.test"])),
            "reason": "manual",
        },
    )

    assert {e.reason for e in SuppressedEmail.objects.filter(workspace=ws)} == {"bounced", "manual"}
    for address in ("ada@example.test", "bob@example.test", "cy@example.test"):
        assert suppression_check(workspace=ws, email=address)


def test_the_message_says_which_leads_can_no_longer_be_mailed(ws, marketer, as_member):
    LeadFactory(workspace=ws, email="lead@example.test")

    response = as_member(marketer).post(ADD, {"addresses": "LEAD@example.test"}, follow=True)

    assert "1 lead of this workspace has one of these addresses" in messages_of(response)[0]


@pytest.mark.parametrize(
    "data, error",
    [
        ({"addresses": ""}, "No email address was found"),
        ({"addresses": "nobody, =cmd|' /C calc'!A0"}, "No email address was found"),
        ({"addresses": "a@example.test", "reason": "erased"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_explained_and_changes_nothing(data, error, marketer, as_member):
    response = as_member(marketer).post(ADD, data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SuppressedEmail.objects.exists()


def test_an_unreadable_or_too_big_file_is_refused(marketer, as_member, settings):
    client = as_member(marketer)
    broken = SimpleUploadedFile("list.xlsx", b"PK\x03\x04 not really a workbook")

    response = client.post(ADD, {"file": broken})
    assert response.status_code == 400

    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    big = SimpleUploadedFile("big.csv", b"email\r\n" + b"someone@example.test\r\n" * 10)
    response = client.post(ADD, {"file": big})
    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    assert not SuppressedEmail.objects.exists()


def test_an_entry_is_removed_by_typing_its_address(ws, marketer, as_member):
    suppression_add(
        workspace=ws, email="ada@example.test", reason=SuppressionReason.MANUAL, actor=None
    )

    response = as_member(marketer).post(REMOVE, {"email": "  ADA@example.test "}, follow=True)

    assert "can be imported and mailed again" in messages_of(response)[0]
    assert not suppression_check(workspace=ws, email="ada@example.test")
    assert AuditLog.objects.filter(action="suppression.remove").exists()


def test_removing_an_address_not_on_the_list_says_so(marketer, as_member):
    response = as_member(marketer).post(REMOVE, {"email": "nobody@example.test"})

    assert response.status_code == 400
    assert "not on the suppression list" in response.content.decode()


def test_an_erased_persons_entry_cannot_be_removed(ws, owner, as_member):
    suppression_add(
        workspace=ws, email="gone@example.test", reason=SuppressionReason.ERASED, actor=None
    )

    response = as_member(owner).post(REMOVE, {"email": "gone@example.test"})

    assert response.status_code == 400
    assert "erased under the GDPR" in response.content.decode()
    assert suppression_check(workspace=ws, email="gone@example.test")


def test_the_list_is_per_workspace(ws, other_ws, marketer, outsider, as_member):
    suppression_add(
        workspace=other_ws, email="theirs@example.test", reason="manual", actor=outsider.user
    )

    as_member(marketer).post(ADD, {"addresses": "mine@example.test"})
    response = as_member(marketer).post(REMOVE, {"email": "theirs@example.test"})

    assert response.status_code == 400
    assert suppression_check(workspace=other_ws, email="theirs@example.test")
    assert not suppression_check(workspace=other_ws, email="mine@example.test")
    assert "data-suppression-total>1<" in as_member(marketer).get(PAGE).content.decode()


def test_the_page_lists_entries_newest_first_with_bounded_queries(
    ws, marketer, as_member, django_assert_max_num_queries
):
    for i in range(60):
        suppression_add(
            workspace=ws, email=f"p{i}@example.test", reason="manual", actor=marketer.user
        )
    client = as_member(marketer)

    with django_assert_max_num_queries(12):
        response = client.get(PAGE)

    content = response.content.decode()
    assert content.count("data-entry=") == 50
    assert 'data-reason="Added by hand">60<' in content
    assert suppression_hash("p59@example.test")[:12] in content
    second = client.get(PAGE, {"page": 2}, headers={"HX-Request": "true", "HX-Target": "entries"})
    assert second.content.decode().count("data-entry=") == 10
    assert "<html" not in second.content.decode()
