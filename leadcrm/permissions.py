"""Who may do what in a workspace (PRODUCT W2/W3).

Every check asks member_can(membership, "leadcrm.<codename>", obj=None). Views use
@require_perm, which answers 403 for a missing permission; objects are fetched through the
workspace (another workspace's object is a 404, see leadcrm.views.get_scoped_or_404).
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from leadcrm.models import WORKSPACE_PERMISSIONS, Membership

_CODENAMES = {codename for codename, _ in WORKSPACE_PERMISSIONS}

# "Own"/"any" pairs: asking for the short name answers for the lead given (or for any lead
# when none is given: "may they do this to some lead?", which decides whether to show a button).
OWNED_PERMISSIONS = {
    "delete_lead": ("delete_any_lead", "delete_own_lead"),
    "bulk_update_leads": ("bulk_update_any_leads", "bulk_update_own_leads"),
}


def member_permissions(membership: Membership) -> frozenset[str]:
    """The codenames the membership's role holds, read once per membership object."""
    cached = getattr(membership, "_permission_codenames", None)
    if cached is None:
        cached = frozenset(
            membership.role.permissions.filter(content_type__app_label="leadcrm").values_list(
                "codename", flat=True
            )
        )
        membership._permission_codenames = cached
    return cached


def member_can(membership: Membership | None, perm: str, obj=None) -> bool:
    app_label, _, codename = perm.partition(".")
    if app_label != "leadcrm" or (codename not in _CODENAMES and codename not in OWNED_PERMISSIONS):
        raise ValueError(f"Unknown permission {perm!r}")
    if membership is None:
        return False
    if (
        obj is not None
        and getattr(obj, "workspace_id", membership.workspace_id) != membership.workspace_id
    ):
        return False
    held = member_permissions(membership)
    if codename in OWNED_PERMISSIONS:
        any_codename, own_codename = OWNED_PERMISSIONS[codename]
        if any_codename in held:
            return True
        if own_codename not in held:
            return False
        return obj is None or getattr(obj, "owner_id", None) == membership.user_id
    return codename in held


def require_membership(view: Callable) -> Callable:
    """Logged in and in a workspace; a user without one is sent to create a workspace."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.membership is None:
            if request.method != "GET" or request.htmx:
                raise PermissionDenied("You are not a member of any workspace.")
            return redirect("workspace-new")
        return view(request, *args, **kwargs)

    return wrapper


def require_perm(*perms: str) -> Callable:
    """403 unless the current membership holds every permission named."""

    def decorator(view: Callable) -> Callable:
        @require_membership
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            for perm in perms:
                if not member_can(request.membership, perm):
                    raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class MemberPermissions:
    """Template access: {% if can.manage_members %} asks member_can for the current member."""

    def __init__(self, membership: Membership | None):
        self.membership = membership

    def __getitem__(self, codename: str) -> bool:
        return member_can(self.membership, f"leadcrm.{codename}")

    def __contains__(self, codename: str) -> bool:
        return self[codename]
