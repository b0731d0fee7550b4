"""Writes on workspaces and memberships. Each runs in a transaction and writes its audit entry.

Views check permissions (403/404); these functions keep the invariants that hold whoever
calls them: a workspace keeps at least one owner, a user is a member once.
"""

from collections.abc import Callable

from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from leadcrm.audit import audit_record
from leadcrm.models import Membership, User, Workspace
from leadcrm.roles import ADMIN, OWNER

# Called as handler(workspace=…, from_user=…, to_user=…) when a member is removed, so apps
# that own records with an owner (contacts: leads) reassign them. Registered from AppConfig.ready.
MEMBER_REMOVAL_HANDLERS: list[Callable[..., None]] = []


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def workspace_create(*, user: User, name: str) -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationError("Give the workspace a name.")
    workspace = Workspace.objects.create(name=name, slug=_unique_slug(name))
    membership = Membership.objects.create(
        user=user, workspace=workspace, role=Group.objects.get(name=OWNER)
    )
    audit_record(actor=user, workspace=workspace, action="workspace.create", obj=workspace)
    audit_record(
        actor=user,
        workspace=workspace,
        action="member.add",
        obj=membership,
        object_repr=user.email,
        changes={"role": [None, OWNER]},
    )
    return workspace


@transaction.atomic
def workspace_rename(*, actor: User, workspace: Workspace, name: str) -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationError("Give the workspace a name.")
    old = workspace.name
    if old != name:
        workspace.name = name
        workspace.save(update_fields=["name"])
        audit_record(
            actor=actor,
            workspace=workspace,
            action="workspace.rename",
            obj=workspace,
            changes={"name": [old, name]},
        )
    return workspace


@transaction.atomic
def workspace_delete(*, actor: User, workspace: Workspace, confirm_name: str) -> None:
    if confirm_name.strip() != workspace.name:
        raise ValidationError("Type the workspace's name exactly to confirm.")
    name, pk = workspace.name, workspace.pk
    workspace.delete()
    # The workspace's own log goes with it; this installation-level entry stays.
    audit_record(
        actor=actor,
        workspace=None,
        action="workspace.delete",
        object_repr=f"{name} (#{pk})",
    )


def _invite_email(*, membership: Membership, site_url: str, new_user: bool) -> None:
    user = membership.user
    if new_user:
        path = reverse(
            "invite-accept",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    else:
        path = reverse("login")
    context = {
        "membership": membership,
        "workspace": membership.workspace,
        "inviter": membership.invited_by,
        "url": site_url.rstrip("/") + path,
        "new_user": new_user,
    }
    send_mail(
        subject=f"You're invited to {membership.workspace.name} on LeadCRM",
        message=render_to_string("leadcrm/email/invite.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


@transaction.atomic
def member_invite(
    *, actor: User, workspace: Workspace, email: str, role: Group, site_url: str
) -> Membership:
    """Add a person to the workspace; a new person gets a link that sets their password."""
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    new_user = user is None
    if new_user:
        user = User.objects.create_user(email=email)
    elif Membership.objects.filter(user=user, workspace=workspace).exists():
        raise ValidationError(f"{email} is already a member of this workspace.")
    pending = new_user or not user.has_usable_password()
    membership = Membership.objects.create(
        user=user, workspace=workspace, role=role, invited_by=actor
    )
    audit_record(
        actor=actor,
        workspace=workspace,
        action="member.invite",
        obj=membership,
        object_repr=email,
        changes={"role": [None, role.name]},
    )
    transaction.on_commit(
        lambda: _invite_email(membership=membership, site_url=site_url, new_user=pending)
    )
    return membership


def member_resend_invite(*, actor: User, membership: Membership, site_url: str) -> None:
    if not membership.is_pending:
        raise ValidationError(f"{membership.user.email} has already accepted the invitation.")
    audit_record(
        actor=actor,
        workspace=membership.workspace,
        action="member.invite_resend",
        obj=membership,
        object_repr=membership.user.email,
    )
    _invite_email(membership=membership, site_url=site_url, new_user=True)


def _other_owners(membership: Membership):
    return (
        Membership.objects.owners()
        .filter(workspace_id=membership.workspace_id)
        .exclude(pk=membership.pk)
    )


@transaction.atomic
def member_change_role(*, actor: User, membership: Membership, role: Group) -> Membership:
    old = membership.role
    if old == role:
        return membership
    if old.name == OWNER and not _other_owners(membership).select_for_update().exists():
        raise ValidationError(
            "A workspace keeps at least one owner: make someone else owner first."
        )
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        workspace=membership.workspace,
        action="member.role_change",
        obj=membership,
        object_repr=membership.user.email,
        changes={"role": [old.name, role.name]},
    )
    return membership


@transaction.atomic
def member_remove(*, actor: User, membership: Membership, reassign_to: Membership) -> None:
    """Remove a member; whatever they own in the workspace passes to `reassign_to`."""
    if reassign_to.workspace_id != membership.workspace_id or reassign_to.pk == membership.pk:
        raise ValidationError("Choose another member of this workspace to take over their leads.")
    if membership.is_owner and not _other_owners(membership).select_for_update().exists():
        raise ValidationError(
            "A workspace keeps at least one owner: make someone else owner first."
        )
    workspace, user = membership.workspace, membership.user
    for handler in MEMBER_REMOVAL_HANDLERS:
        handler(workspace=workspace, from_user=user, to_user=reassign_to.user)
    audit_record(
        actor=actor,
        workspace=workspace,
        action="member.remove",
        obj=membership,
        object_repr=user.email,
        changes={"role": [membership.role.name, None], "reassigned_to": reassign_to.user.email},
    )
    membership.delete()
    if user.last_workspace_id == workspace.pk:
        user.last_workspace = None
        user.save(update_fields=["last_workspace"])


@transaction.atomic
def ownership_transfer(*, actor_membership: Membership, to: Membership) -> None:
    """The chosen member becomes Owner; the current owner steps down to Admin."""
    if to.workspace_id != actor_membership.workspace_id or to.pk == actor_membership.pk:
        raise ValidationError("Choose another member of this workspace.")
    owner_role = Group.objects.get(name=OWNER)
    member_change_role(actor=actor_membership.user, membership=to, role=owner_role)
    member_change_role(
        actor=actor_membership.user,
        membership=actor_membership,
        role=Group.objects.get(name=ADMIN),
    )
