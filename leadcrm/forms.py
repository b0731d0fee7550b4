from django import forms
from django.contrib.auth.models import Group
from django.db.models import Case, IntegerField, Value, When

from leadcrm.models import Membership
from leadcrm.permissions import member_can
from leadcrm.roles import OWNER, ROLE_NAMES, SALES_REP


def assignable_roles(membership: Membership):
    """Roles this member may hand out: all of them, but Owner only for those who manage owners."""
    order = Case(
        *[When(name=name, then=Value(i)) for i, name in enumerate(ROLE_NAMES)],
        default=Value(len(ROLE_NAMES)),
        output_field=IntegerField(),
    )
    roles = Group.objects.annotate(position=order).order_by("position", "name")
    if not member_can(membership, "leadcrm.manage_owners"):
        roles = roles.exclude(name=OWNER)
    return roles


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100, label="Workspace name")


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ModelChoiceField(queryset=Group.objects.none(), empty_label=None)

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        roles = assignable_roles(membership)
        self.fields["role"].queryset = roles
        # The least surprising default is the everyday role, never Owner.
        self.fields["role"].initial = roles.filter(name=SALES_REP).first()


class RoleForm(forms.Form):
    role = forms.ModelChoiceField(queryset=Group.objects.none(), empty_label=None)

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = assignable_roles(membership)


class RemoveMemberForm(forms.Form):
    reassign_to = forms.ModelChoiceField(
        queryset=Membership.objects.none(),
        label="Give their leads to",
        empty_label=None,
    )

    def __init__(self, *args, removing: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reassign_to"].queryset = (
            Membership.objects.filter(workspace_id=removing.workspace_id)
            .exclude(pk=removing.pk)
            .select_related("user")
            .order_by("user__email")
        )
        self.fields["reassign_to"].label_from_instance = lambda m: m.user.display_name


class TransferOwnershipForm(forms.Form):
    to = forms.ModelChoiceField(queryset=Membership.objects.none(), label="New owner")

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = (
            Membership.objects.filter(workspace_id=membership.workspace_id)
            .exclude(pk=membership.pk)
            .exclude(role__name=OWNER)
            .select_related("user", "role")
            .order_by("user__email")
        )
        self.fields["to"].label_from_instance = lambda m: f"{m.user.display_name} ({m.role.name})"


class DeleteWorkspaceForm(forms.Form):
    confirm_name = forms.CharField(label="Type the workspace's name to confirm", max_length=100)
