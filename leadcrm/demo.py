"""The Demo workspace of `seed_demo` (PRODUCT 13): one login per role, plus an operator."""

from django.contrib.auth.models import Group
from django.db import transaction

from leadcrm.models import Membership, User, Workspace
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP, VIEWER, ensure_default_roles

DEMO_SLUG = "demo"
DEMO_USERS = [
    ("owner@demo.test", "Olivia Owner", OWNER),
    ("admin@demo.test", "Adam Admin", ADMIN),
    ("marketer@demo.test", "Maya Marketer", MARKETER),
    ("rep@demo.test", "Ravi Rep", SALES_REP),
    ("viewer@demo.test", "Vera Viewer", VIEWER),
]
OPERATOR_EMAIL = "operator@demo.test"


@transaction.atomic
def demo_workspace_seed(*, password: str, reset_passwords: bool) -> Workspace:
    """Create or repair the Demo workspace and its users; running it again changes nothing."""
    ensure_default_roles()
    workspace, _ = Workspace.objects.get_or_create(slug=DEMO_SLUG, defaults={"name": "Demo"})
    roles = {group.name: group for group in Group.objects.all()}
    for email, name, role in DEMO_USERS:
        user = _demo_user(email, name, password, reset_passwords)
        Membership.objects.update_or_create(
            user=user, workspace=workspace, defaults={"role": roles[role]}
        )
    operator = _demo_user(OPERATOR_EMAIL, "Otto Operator", password, reset_passwords)
    if not operator.is_superuser:
        operator.is_staff = operator.is_superuser = True
        operator.save(update_fields=["is_staff", "is_superuser"])
    return workspace


def _demo_user(email: str, name: str, password: str, reset_password: bool) -> User:
    user, created = User.objects.get_or_create(email=email, defaults={"full_name": name})
    if created or reset_password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user
