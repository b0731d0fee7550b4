"""Settings → General (PRODUCT W4): rename, transfer ownership, delete the workspace."""

import pytest
from django.urls import reverse

from leadcrm.models import AuditLog, Membership, Workspace
from leadcrm.roles import ADMIN, OWNER, SALES_REP

GENERAL = reverse("settings-general")
RENAME = reverse("workspace-rename")
TRANSFER = reverse("ownership-transfer")
DELETE = reverse("workspace-delete")


# The page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owner_and_admin_see_the_general_page(persona, team, as_member, request):
    response = as_member(request.getfixturevalue(persona)).get(GENERAL)

    assert response.status_code == 200
    assert 'value="Acme"' in response.content.decode()


@pytest.mark.parametrize("persona", ["marketer", "rep", "viewer"])
def test_roles_without_workspace_settings_get_403_on_the_general_page(
    persona, team, as_member, request
):
    response = as_member(request.getfixturevalue(persona)).get(GENERAL)

    assert response.status_code == 403


def test_anonymous_visitor_is_sent_to_login_from_the_general_page(client, ws):
    response = client.get(GENERAL)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_owner_is_offered_transfer_and_delete(owner, admin, as_member):
    content = as_member(owner).get(GENERAL).content.decode()

    assert "Transfer ownership" in content
    assert "Delete this workspace" in content


def test_admin_is_not_offered_transfer_nor_delete(owner, admin, as_member):
    content = as_member(admin).get(GENERAL).content.decode()

    assert TRANSFER not in content
    assert DELETE not in content


def test_post_to_the_general_page_is_405(owner, as_member):
    assert as_member(owner).post(GENERAL).status_code == 405


def test_settings_sends_the_owner_to_general(owner, as_member):
    response = as_member(owner).get(reverse("settings"))

    assert response.status_code == 302
    assert response.url == GENERAL


def test_settings_is_403_for_a_viewer(viewer, as_member):
    response = as_member(viewer).get(reverse("settings"))

    assert response.status_code == 403


# Rename ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owner_and_admin_rename_the_workspace(persona, ws, team, as_member, request):
    response = as_member(request.getfixturevalue(persona)).post(RENAME, {"name": " Acme Inc "})

    assert response.status_code == 302
    assert response.url == GENERAL
    ws.refresh_from_db()
    assert ws.name == "Acme Inc"


def test_renamed_workspace_shows_its_new_name(ws, owner, as_member):
    response = as_member(owner).post(RENAME, {"name": "Acme Inc"}, follow=True)

    assert "Workspace renamed to “Acme Inc”." in response.content.decode()
    assert 'value="Acme Inc"' in response.content.decode()


def test_rename_is_audited_with_old_and_new_name(ws, owner, as_member):
    as_member(owner).post(RENAME, {"name": "Acme Inc"})

    entry = AuditLog.objects.get(action="workspace.rename")
    assert entry.workspace == ws
    assert entry.actor == owner.user
    assert entry.changes == {"name": ["Acme", "Acme Inc"]}


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_is_refused_and_nothing_changes(name, ws, owner, as_member):
    response = as_member(owner).post(RENAME, {"name": name})

    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    ws.refresh_from_db()
    assert ws.name == "Acme"
    assert not AuditLog.objects.filter(action="workspace.rename").exists()


def test_keeping_the_same_name_writes_no_audit_entry(ws, owner, as_member):
    as_member(owner).post(RENAME, {"name": "Acme"})

    assert not AuditLog.objects.filter(action="workspace.rename").exists()


def test_marketer_cannot_rename_the_workspace(ws, marketer, as_member):
    response = as_member(marketer).post(RENAME, {"name": "Mine now"})

    assert response.status_code == 403
    ws.refresh_from_db()
    assert ws.name == "Acme"


def test_get_on_the_rename_endpoint_is_405(owner, as_member):
    assert as_member(owner).get(RENAME).status_code == 405


def test_renaming_touches_only_the_current_workspace(ws, owner, other_ws, as_member):
    as_member(owner).post(RENAME, {"name": "Acme Inc"})

    other_ws.refresh_from_db()
    assert other_ws.name == "Globex"


# Transfer ownership ------------------------------------------------------------------------


def test_owner_transfers_ownership_to_an_admin(owner, admin, as_member):
    response = as_member(owner).post(TRANSFER, {"to": admin.pk})

    assert response.status_code == 302
    assert response.url == reverse("home")
    admin.refresh_from_db()
    owner.refresh_from_db()
    assert admin.role.name == OWNER
    assert owner.role.name == ADMIN


def test_transfer_is_audited_as_two_role_changes(owner, admin, as_member):
    as_member(owner).post(TRANSFER, {"to": admin.pk})

    changes = {
        e.object_id: e.changes["role"]
        for e in AuditLog.objects.filter(action="member.role_change", actor=owner.user)
    }
    assert changes == {str(admin.pk): [ADMIN, OWNER], str(owner.pk): [OWNER, ADMIN]}


def test_admin_cannot_transfer_ownership(owner, admin, rep, as_member):
    response = as_member(admin).post(TRANSFER, {"to": rep.pk})

    assert response.status_code == 403
    rep.refresh_from_db()
    admin.refresh_from_db()
    assert rep.role.name == SALES_REP
    assert admin.role.name == ADMIN


def test_transfer_to_another_workspaces_member_is_refused(owner, outsider, as_member):
    response = as_member(owner).post(TRANSFER, {"to": outsider.pk})

    assert response.status_code == 400
    owner.refresh_from_db()
    assert owner.role.name == OWNER


def test_transfer_without_a_choice_is_refused(owner, admin, as_member):
    response = as_member(owner).post(TRANSFER, {})

    assert response.status_code == 400
    owner.refresh_from_db()
    assert owner.role.name == OWNER


def test_get_on_the_transfer_endpoint_is_405(owner, as_member):
    assert as_member(owner).get(TRANSFER).status_code == 405


# Delete ------------------------------------------------------------------------------------


def test_deleting_with_the_wrong_name_is_refused_and_nothing_is_deleted(
    ws, owner, admin, as_member
):
    response = as_member(owner).post(DELETE, {"confirm_name": "acme"})

    assert response.status_code == 400
    assert "Type the workspace" in response.content.decode()
    assert Workspace.objects.filter(pk=ws.pk).exists()
    assert Membership.objects.filter(workspace=ws).count() == 2


def test_deleting_with_the_exact_name_removes_the_workspace_and_its_memberships(
    ws, team, as_member
):
    ws_pk = ws.pk

    response = as_member(team[OWNER]).post(DELETE, {"confirm_name": "Acme"})

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert not Workspace.objects.filter(pk=ws_pk).exists()
    assert not Membership.objects.filter(workspace_id=ws_pk).exists()


def test_deleting_leaves_an_installation_level_audit_entry(ws, owner, as_member):
    as_member(owner).post(DELETE, {"confirm_name": "Acme"})

    entry = AuditLog.objects.get(action="workspace.delete")
    assert entry.workspace is None
    assert entry.actor == owner.user
    assert entry.object_repr == f"Acme (#{ws.pk})"


def test_after_deleting_their_only_workspace_the_owner_is_asked_to_create_one(ws, owner, as_member):
    response = as_member(owner).post(DELETE, {"confirm_name": "Acme"}, follow=True)

    assert response.redirect_chain[-1] == (reverse("workspace-new"), 302)
    assert "Workspace “Acme” and everything in it was deleted." in response.content.decode()


def test_after_deleting_a_workspace_the_owner_lands_in_their_other_one(
    ws, owner, other_ws, as_member
):
    Membership.objects.create(user=owner.user, workspace=other_ws, role=owner.role)

    response = as_member(owner).post(DELETE, {"confirm_name": "Acme"}, follow=True)

    assert response.status_code == 200
    assert "<h1>Globex</h1>" in response.content.decode()


def test_deleting_leaves_other_workspaces_alone(ws, owner, outsider, as_member):
    as_member(owner).post(DELETE, {"confirm_name": "Acme"})

    assert Workspace.objects.filter(pk=outsider.workspace_id).exists()
    assert Membership.objects.filter(pk=outsider.pk).exists()


@pytest.mark.parametrize("persona", ["admin", "marketer"])
def test_only_an_owner_can_delete_the_workspace(persona, ws, team, as_member, request):
    response = as_member(request.getfixturevalue(persona)).post(DELETE, {"confirm_name": "Acme"})

    assert response.status_code == 403
    assert Workspace.objects.filter(pk=ws.pk).exists()


def test_get_on_the_delete_endpoint_is_405(ws, owner, as_member):
    assert as_member(owner).get(DELETE).status_code == 405
    assert Workspace.objects.filter(pk=ws.pk).exists()


def test_general_page_with_no_other_member_says_to_invite_before_transferring(owner, as_member):
    response = as_member(owner).get(GENERAL)

    assert "Invite another member first" in response.content.decode()
