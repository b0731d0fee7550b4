"""Login, logout, password reset and change (PRODUCT W4)."""

import re

from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD

HOME = reverse("home")
LOGIN = reverse("login")
LOGOUT = reverse("logout")
RESET = reverse("password_reset")
CHANGE = reverse("password_change")
NEW_PASSWORD = "Tangerine-Lighthouse-1987"


def logged_in_user_id(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def test_home_requires_login(client, db):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/"


def test_login_page_shows_the_form(client, db):
    response = client.get(LOGIN)

    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()
    assert 'name="password"' in response.content.decode()


def test_login_works_with_the_email_in_another_case(client, owner):
    response = client.post(LOGIN, {"username": "  ALICE@Acme.TEST", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == HOME
    assert logged_in_user_id(client) == owner.user_id


def test_login_follows_next(client, owner):
    response = client.post(
        LOGIN, {"username": owner.user.email, "password": PASSWORD, "next": "/settings/"}
    )

    assert response.url == "/settings/"


def test_login_with_a_wrong_password_shows_an_error(client, owner):
    response = client.post(LOGIN, {"username": owner.user.email, "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct email address and password" in response.content.decode()
    assert logged_in_user_id(client) is None


def test_an_invited_user_cannot_log_in_before_setting_a_password(client, ws, django_user_model):
    django_user_model.objects.create_user(email="pat@acme.test")

    client.post(LOGIN, {"username": "pat@acme.test", "password": ""})

    assert logged_in_user_id(client) is None


def test_logout_is_a_post_that_logs_out(owner, as_member):
    client = as_member(owner)

    response = client.post(LOGOUT)

    assert response.status_code == 302
    assert response.url == LOGIN
    assert logged_in_user_id(client) is None
    assert client.get(HOME).status_code == 302


def test_logout_by_get_is_405_and_keeps_the_user_logged_in(owner, as_member):
    client = as_member(owner)

    response = client.get(LOGOUT)

    assert response.status_code == 405
    assert logged_in_user_id(client) == owner.user_id


def _reset_link(mail) -> str:
    [link] = re.findall(r"https?://\S+", mail.body)
    return link


def test_password_reset_sends_an_email_with_a_link(client, owner, mailoutbox):
    response = client.post(RESET, {"email": "Alice@Acme.test"}, follow=True)

    assert "Check your email" in response.content.decode()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [owner.user.email]
    assert "/accounts/password/reset/" in _reset_link(mailoutbox[0])


def test_password_reset_link_sets_a_new_password_and_logs_in(client, owner, mailoutbox):
    client.post(RESET, {"email": owner.user.email})
    link = _reset_link(mailoutbox[0])
    reader = Client()

    response = reader.get(link)
    assert response.status_code == 302
    assert response.url.endswith("/set-password/")
    response = reader.post(
        response.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )

    assert "Password set" in response.content.decode()
    owner.user.refresh_from_db()
    assert owner.user.check_password(NEW_PASSWORD)
    assert logged_in_user_id(reader) == owner.user_id


def test_password_reset_link_does_not_work_twice(client, owner, mailoutbox):
    client.post(RESET, {"email": owner.user.email})
    link = _reset_link(mailoutbox[0])
    first = Client()
    set_password = first.get(link).url
    first.post(set_password, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = Client().get(link, follow=True)

    assert "This link no longer works" in response.content.decode()


def test_password_reset_with_mismatched_passwords_changes_nothing(client, owner, mailoutbox):
    client.post(RESET, {"email": owner.user.email})
    reader = Client()
    set_password = reader.get(_reset_link(mailoutbox[0])).url

    response = reader.post(
        set_password, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"}
    )

    assert response.status_code == 200
    assert "didn’t match" in response.content.decode()
    owner.user.refresh_from_db()
    assert owner.user.check_password(PASSWORD)


def test_password_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(
    client, owner, mailoutbox
):
    response = client.post(RESET, {"email": "nobody@acme.test"}, follow=True)

    assert response.redirect_chain == [(reverse("password_reset_done"), 302)]
    assert "Check your email" in response.content.decode()
    assert mailoutbox == []


def test_password_change_works_for_a_logged_in_user(owner, as_member):
    client = as_member(owner)

    response = client.post(
        CHANGE,
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )

    assert response.redirect_chain == [(reverse("password_change_done"), 302)]
    assert "Password changed" in response.content.decode()
    owner.user.refresh_from_db()
    assert owner.user.check_password(NEW_PASSWORD)
    assert logged_in_user_id(client) == owner.user_id


def test_password_change_with_a_wrong_old_password_changes_nothing(owner, as_member):
    response = as_member(owner).post(
        CHANGE,
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    owner.user.refresh_from_db()
    assert owner.user.check_password(PASSWORD)


def test_password_change_requires_login(client, db):
    response = client.get(CHANGE)

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
