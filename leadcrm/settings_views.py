"""The /settings/ shell with Settings → General and Settings → Members (PRODUCT W4)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from leadcrm.forms import (
    DeleteWorkspaceForm,
    InviteForm,
    RemoveMemberForm,
    RoleForm,
    TransferOwnershipForm,
    WorkspaceForm,
    assignable_roles,
)
from leadcrm.models import Membership
from leadcrm.navigation import SETTINGS_PAGES, visible
from leadcrm.permissions import member_can, require_membership, require_perm
from leadcrm.roles import OWNER
from leadcrm.services import (
    member_change_role,
    member_invite,
    member_remove,
    member_resend_invite,
    ownership_transfer,
    workspace_delete,
    workspace_rename,
)
from leadcrm.views import get_scoped_or_404


@require_GET
@require_membership
def settings_index(request: HttpRequest) -> HttpResponse:
    pages = visible(SETTINGS_PAGES, request.membership)
    if not pages:
        raise PermissionDenied("Your role has no workspace settings to change.")
    return redirect(pages[0].url_name)


# General ---------------------------------------------------------------------------------


def _general_page(request: HttpRequest, **forms) -> HttpResponse:
    membership = request.membership
    context = {
        "rename_form": WorkspaceForm(initial={"name": request.workspace.name}),
        "transfer_form": TransferOwnershipForm(membership=membership),
        "delete_form": DeleteWorkspaceForm(),
        **forms,
    }
    status = 400 if forms else 200
    return render(request, "leadcrm/settings_general.html", context, status=status)


@require_GET
@require_perm("leadcrm.change_workspace")
def settings_general(request: HttpRequest) -> HttpResponse:
    return _general_page(request)


@require_POST
@require_perm("leadcrm.change_workspace")
def workspace_rename_view(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST)
    if not form.is_valid():
        return _general_page(request, rename_form=form)
    workspace_rename(
        actor=request.user, workspace=request.workspace, name=form.cleaned_data["name"]
    )
    messages.success(request, f"Workspace renamed to “{request.workspace.name}”.")
    return redirect("settings-general")


@require_POST
@require_perm("leadcrm.transfer_ownership")
def ownership_transfer_view(request: HttpRequest) -> HttpResponse:
    form = TransferOwnershipForm(request.POST, membership=request.membership)
    if not form.is_valid():
        return _general_page(request, transfer_form=form)
    to = form.cleaned_data["to"]
    ownership_transfer(actor_membership=request.membership, to=to)
    messages.success(request, f"{to.user.display_name} is now the owner. You are an admin.")
    return redirect("home")


@require_POST
@require_perm("leadcrm.delete_workspace")
def workspace_delete_view(request: HttpRequest) -> HttpResponse:
    form = DeleteWorkspaceForm(request.POST)
    if form.is_valid():
        try:
            name = request.workspace.name
            workspace_delete(
                actor=request.user,
                workspace=request.workspace,
                confirm_name=form.cleaned_data["confirm_name"],
            )
        except ValidationError as error:
            form.add_error("confirm_name", error)
        else:
            messages.success(request, f"Workspace “{name}” and everything in it was deleted.")
            return redirect("home")
    return _general_page(request, delete_form=form)


# Members ---------------------------------------------------------------------------------


def _members_page(request: HttpRequest, invite_form: InviteForm | None = None) -> HttpResponse:
    members = (
        Membership.objects.filter(workspace=request.workspace)
        .select_related("user", "role", "invited_by")
        .order_by("user__email")
    )
    template = "leadcrm/settings_members.html"
    if request.htmx and invite_form is None:
        template += "#member-list"
    context = {
        "members": members,
        "invite_form": invite_form or InviteForm(membership=request.membership),
        "role_choices": assignable_roles(request.membership),
        "may_manage_owners": member_can(request.membership, "leadcrm.manage_owners"),
    }
    return render(request, template, context, status=400 if invite_form else 200)


def _target_member(request: HttpRequest, pk: int) -> Membership:
    """A member of this workspace (else 404) this member may manage (owners need manage_owners)."""
    target = get_scoped_or_404(
        request, Membership.objects.select_related("user", "role", "workspace"), pk=pk
    )
    if target.is_owner and not member_can(request.membership, "leadcrm.manage_owners"):
        raise PermissionDenied("Only an owner can change or remove an owner.")
    return target


@require_GET
@require_perm("leadcrm.manage_members")
def settings_members(request: HttpRequest) -> HttpResponse:
    return _members_page(request)


@require_POST
@require_perm("leadcrm.manage_members")
def member_invite_view(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, membership=request.membership)
    if not form.is_valid():
        return _members_page(request, invite_form=form)
    try:
        membership = member_invite(
            actor=request.user,
            workspace=request.workspace,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            site_url=request.build_absolute_uri("/"),
        )
    except ValidationError as error:
        form.add_error("email", error)
        return _members_page(request, invite_form=form)
    messages.success(
        request, f"Invitation sent to {membership.user.email} as {membership.role.name}."
    )
    return redirect("settings-members")


@require_POST
@require_perm("leadcrm.manage_members")
def member_role_view(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target_member(request, pk)
    form = RoleForm(request.POST, membership=request.membership)
    if not form.is_valid():
        raise PermissionDenied("Your role cannot give that role.")
    try:
        member_change_role(actor=request.user, membership=target, role=form.cleaned_data["role"])
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, f"{target.user.display_name} is now {target.role.name}.")
        if target.pk == request.membership.pk:
            request.membership = target  # the list below shows what their new role may do
    if not member_can(request.membership, "leadcrm.manage_members"):
        return _redirect(request, "home")  # they just gave up managing members
    if request.htmx:
        return _members_page(request)
    return redirect("settings-members")


def _redirect(request: HttpRequest, url_name: str) -> HttpResponse:
    """A redirect that also works for htmx requests (a full page load, not a swap)."""
    if request.htmx:
        return HttpResponseClientRedirect(reverse(url_name))
    return redirect(url_name)


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.manage_members")
def member_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target_member(request, pk)
    form = RemoveMemberForm(request.POST or None, removing=target)
    if request.method == "POST" and form.is_valid():
        try:
            member_remove(
                actor=request.user, membership=target, reassign_to=form.cleaned_data["reassign_to"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{target.user.display_name} was removed from the workspace.")
            if target.pk == request.membership.pk:
                return redirect("home")
            return redirect("settings-members")
    status = 400 if form.errors else 200
    context = {"target": target, "form": form, "is_owner_role": target.role.name == OWNER}
    return render(request, "leadcrm/member_remove.html", context, status=status)


@require_POST
@require_perm("leadcrm.manage_members")
def member_resend_view(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target_member(request, pk)
    try:
        member_resend_invite(
            actor=request.user, membership=target, site_url=request.build_absolute_uri("/")
        )
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, f"Invitation sent again to {target.user.email}.")
    return redirect("settings-members")
