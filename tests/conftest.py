"""Personas: a workspace "Acme" with one member per role, and an outsider in "Globex"."""

import os

import pytest
from django.test import Client
from hypothesis import settings as hypothesis_settings

from leadcrm.middleware import SESSION_KEY
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP, VIEWER, ensure_default_roles
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

hypothesis_settings.register_profile("ci", max_examples=30, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=100, deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the
# test itself (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path):
    """Uploaded import files and background exports of a test stay in its own directory."""
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.EXPORT_DIR = tmp_path / "exports"


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    """Enqueued tasks run at once (django_tasks resets its backends when TASKS changes).

    Tasks queued with transaction.on_commit still wait for django_capture_on_commit_callbacks.
    """
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default"],
        }
    }


@pytest.fixture
def roles(db):
    ensure_default_roles()


@pytest.fixture
def ws(roles):
    return WorkspaceFactory(name="Acme", slug="acme")


def _member(ws, role_name, email):
    return MembershipFactory(workspace=ws, role_name=role_name, user=UserFactory(email=email))


@pytest.fixture
def owner(ws):
    return _member(ws, OWNER, "alice@acme.test")


@pytest.fixture
def admin(ws):
    return _member(ws, ADMIN, "adam@acme.test")


@pytest.fixture
def marketer(ws):
    return _member(ws, MARKETER, "maya@acme.test")


@pytest.fixture
def rep(ws):
    return _member(ws, SALES_REP, "bob@acme.test")


@pytest.fixture
def viewer(ws):
    return _member(ws, VIEWER, "vera@acme.test")


@pytest.fixture
def other_ws(roles):
    return WorkspaceFactory(name="Globex", slug="globex")


@pytest.fixture
def outsider(other_ws):
    """Charlie: owner of another workspace, no access to Acme."""
    return _member(other_ws, OWNER, "charlie@globex.test")


@pytest.fixture
def team(owner, admin, marketer, rep, viewer):
    return {OWNER: owner, ADMIN: admin, MARKETER: marketer, SALES_REP: rep, VIEWER: viewer}


def login(membership) -> Client:
    """A client logged in as the membership's user, in the membership's workspace."""
    client = Client()
    client.force_login(membership.user)
    session = client.session
    session[SESSION_KEY] = membership.workspace_id
    session.save()
    return client


@pytest.fixture
def as_member():
    return login
