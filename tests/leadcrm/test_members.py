"""Settings → Members (PRODUCT W4): invite, change role, remove, resend; who may do it (W3)."""

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from leadcrm import services
from leadcrm.models import AuditLog, Membership, User
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP, VIEWER
from tests.factories import PASSWORD, MembershipFactory

NEW_PASSWORD = "Tangerine-Lighthouse-1987"
MEMBERS = reverse("settings-members")
INVITE = reverse("member-invite")


def role(name: str) -> Group:
    return Group.objects.get(name=name)


def links(message) -> list[str]:
    return re.findall(r"https?://\S+", message.body)


def invite(client, capture, email: str, role_name: str = MARKETER, **extra):
    with capture(execute=True):
        return client.post(INVITE, {"email": email, "role": role(role_name).pk}, **extra)


@pytest.fixture
def pending(ws, owner):
    """Someone invited to Acme who has not set a password yet."""
    user = User.objects.create_user(email="pat@acme.test")
    return MembershipFactory(workspace=ws, user=user, role=role(SALES_REP), invited_by=owner.user)


# The page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owner_and_admin_see_the_members_page_listing_every_member(
    persona, team, as_member, request
):
    response = as_member(request.getfixturevalue(persona)).get(MEMBERS)

    assert response.status_code == 200
    for membership in team.values():
        assert f'data-member="{membership.user.email}"' in response.content.decode()


@pytest.mark.parametrize("persona", ["marketer", "rep", "viewer"])
def test_roles_without_member_management_get_403_on_the_members_page(
    persona, team, as_member, request
):
    response = as_member(request.getfixturevalue(persona)).get(MEMBERS)

    assert response.status_code == 403


def test_anonymous_visitor_is_sent_to_login_from_the_members_page(client, ws):
    response = client.get(MEMBERS)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={MEMBERS}"


def test_members_page_does_not_list_members_of_another_workspace(owner, outsider, as_member):
    response = as_member(owner).get(MEMBERS)

    assert outsider.user.email not in response.content.decode()


def test_post_to_the_members_page_is_405(owner, as_member):
    assert as_member(owner).post(MEMBERS).status_code == 405


# Invite ------------------------------------------------------------------------------------


def test_inviting_a_new_email_creates_a_membership_with_the_chosen_role(
    ws, owner, as_member, django_capture_on_commit_callbacks
):
    response = invite(as_member(owner), django_capture_on_commit_callbacks, "New@Acme.test")

    assert response.status_code == 302
    assert response.url == MEMBERS
    membership = Membership.objects.get(workspace=ws, user__email="new@acme.test")
    assert membership.role.name == MARKETER
    assert membership.invited_by == owner.user


def test_invited_new_user_has_no_usable_password(
    owner, as_member, django_capture_on_commit_callbacks
):
    invite(as_member(owner), django_capture_on_commit_callbacks, "new@acme.test")

    assert not User.objects.get(email="new@acme.test").has_usable_password()


def test_invited_new_user_gets_one_email_with_a_set_password_link(
    owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    invite(as_member(owner), django_capture_on_commit_callbacks, "new@acme.test")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["new@acme.test"]
    assert "Acme" in message.subject
    [link] = links(message)
    assert "/accounts/invite/" in link


def test_invitation_is_not_sent_before_the_transaction_commits(
    owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        as_member(owner).post(INVITE, {"email": "new@acme.test", "role": role(VIEWER).pk})

    assert mailoutbox == []
    assert len(callbacks) == 1


def test_members_page_marks_an_invitation_as_pending(pending, owner, as_member):
    response = as_member(owner).get(MEMBERS)

    assert "Invitation pending" in response.content.decode()


def _accept(link: str, password: str = NEW_PASSWORD):
    """Follow an invitation link like a browser: token URL → set-password URL → POST."""
    client = Client()
    response = client.get(link)
    assert response.status_code == 302
    assert response.url.endswith("/set-password/")
    form = client.get(response.url)
    assert form.status_code == 200
    response = client.post(
        response.url, {"new_password1": password, "new_password2": password}, follow=True
    )
    return client, response


def test_following_the_invitation_link_sets_the_password_and_lands_on_home_logged_in(
    ws, owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    invite(as_member(owner), django_capture_on_commit_callbacks, "new@acme.test")
    [link] = links(mailoutbox[0])

    client, response = _accept(link)

    user = User.objects.get(email="new@acme.test")
    assert user.check_password(NEW_PASSWORD)
    assert response.redirect_chain[-1] == (reverse("home"), 302)
    assert response.wsgi_request.user == user
    page = response.content.decode()
    assert "<h1>Acme</h1>" in page
    assert "Your password is set" in page


def test_invitation_form_names_the_invited_email(
    owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    invite(as_member(owner), django_capture_on_commit_callbacks, "new@acme.test")
    [link] = links(mailoutbox[0])
    client = Client()

    response = client.get(link, follow=True)

    assert "Choose a password for <strong>new@acme.test</strong>" in response.content.decode()


def test_invitation_link_does_not_work_a_second_time(
    owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    invite(as_member(owner), django_capture_on_commit_callbacks, "new@acme.test")
    [link] = links(mailoutbox[0])
    _accept(link)

    response = Client().get(link, follow=True)

    assert response.status_code == 200
    assert "This invitation link no longer works" in response.content.decode()
    assert User.objects.get(email="new@acme.test").check_password(NEW_PASSWORD)


def test_inviting_someone_with_a_login_adds_them_at_once(
    ws, owner, outsider, as_member, django_capture_on_commit_callbacks
):
    response = invite(
        as_member(owner), django_capture_on_commit_callbacks, "Charlie@Globex.test", VIEWER
    )

    assert response.status_code == 302
    membership = Membership.objects.get(workspace=ws, user=outsider.user)
    assert membership.role.name == VIEWER
    assert not membership.is_pending
    assert User.objects.filter(email="charlie@globex.test").count() == 1


def test_inviting_someone_with_a_login_emails_them_to_sign_in_without_a_set_password_link(
    owner, outsider, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    invite(as_member(owner), django_capture_on_commit_callbacks, outsider.user.email)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [outsider.user.email]
    assert "Sign in with your usual LeadCRM login" in message.body
    assert links(message) == ["http://testserver" + reverse("login")]
    assert "/accounts/invite/" not in message.body


def test_inviting_someone_already_a_member_is_refused(
    ws, owner, rep, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    response = invite(as_member(owner), django_capture_on_commit_callbacks, "BOB@acme.test")

    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert Membership.objects.get(workspace=ws, user=rep.user).role.name == SALES_REP
    assert not AuditLog.objects.filter(action="member.invite").exists()
    assert mailoutbox == []


def test_inviting_an_invalid_email_is_refused(
    ws, owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    response = invite(as_member(owner), django_capture_on_commit_callbacks, "not-an-email")

    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()
    assert Membership.objects.filter(workspace=ws).count() == 1
    assert mailoutbox == []


def test_admin_cannot_invite_someone_as_owner(
    ws, admin, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    response = invite(as_member(admin), django_capture_on_commit_callbacks, "new@acme.test", OWNER)

    assert response.status_code == 400
    assert not User.objects.filter(email="new@acme.test").exists()
    assert not Membership.objects.filter(workspace=ws, role__name=OWNER).exists()
    assert mailoutbox == []


def test_admin_is_not_offered_the_owner_role_when_inviting(admin, as_member):
    response = as_member(admin).get(MEMBERS)

    invite_form = response.context["invite_form"]
    assert OWNER not in [r.name for r in invite_form.fields["role"].queryset]


def test_owner_can_invite_someone_as_owner(
    ws, owner, as_member, django_capture_on_commit_callbacks
):
    response = invite(as_member(owner), django_capture_on_commit_callbacks, "new@acme.test", OWNER)

    assert response.status_code == 302
    assert Membership.objects.get(workspace=ws, user__email="new@acme.test").role.name == OWNER


@pytest.mark.parametrize("persona", ["marketer", "rep", "viewer"])
def test_roles_without_member_management_cannot_invite(
    persona, ws, team, as_member, request, django_capture_on_commit_callbacks
):
    client = as_member(request.getfixturevalue(persona))

    response = invite(client, django_capture_on_commit_callbacks, "new@acme.test")

    assert response.status_code == 403
    assert not User.objects.filter(email="new@acme.test").exists()


def test_get_on_the_invite_endpoint_is_405(owner, as_member):
    assert as_member(owner).get(INVITE).status_code == 405


def test_invite_is_audited_with_actor_and_role(
    ws, owner, as_member, django_capture_on_commit_callbacks
):
    invite(as_member(owner), django_capture_on_commit_callbacks, "new@acme.test", MARKETER)

    entry = AuditLog.objects.get(action="member.invite")
    assert entry.workspace == ws
    assert entry.actor == owner.user
    assert entry.object_repr == "new@acme.test"
    assert entry.changes == {"role": [None, MARKETER]}


# Change role -------------------------------------------------------------------------------


def change_role(client, membership, role_name, **extra):
    url = reverse("member-role", args=[membership.pk])
    return client.post(url, {"role": role(role_name).pk}, **extra)


def test_owner_changes_a_rep_to_marketer(owner, rep, as_member):
    response = change_role(as_member(owner), rep, MARKETER)

    assert response.status_code == 302
    assert response.url == MEMBERS
    rep.refresh_from_db()
    assert rep.role.name == MARKETER


def test_role_change_shows_a_confirmation(owner, rep, as_member):
    response = change_role(as_member(owner), rep, MARKETER, follow=True)

    assert f"{escape(rep.user.display_name)} is now Marketer" in response.content.decode()


def test_role_change_by_htmx_returns_the_member_list_fragment(owner, rep, as_member):
    response = change_role(as_member(owner), rep, MARKETER, headers={"HX-Request": "true"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert 'id="member-list"' in content
    assert "Invite someone" not in content
    rep.refresh_from_db()
    assert rep.role.name == MARKETER


def test_role_change_by_htmx_sends_the_confirmation_as_a_messages_event(owner, rep, as_member):
    response = change_role(as_member(owner), rep, MARKETER, headers={"HX-Request": "true"})

    events = json.loads(response.headers["HX-Trigger"])
    text = f"{rep.user.display_name} is now Marketer."
    assert events["messages"] == [{"level": "success", "text": text}]


def test_role_change_is_audited_with_old_and_new_role(ws, owner, rep, as_member):
    change_role(as_member(owner), rep, MARKETER)

    entry = AuditLog.objects.get(action="member.role_change")
    assert entry.workspace == ws
    assert entry.actor == owner.user
    assert entry.object_id == str(rep.pk)
    assert entry.changes == {"role": [SALES_REP, MARKETER]}


def test_admin_changes_a_rep_to_viewer(admin, rep, as_member):
    response = change_role(as_member(admin), rep, VIEWER)

    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.role.name == VIEWER


def test_admin_cannot_change_an_owners_role(owner, admin, as_member):
    response = change_role(as_member(admin), owner, VIEWER)

    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role.name == OWNER


def test_admin_cannot_promote_someone_to_owner(admin, rep, as_member):
    response = change_role(as_member(admin), rep, OWNER)

    assert response.status_code == 403
    rep.refresh_from_db()
    assert rep.role.name == SALES_REP


def test_admin_sees_an_owners_role_without_a_way_to_change_it(owner, admin, as_member):
    response = as_member(admin).get(MEMBERS)

    assert reverse("member-role", args=[owner.pk]) not in response.content.decode()
    assert reverse("member-remove", args=[owner.pk]) not in response.content.decode()


@pytest.mark.parametrize("persona", ["marketer", "viewer"])
def test_roles_without_member_management_cannot_change_roles(
    persona, team, rep, as_member, request
):
    response = change_role(as_member(request.getfixturevalue(persona)), rep, ADMIN)

    assert response.status_code == 403
    rep.refresh_from_db()
    assert rep.role.name == SALES_REP


def test_demoting_the_last_owner_is_refused_with_a_message(owner, admin, as_member):
    response = change_role(as_member(owner), owner, ADMIN, follow=True)

    assert "A workspace keeps at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role.name == OWNER
    assert not AuditLog.objects.filter(action="member.role_change").exists()


def test_one_of_two_owners_can_be_demoted(ws, owner, as_member):
    second = MembershipFactory(workspace=ws, role=role(OWNER))

    response = change_role(as_member(owner), second, ADMIN)

    assert response.status_code == 302
    second.refresh_from_db()
    assert second.role.name == ADMIN


def test_get_on_the_role_endpoint_is_405(owner, rep, as_member):
    response = as_member(owner).get(reverse("member-role", args=[rep.pk]))

    assert response.status_code == 405


def test_changing_the_role_of_another_workspaces_member_is_404(owner, outsider, as_member):
    response = change_role(as_member(owner), outsider, VIEWER)

    assert response.status_code == 404
    outsider.refresh_from_db()
    assert outsider.role.name == OWNER


def test_changing_the_role_of_a_member_of_another_workspace_of_mine_is_404(
    owner, outsider, as_member
):
    """Even when the user also belongs to that workspace (W1)."""
    MembershipFactory(workspace=outsider.workspace, user=owner.user, role=role(OWNER))

    response = change_role(as_member(owner), outsider, VIEWER)

    assert response.status_code == 404
    outsider.refresh_from_db()
    assert outsider.role.name == OWNER


# Remove ------------------------------------------------------------------------------------


@pytest.fixture
def removals(monkeypatch):
    calls = []

    def record(**kwargs):
        calls.append(kwargs)

    monkeypatch.setattr(services, "MEMBER_REMOVAL_HANDLERS", [record])
    return calls


def remove(client, membership, reassign_to, **extra):
    url = reverse("member-remove", args=[membership.pk])
    return client.post(url, {"reassign_to": reassign_to.pk}, **extra)


def test_remove_page_asks_to_confirm_and_whom_to_give_the_leads(owner, admin, rep, as_member):
    response = as_member(owner).get(reverse("member-remove", args=[rep.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert f"Remove {escape(rep.user.display_name)}" in content
    assert '<select name="reassign_to"' in content
    choices = list(response.context["form"].fields["reassign_to"].queryset)
    assert set(choices) == {owner, admin}


def test_removing_a_member_deletes_their_membership(ws, owner, admin, rep, as_member, removals):
    response = remove(as_member(owner), rep, admin)

    assert response.status_code == 302
    assert response.url == MEMBERS
    assert not Membership.objects.filter(pk=rep.pk).exists()
    assert User.objects.filter(pk=rep.user_id).exists()


def test_removing_a_member_hands_their_records_to_the_chosen_member(
    ws, owner, admin, rep, as_member, removals
):
    remove(as_member(owner), rep, admin)

    assert removals == [{"workspace": ws, "from_user": rep.user, "to_user": admin.user}]


def test_removal_is_audited(ws, owner, admin, rep, as_member, removals):
    remove(as_member(owner), rep, admin)

    entry = AuditLog.objects.get(action="member.remove")
    assert entry.workspace == ws
    assert entry.actor == owner.user
    assert entry.object_repr == rep.user.email
    assert entry.changes["role"] == [SALES_REP, None]
    assert entry.changes["reassigned_to"] == admin.user.email


def test_removed_member_no_longer_reaches_the_workspace(owner, admin, rep, as_member, removals):
    rep_client = as_member(rep)
    remove(as_member(owner), rep, admin)

    response = rep_client.get(reverse("home"))

    assert response.status_code == 302
    assert response.url == reverse("workspace-new")


def test_the_last_owner_cannot_be_removed(owner, admin, as_member, removals):
    response = remove(as_member(owner), owner, admin)

    assert response.status_code == 400
    assert "A workspace keeps at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert removals == []


def test_reassigning_to_a_member_of_another_workspace_is_refused(
    owner, rep, outsider, as_member, removals
):
    response = remove(as_member(owner), rep, outsider)

    assert response.status_code == 400
    assert Membership.objects.filter(pk=rep.pk).exists()
    assert removals == []


def test_admin_cannot_remove_an_owner(owner, admin, as_member, removals):
    response = remove(as_member(admin), owner, admin)

    assert response.status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert removals == []


def test_admin_cannot_open_the_remove_page_of_an_owner(owner, admin, as_member):
    response = as_member(admin).get(reverse("member-remove", args=[owner.pk]))

    assert response.status_code == 403


def test_removing_another_workspaces_member_is_404(owner, outsider, as_member, removals):
    response = remove(as_member(owner), outsider, owner)

    assert response.status_code == 404
    assert Membership.objects.filter(pk=outsider.pk).exists()
    assert removals == []


@pytest.mark.parametrize("persona", ["marketer", "rep", "viewer"])
def test_roles_without_member_management_cannot_remove_members(
    persona, team, as_member, request, removals
):
    target = team[ADMIN]

    response = remove(as_member(request.getfixturevalue(persona)), target, team[OWNER])

    assert response.status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()


def test_put_on_the_remove_endpoint_is_405(owner, rep, as_member):
    response = as_member(owner).put(reverse("member-remove", args=[rep.pk]))

    assert response.status_code == 405


# Resend ------------------------------------------------------------------------------------


def test_resending_to_a_pending_member_sends_a_new_invitation(
    pending, owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(owner).post(reverse("member-resend", args=[pending.pk]), follow=True)

    assert "Invitation sent again to pat@acme.test" in response.content.decode()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["pat@acme.test"]
    [link] = links(mailoutbox[0])
    assert "/accounts/invite/" in link


def test_resent_invitation_link_sets_the_password(
    pending, owner, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        as_member(owner).post(reverse("member-resend", args=[pending.pk]))
    [link] = links(mailoutbox[0])

    _accept(link)

    pending.user.refresh_from_db()
    assert pending.user.check_password(NEW_PASSWORD)


def test_resending_to_a_member_who_accepted_shows_an_error_and_sends_nothing(
    owner, rep, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(owner).post(reverse("member-resend", args=[rep.pk]), follow=True)

    assert "has already accepted the invitation" in response.content.decode()
    assert mailoutbox == []
    assert rep.user.check_password(PASSWORD)


def test_resending_to_another_workspaces_member_is_404(
    owner, other_ws, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    stranger = MembershipFactory(
        workspace=other_ws, user=User.objects.create_user(email="x@globex.test")
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(owner).post(reverse("member-resend", args=[stranger.pk]))

    assert response.status_code == 404
    assert mailoutbox == []


def test_marketer_cannot_resend_invitations(
    pending, marketer, as_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(marketer).post(reverse("member-resend", args=[pending.pk]))

    assert response.status_code == 403
    assert mailoutbox == []


def test_get_on_the_resend_endpoint_is_405(pending, owner, as_member):
    response = as_member(owner).get(reverse("member-resend", args=[pending.pk]))

    assert response.status_code == 405


def test_members_page_by_htmx_returns_only_the_member_list(owner, rep, as_member):
    response = as_member(owner).get(MEMBERS, headers={"HX-Request": "true"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert 'id="member-list"' in content
    assert f'data-member="{rep.user.email}"' in content


def test_admin_changing_an_owners_role_by_htmx_gets_a_plain_403(owner, admin, as_member):
    response = change_role(as_member(admin), owner, VIEWER, headers={"HX-Request": "true"})

    assert response.status_code == 403
    assert "<html" not in response.content.decode()
    assert "Only an owner can change or remove an owner." in response.content.decode()


def test_owner_who_demotes_themself_by_htmx_no_longer_gets_owner_controls(ws, owner, as_member):
    second = MembershipFactory(workspace=ws, role=role(OWNER))

    response = change_role(as_member(owner), owner, ADMIN, headers={"HX-Request": "true"})

    owner.refresh_from_db()
    assert owner.role.name == ADMIN
    content = response.content.decode()
    assert reverse("member-role", args=[second.pk]) not in content
    assert f'<option value="{role(OWNER).pk}"' not in content


def test_owner_who_demotes_themself_to_viewer_by_htmx_is_sent_home(team, owner, as_member):
    from leadcrm.roles import OWNER, VIEWER
    from tests.factories import MembershipFactory

    MembershipFactory(workspace=owner.workspace, role_name=OWNER)
    viewer_role = team[VIEWER].role
    client = as_member(owner)

    response = client.post(
        f"/settings/members/{owner.pk}/role/",
        {"role": viewer_role.pk},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/"
    owner.refresh_from_db()
    assert owner.role.name == VIEWER
