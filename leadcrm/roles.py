"""The five default roles and the permission matrix of PRODUCT W2.

Roles are Django Groups shared by all workspaces; operators edit their permissions in the
Django admin. ensure_default_roles() creates what is missing and never undoes an operator's
edit, except that Owner always keeps every permission, so every workspace keeps someone who
can do everything. `reset=True` (command `ensure_roles --reset`) restores the matrix below.
"""

from django.apps import apps as global_apps
from django.db import transaction

from leadcrm.models import WORKSPACE_PERMISSIONS

OWNER = "Owner"
ADMIN = "Admin"
MARKETER = "Marketer"
SALES_REP = "Sales rep"
VIEWER = "Viewer"
ROLE_NAMES = [OWNER, ADMIN, MARKETER, SALES_REP, VIEWER]

ALL = {codename for codename, _ in WORKSPACE_PERMISSIONS}
_READ = {"view_leads", "view_segments", "view_unsubscribes"}
_WORK = _READ | {
    "add_lead",
    "change_lead",
    "log_activity",
    "add_to_static_segment",
    "change_consent",
    "run_sequences",
}
_OWN = {"delete_own_lead", "bulk_update_own_leads"}
_MARKETING = (
    _WORK
    | _OWN
    | {
        "delete_any_lead",
        "bulk_update_any_leads",
        "manage_segments",
        "import_leads",
        "export_leads",
        "manage_scoring",
        "define_sequences",
        "manage_custom_fields",
        "manage_suppression",
        "manage_sending",
    }
)

DEFAULT_MATRIX: dict[str, set[str]] = {
    OWNER: ALL,
    ADMIN: ALL - {"manage_owners", "transfer_ownership", "delete_workspace"},
    MARKETER: _MARKETING,
    SALES_REP: _WORK | _OWN,
    VIEWER: _READ,
}


def ensure_default_roles(*, apps=global_apps, reset: bool = False) -> None:
    """Create the permission rows and the five roles; repair Owner. Safe to run any time.

    `apps` is a migration's historical registry when called from a data migration.
    """
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    with transaction.atomic():
        content_type, _ = ContentType.objects.get_or_create(app_label="leadcrm", model="workspace")
        existing = {p.codename: p for p in Permission.objects.filter(content_type=content_type)}
        for codename, name in WORKSPACE_PERMISSIONS:
            if codename not in existing:
                existing[codename] = Permission.objects.create(
                    content_type=content_type, codename=codename, name=name
                )
        for role_name in ROLE_NAMES:
            group, created = Group.objects.get_or_create(name=role_name)
            wanted = [existing[codename] for codename in sorted(DEFAULT_MATRIX[role_name])]
            if created or reset:
                group.permissions.set(wanted)
            elif role_name == OWNER:
                group.permissions.add(*wanted)
