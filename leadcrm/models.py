from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, Group, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

# Every product permission, declared once (PRODUCT W2). Roles are Groups holding a subset of
# these; checks go through leadcrm.permissions.member_can(), never user.has_perm().
WORKSPACE_PERMISSIONS = [
    ("view_leads", "View leads, lead pages and the kanban"),
    ("view_segments", "View segments"),
    ("view_unsubscribes", "View the Unsubscribes page"),
    ("add_lead", "Add leads"),
    ("change_lead", "Edit leads and move them on the kanban"),
    ("log_activity", "Log calls, meetings and notes"),
    ("add_to_static_segment", "Add leads to static segments"),
    ("delete_own_lead", "Delete leads they own"),
    ("delete_any_lead", "Delete any lead"),
    ("bulk_update_own_leads", "Bulk update leads they own"),
    ("bulk_update_any_leads", "Bulk update any lead"),
    ("change_consent", "Change consent and do-not-contact"),
    ("run_sequences", "Enrol leads in, send and stop sequences"),
    ("manage_segments", "Create, edit and retire segments"),
    ("import_leads", "Import leads"),
    ("export_leads", "Export leads"),
    ("manage_scoring", "Edit scoring rules"),
    ("define_sequences", "Define sequences"),
    ("manage_custom_fields", "Manage custom fields"),
    ("manage_suppression", "Manage the suppression list"),
    ("manage_sending", "Edit sending settings"),
    ("gdpr_export", "Export everything held on a lead (GDPR access)"),
    ("gdpr_erase", "Erase leads (GDPR)"),
    ("view_audit_log", "View the audit log"),
    ("manage_members", "Invite members, change their roles, remove them"),
    ("manage_owners", "Invite, promote, demote and remove owners"),
    ("change_workspace", "Rename the workspace"),
    ("transfer_ownership", "Transfer ownership of the workspace"),
    ("delete_workspace", "Delete the workspace"),
]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> "User":
        return self.get(email__iexact=email.strip())

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=email, **fields)
        user.set_password(password)  # None gives an unusable password: an invite sets it
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in. Email is the login, unique case-insensitively.

    `is_staff`/`is_superuser` are for operators of the installation (the Django admin, W6);
    what a user may do inside a workspace comes from their Membership's role.
    """

    email = models.EmailField("email address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    last_workspace = models.ForeignKey(
        "leadcrm.Workspace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class Workspace(models.Model):
    """A tenant: every record of the product belongs to exactly one workspace."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        default_permissions = ()
        permissions = WORKSPACE_PERMISSIONS

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet):
    def owners(self) -> "MembershipQuerySet":
        from leadcrm.roles import OWNER

        return self.filter(role__name=OWNER)


class Membership(models.Model):
    """A user's place in a workspace; `role` is one of the role Groups (W2)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="memberships")
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["workspace", "role"], name="membership_ws_role")]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} as {self.role}"

    @property
    def is_owner(self) -> bool:
        from leadcrm.roles import OWNER

        return self.role.name == OWNER

    @property
    def is_pending(self) -> bool:
        """Invited but has not set a password yet."""
        return not self.user.has_usable_password()


class AuditLog(models.Model):
    """Append-only record of who changed what (PRODUCT C7). Written by audit_record()."""

    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="audit_ws_recent"),
            models.Index(fields=["workspace", "object_type", "object_id"], name="audit_ws_object"),
            # The audit log page's filters by action and by member (C7).
            models.Index(fields=["workspace", "action", "-created_at"], name="audit_ws_action"),
            models.Index(fields=["workspace", "actor", "-created_at"], name="audit_ws_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label or 'system'} {self.action} {self.object_repr}"
