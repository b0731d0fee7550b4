"""The current workspace, the switcher and creating a workspace (PRODUCT W1)."""

import pytest
from django.test import Client
from django.urls import reverse

from leadcrm.middleware import SESSION_KEY
from leadcrm.models import AuditLog, Membership, Workspace
from leadcrm.roles import OWNER, VIEWER
from tests.factories import PASSWORD, MembershipFactory, UserFactory

HOME = reverse("home")
NEW = reverse("workspace-new")
SWITCH = reverse("workspace-switch")


@pytest.fixture
def loner(roles):
    """A user with a login and no workspace."""
    return UserFactory(email="lonely@example.test")


@pytest.fixture
def loner_client(loner):
    client = Client()
    client.force_login(loner)
    return client


@pytest.fixture
def both(owner, other_ws):
    """Alice: owner of Acme (current) and viewer in Globex."""
    return MembershipFactory(workspace=other_ws, user=owner.user, role_name=VIEWER)


def heading(response) -> str:
    return response.content.decode().split("<h1>", 1)[1].split("</h1>", 1)[0]


# No workspace yet --------------------------------------------------------------------------


def test_user_without_workspaces_is_sent_from_home_to_create_one(loner_client):
    response = loner_client.get(HOME)

    assert response.status_code == 302
    assert response.url == NEW


def test_new_workspace_page_tells_the_user_they_are_not_a_member_of_any(loner_client):
    response = loner_client.get(NEW)

    assert response.status_code == 200
    assert "You are not a member of any workspace yet" in response.content.decode()


def test_new_workspace_page_for_a_member_does_not_say_they_have_none(owner, as_member):
    response = as_member(owner).get(NEW)

    assert "You are not a member of any workspace yet" not in response.content.decode()


def test_creating_a_workspace_makes_the_user_its_owner(loner, loner_client):
    response = loner_client.post(NEW, {"name": " Initech "})

    assert response.status_code == 302
    assert response.url == HOME
    membership = Membership.objects.get(user=loner)
    assert membership.workspace.name == "Initech"
    assert membership.role.name == OWNER


def test_creating_a_workspace_lands_on_its_home(loner, loner_client):
    response = loner_client.post(NEW, {"name": "Initech"}, follow=True)

    assert heading(response) == "Initech"
    assert "You are its owner" in response.content.decode()
    loner.refresh_from_db()
    assert loner.last_workspace.name == "Initech"


def test_creating_a_workspace_is_audited(loner, loner_client):
    loner_client.post(NEW, {"name": "Initech"})

    workspace = Workspace.objects.get(name="Initech")
    actions = set(AuditLog.objects.filter(workspace=workspace).values_list("action", flat=True))
    assert actions == {"workspace.create", "member.add"}


def test_two_workspaces_with_the_same_name_get_different_slugs(ws, owner, as_member):
    as_member(owner).post(NEW, {"name": "Acme"})

    slugs = set(Workspace.objects.filter(name="Acme").values_list("slug", flat=True))
    assert len(slugs) == 2


@pytest.mark.parametrize("name", ["", "   "])
def test_creating_a_workspace_without_a_name_is_an_error(name, loner, loner_client):
    response = loner_client.post(NEW, {"name": name})

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Membership.objects.filter(user=loner).exists()


def test_creating_a_workspace_requires_login(client, roles):
    response = client.post(NEW, {"name": "Initech"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Workspace.objects.exists()


def test_put_on_the_new_workspace_page_is_405(loner_client):
    assert loner_client.put(NEW).status_code == 405


def test_user_without_workspaces_gets_403_from_a_settings_post(loner_client):
    response = loner_client.post(reverse("workspace-rename"), {"name": "x"})

    assert response.status_code == 403


# Current workspace and switcher ------------------------------------------------------------


def test_home_shows_the_current_workspace(both, owner, as_member):
    response = as_member(owner).get(HOME)

    assert heading(response) == "Acme"
    assert "You belong to 2 workspaces" in response.content.decode()


def test_switcher_lists_every_workspace_of_the_user(both, owner, as_member, outsider):
    content = as_member(owner).get(HOME).content.decode()

    assert f'name="workspace" value="{owner.workspace_id}"' in content
    assert f'name="workspace" value="{both.workspace_id}"' in content


def test_switching_makes_the_other_workspace_current(both, owner, as_member):
    client = as_member(owner)

    response = client.post(SWITCH, {"workspace": both.workspace_id}, follow=True)

    assert response.redirect_chain == [(HOME, 302)]
    assert heading(response) == "Globex"
    assert "Switched to Globex." in response.content.decode()
    assert client.session[SESSION_KEY] == both.workspace_id


def test_switching_remembers_the_workspace_on_the_user(both, owner, as_member):
    as_member(owner).post(SWITCH, {"workspace": both.workspace_id})

    owner.user.refresh_from_db()
    assert owner.user.last_workspace_id == both.workspace_id


def test_switching_to_a_workspace_the_user_is_not_in_is_404(owner, outsider, as_member):
    client = as_member(owner)

    response = client.post(SWITCH, {"workspace": outsider.workspace_id})

    assert response.status_code == 404
    assert client.session[SESSION_KEY] == owner.workspace_id
    owner.user.refresh_from_db()
    assert owner.user.last_workspace_id is None
    assert heading(client.get(HOME)) == "Acme"


@pytest.mark.parametrize("value", ["", "abc", "999999"])
def test_switching_without_a_valid_workspace_is_404(value, owner, as_member):
    response = as_member(owner).post(SWITCH, {"workspace": value})

    assert response.status_code == 404


def test_get_on_the_switcher_is_405(both, owner, as_member):
    response = as_member(owner).get(SWITCH, {"workspace": both.workspace_id})

    assert response.status_code == 405


def test_switching_requires_login(client, both):
    response = client.post(SWITCH, {"workspace": both.workspace_id})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_after_logging_in_again_the_last_used_workspace_is_current(both, owner, as_member):
    client = as_member(owner)
    client.post(SWITCH, {"workspace": both.workspace_id})
    client.post(reverse("logout"))

    response = client.post(
        reverse("login"), {"username": owner.user.email, "password": PASSWORD}, follow=True
    )

    assert heading(response) == "Globex"


def test_first_login_picks_the_first_workspace(both, owner):
    client = Client()

    response = client.post(
        reverse("login"), {"username": owner.user.email, "password": PASSWORD}, follow=True
    )

    assert heading(response) == "Acme"


def test_losing_the_current_membership_falls_back_to_another_workspace(both, owner, as_member):
    client = as_member(both)  # Globex is current
    assert heading(client.get(HOME)) == "Globex"
    both.delete()

    response = client.get(HOME)

    assert heading(response) == "Acme"
    assert client.session[SESSION_KEY] == owner.workspace_id


def test_objects_of_the_other_workspace_are_404_even_for_its_member(both, owner, as_member):
    """Acme is current: a Globex membership is not reachable although Alice is in Globex."""
    response = as_member(owner).get(reverse("member-remove", args=[both.pk]))

    assert response.status_code == 404


def test_switching_honours_a_local_next(both, owner, as_member):
    response = as_member(owner).post(
        SWITCH, {"workspace": both.workspace_id, "next": "/settings/members/?x=1"}
    )

    assert response.status_code == 302
    assert response.url == "/settings/members/?x=1"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "http://evil.example/settings/"]
)
def test_switching_ignores_a_next_on_another_site(target, both, owner, as_member):
    response = as_member(owner).post(SWITCH, {"workspace": both.workspace_id, "next": target})

    assert response.status_code == 302
    assert response.url == HOME
