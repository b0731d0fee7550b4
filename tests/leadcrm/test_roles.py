"""The five default roles (PRODUCT W2, §13 role names) and ensure_default_roles()."""

import importlib
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from leadcrm.models import WORKSPACE_PERMISSIONS
from leadcrm.roles import ensure_default_roles

ROLE_NAMES = ["Owner", "Admin", "Marketer", "Sales rep", "Viewer"]
ALL_CODENAMES = {codename for codename, _ in WORKSPACE_PERMISSIONS}


def _codenames(role_name: str) -> set[str]:
    group = Group.objects.get(name=role_name)
    return set(group.permissions.values_list("codename", flat=True))


def _snapshot() -> dict[str, tuple[int, set[str]]]:
    return {g.name: (g.pk, _codenames(g.name)) for g in Group.objects.all()}


def _remove(role_name: str, codename: str) -> None:
    Group.objects.get(name=role_name).permissions.remove(
        Permission.objects.get(content_type__app_label="leadcrm", codename=codename)
    )


def test_migrations_create_the_five_roles(db):
    assert set(Group.objects.values_list("name", flat=True)) == set(ROLE_NAMES)


def test_migrations_create_every_workspace_permission(db):
    codenames = set(
        Permission.objects.filter(content_type__app_label="leadcrm").values_list(
            "codename", flat=True
        )
    )
    assert ALL_CODENAMES.issubset(codenames)


def test_migrations_give_owner_every_workspace_permission(db):
    assert _codenames("Owner") == ALL_CODENAMES


def test_migrations_give_viewer_only_the_read_permissions(db):
    assert _codenames("Viewer") == {"view_leads", "view_segments", "view_unsubscribes"}


def test_data_migration_creates_the_roles_with_historical_models(db):
    Group.objects.all().delete()
    migration = importlib.import_module("leadcrm.migrations.0002_default_roles")
    state = MigrationLoader(connection).project_state(("leadcrm", "0002_default_roles"))
    migration.create_roles(state.apps, schema_editor=None)
    assert set(Group.objects.values_list("name", flat=True)) == set(ROLE_NAMES)
    assert _codenames("Owner") == ALL_CODENAMES


def test_ensure_default_roles_is_idempotent(db):
    before = _snapshot()
    ensure_default_roles()
    ensure_default_roles()
    assert _snapshot() == before


def test_ensure_default_roles_creates_no_duplicate_permissions(db):
    count = Permission.objects.count()
    ensure_default_roles()
    assert Permission.objects.count() == count


def test_deleted_role_comes_back(db):
    viewer_permissions = _codenames("Viewer")
    Group.objects.filter(name="Viewer").delete()
    ensure_default_roles()
    assert _codenames("Viewer") == viewer_permissions


def test_operator_edit_to_marketer_survives_ensure_default_roles(db):
    _remove("Marketer", "export_leads")
    ensure_default_roles()
    assert "export_leads" not in _codenames("Marketer")


def test_operator_addition_to_viewer_survives_ensure_default_roles(db):
    Group.objects.get(name="Viewer").permissions.add(
        Permission.objects.get(content_type__app_label="leadcrm", codename="add_lead")
    )
    ensure_default_roles()
    assert "add_lead" in _codenames("Viewer")


def test_reset_restores_the_marketer_matrix(db):
    before = _codenames("Marketer")
    _remove("Marketer", "export_leads")
    ensure_default_roles(reset=True)
    assert _codenames("Marketer") == before


def test_reset_takes_back_an_operator_addition(db):
    Group.objects.get(name="Viewer").permissions.add(
        Permission.objects.get(content_type__app_label="leadcrm", codename="add_lead")
    )
    ensure_default_roles(reset=True)
    assert "add_lead" not in _codenames("Viewer")


def test_owner_always_gets_every_permission_back(db):
    _remove("Owner", "delete_workspace")
    _remove("Owner", "manage_members")
    ensure_default_roles()
    assert _codenames("Owner") == ALL_CODENAMES


def test_deleted_permission_row_is_recreated(db):
    Permission.objects.filter(content_type__app_label="leadcrm", codename="gdpr_erase").delete()
    ensure_default_roles()
    assert "gdpr_erase" in _codenames("Owner")


def test_ensure_roles_command_brings_back_a_deleted_role(db):
    Group.objects.filter(name="Sales rep").delete()
    out = StringIO()
    call_command("ensure_roles", stdout=out)
    assert Group.objects.filter(name="Sales rep").exists()
    assert "Sales rep:" in out.getvalue()


def test_ensure_roles_command_keeps_operator_edits(db):
    _remove("Marketer", "export_leads")
    call_command("ensure_roles", stdout=StringIO())
    assert "export_leads" not in _codenames("Marketer")


def test_ensure_roles_command_with_reset_restores_the_matrix(db):
    before = _codenames("Marketer")
    _remove("Marketer", "export_leads")
    out = StringIO()
    call_command("ensure_roles", "--reset", stdout=out)
    assert _codenames("Marketer") == before
    assert "(reset)" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrate_brings_back_a_deleted_role():
    Group.objects.filter(name="Viewer").delete()
    call_command("migrate", verbosity=0)
    assert _codenames("Viewer") == {"view_leads", "view_segments", "view_unsubscribes"}


@pytest.mark.django_db(transaction=True)
def test_migrate_gives_owner_every_permission_back():
    _remove("Owner", "transfer_ownership")
    call_command("migrate", verbosity=0)
    assert _codenames("Owner") == ALL_CODENAMES
