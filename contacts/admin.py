"""The Django admin for operators of the installation (W6), not for workspace members.

Lists stay cheap on large tables: related rows are joined (list_select_related), foreign keys
are raw ids (no select of every company or user), and no full count runs under a filter.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from import_export import fields, resources
from import_export.admin import ExportMixin

from contacts.custom_fields import KEY_MESSAGE, KEY_RE, attributes_clean, custom_field_delete
from contacts.export import cell_safe
from contacts.models import (
    Activity,
    Company,
    ConsentEvent,
    CustomField,
    ImportJob,
    Lead,
    ScoringRule,
    SuppressedEmail,
    Tag,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the product's services: operators look, they don't touch."""

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "workspace", "created_at"]
    list_select_related = ["workspace"]
    search_fields = ["name", "domain"]
    raw_id_fields = ["workspace"]
    show_full_result_count = False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name"]
    raw_id_fields = ["workspace"]


class CustomFieldAdminForm(forms.ModelForm):
    key = forms.CharField(max_length=50, validators=[RegexValidator(KEY_RE, KEY_MESSAGE)])


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    form = CustomFieldAdminForm
    list_display = ["workspace", "key", "label", "type", "required", "retired_at", "deleting"]
    list_filter = ["type", "required"]
    list_select_related = ["workspace"]
    search_fields = ["key", "label"]
    raw_id_fields = ["workspace"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # The key names the values in every lead's attributes: fixed once created (W5).
        # `deleting` is only ever set by custom_field_delete(), which also queues the purge.
        return ["key", "workspace", "type", "deleting"] if obj else ["deleting"]

    def delete_model(self, request, obj: CustomField) -> None:
        custom_field_delete(field=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for field in queryset:
            custom_field_delete(field=field, actor=request.user)


class LeadAdminForm(forms.ModelForm):
    def clean(self) -> dict:
        """Custom field values pass the one validator every other path uses."""
        cleaned = super().clean()
        workspace, attributes = cleaned.get("workspace"), cleaned.get("attributes")
        if workspace is None or attributes is None:
            return cleaned
        if not isinstance(attributes, dict):
            self.add_error("attributes", "Enter a JSON object of custom field keys and values.")
            return cleaned
        before = self.instance.attributes if self.instance.pk else {}
        changed = {k: v for k, v in attributes.items() if before.get(k) != v}
        changed |= {k: None for k in before if k not in attributes}
        try:
            cleaned["attributes"] = attributes_clean(
                workspace=workspace, values=changed, partial=False, existing=before
            )
        except ValidationError as error:
            problems = [f"{key}: {m}" for key, ms in error.message_dict.items() for m in ms]
            self.add_error("attributes", problems)
        return cleaned


class SafeCellsResource(resources.ModelResource):
    """django-import-export's resource with our spreadsheet-safe text (contacts.export)."""

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        return cell_safe(value) if isinstance(value, str) else value


class LeadResource(SafeCellsResource):
    """The admin's *Export* of leads, in tablib's formats. Export only: leads come in through
    contacts.services (Pipeline → Import, `import_leads`), which keep the consent and
    suppression rules an admin import would bypass."""

    company = fields.Field(attribute="company__name", column_name="company")
    owner = fields.Field(attribute="owner__email", column_name="owner")

    class Meta:
        model = Lead
        fields = (
            "id",
            "workspace",
            "email",
            "first_name",
            "last_name",
            "company",
            "job_title",
            "phone",
            "country",
            "source",
            "owner",
            "status",
            "email_status",
            "consent_status",
            "do_not_contact",
            "score",
            "created_at",
        )
        export_order = fields

    def get_export_queryset(self, request=None, **kwargs):
        return super().get_export_queryset(request, **kwargs).select_related("company", "owner")


@admin.register(Lead)
class LeadAdmin(ExportMixin, admin.ModelAdmin):
    resource_classes = [LeadResource]
    form = LeadAdminForm
    list_display = ["email", "full_name", "workspace", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["workspace"]
    search_fields = ["email"]
    raw_id_fields = ["workspace", "company", "owner", "tags"]
    readonly_fields = ["search_text", "version"]
    show_full_result_count = False


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "type", "lead", "workspace", "source"]
    list_filter = ["type"]
    list_select_related = ["lead", "workspace"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ScoringRule)
class ScoringRuleAdmin(admin.ModelAdmin):
    list_display = [
        "workspace",
        "activity_type",
        "url_contains",
        "points",
        "resets",
        "is_active",
        "position",
    ]
    list_filter = ["activity_type", "is_active"]
    list_select_related = ["workspace"]
    raw_id_fields = ["workspace"]


@admin.register(SuppressedEmail)
class SuppressedEmailAdmin(ReadOnlyAdmin):
    list_display = ["email_hash", "reason", "workspace", "created_at"]
    list_filter = ["reason"]
    list_select_related = ["workspace"]
    search_fields = ["=email_hash"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Removal is a workspace decision with an audit entry (Settings → Suppression list).
        return False


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    """The consent ledger is append-only (C2); only GDPR erasure of the lead removes events."""

    list_display = ["occurred_at", "lead", "status_before", "status", "channel", "workspace"]
    list_filter = ["status", "channel"]
    list_select_related = ["lead", "workspace"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ImportJobResource(SafeCellsResource):
    class Meta:
        model = ImportJob
        fields = (
            "id",
            "workspace",
            "created_by__email",
            "created_at",
            "file_name",
            "mode",
            "status",
            "rows_done",
            "created",
            "updated",
            "unchanged",
            "skipped",
            "invalid",
            "finished_at",
            "undone_at",
        )
        export_order = fields


@admin.register(ImportJob)
class ImportJobAdmin(ExportMixin, ReadOnlyAdmin):
    """Every workspace's import history, for operators (and its export); imports are run and
    undone on Pipeline → Import."""

    resource_classes = [ImportJobResource]
    list_display = ["created_at", "file_name", "workspace", "created_by", "status", "created"]
    list_filter = ["status", "mode"]
    list_select_related = ["workspace", "created_by"]
    search_fields = ["file_name"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # undo on the import's page keeps later changes; a delete would not
