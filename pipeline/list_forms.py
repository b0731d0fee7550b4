"""Forms of the leads list: columns, saved views, bulk update."""

from django import forms

from contacts.filters import as_id
from contacts.models import CustomField, LeadStatus
from leadcrm.models import Membership, Workspace
from segments.models import Segment, SegmentKind, SegmentState


class KnownChoicesField(forms.MultipleChoiceField):
    """Drops values that are no longer choices (a custom field retired since the page loaded)."""

    def to_python(self, value):
        known = {str(key) for key, _ in self.choices}
        return [item for item in super().to_python(value) if item in known]


class ColumnsForm(forms.Form):
    columns = KnownChoicesField(widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["columns"].choices = choices


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=100)
    shared = forms.BooleanField(required=False, label="Share with the workspace")


class BulkAction:
    STATUS = "status"
    OWNER = "owner"
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    CUSTOM_FIELD = "custom_field"
    ADD_TO_SEGMENT = "add_to_segment"
    DELETE = "delete"
    CHOICES = [
        (STATUS, "Set status"),
        (OWNER, "Set owner"),
        (ADD_TAGS, "Add tags"),
        (REMOVE_TAGS, "Remove tags"),
        (CUSTOM_FIELD, "Set a custom field"),
        (ADD_TO_SEGMENT, "Add to static segment"),
        (DELETE, "Move to trash"),
    ]


class BulkUpdateForm(forms.Form):
    action = forms.ChoiceField(
        choices=BulkAction.CHOICES, error_messages={"required": "Choose a bulk action."}
    )
    all_matching = forms.BooleanField(required=False)
    status = forms.ChoiceField(choices=[("", "—"), *LeadStatus.choices], required=False)
    owner = forms.ChoiceField(required=False)
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated")
    field_key = forms.ChoiceField(required=False, label="Field")
    field_value = forms.CharField(required=False, max_length=1000, label="Value")
    segment = forms.ModelChoiceField(queryset=Segment.objects.none(), required=False)

    def __init__(self, *args, workspace: Workspace, custom_fields: list[CustomField], **kwargs):
        super().__init__(*args, **kwargs)
        members = (
            Membership.objects.filter(workspace=workspace)
            .select_related("user")
            .order_by("user__full_name", "user__email")
        )
        self.fields["owner"].choices = [
            ("", "Nobody"),
            *[(str(m.user_id), m.user.display_name) for m in members],
        ]
        self.fields["field_key"].choices = [("", "—"), *[(f.key, f.label) for f in custom_fields]]
        self.fields["segment"].queryset = Segment.objects.filter(
            workspace=workspace, kind=SegmentKind.STATIC
        ).exclude(state=SegmentState.RETIRED)

    def clean(self):
        data = super().clean()
        # Row checkboxes: any whole numbers; the view keeps only this workspace's leads.
        ids = (as_id(v) for v in self.data.getlist("lead"))
        data["lead_ids"] = [pk for pk in ids if pk is not None]
        if not data.get("all_matching") and not data["lead_ids"]:
            raise forms.ValidationError("Select at least one lead.")
        action = data.get("action")
        if action == BulkAction.STATUS and not data.get("status"):
            self.add_error("status", "Choose a status.")
        if action in (BulkAction.ADD_TAGS, BulkAction.REMOVE_TAGS) and not _tag_names(
            data.get("tags", "")
        ):
            self.add_error("tags", "Name at least one tag.")
        if action == BulkAction.CUSTOM_FIELD and not data.get("field_key"):
            self.add_error("field_key", "Choose a field.")
        if action == BulkAction.ADD_TO_SEGMENT and not data.get("segment"):
            self.add_error("segment", "Choose a static segment.")
        data["tag_names"] = _tag_names(data.get("tags", ""))
        return data


def _tag_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]
