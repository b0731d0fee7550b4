"""Forms of the segment pages: the shape of the input; segments/services.py keeps the rules."""

from django import forms
from django.db.models import QuerySet

from contacts.filters import as_id
from segments.models import Segment, SegmentKind, SegmentState

NAME_MAX = Segment._meta.get_field("name").max_length
DESCRIPTION_MAX = 2000


class SegmentEditForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=DESCRIPTION_MAX
    )


class SegmentCreateForm(SegmentEditForm):
    kind = forms.ChoiceField(
        label="Type",
        choices=SegmentKind.choices,
        initial=SegmentKind.STATIC,
        widget=forms.RadioSelect,
        help_text="Static: the leads you add. Dynamic: every lead matching its rules, "
        "worked out each time the segment is used.",
    )
    state = forms.ChoiceField(
        choices=[(SegmentState.DRAFT, "Draft"), (SegmentState.ACTIVE, "Active")],
        initial=SegmentState.DRAFT,
        help_text="Only Active segments can be sequence audiences.",
    )


class SegmentStateForm(forms.Form):
    state = forms.ChoiceField(choices=SegmentState.choices)


class LeadSelectionForm(forms.Form):
    """Row checkboxes (`lead`): any whole numbers; the view keeps only this workspace's leads."""

    def clean(self):
        data = super().clean()
        ids = (as_id(value) for value in self.data.getlist("lead"))
        data["lead_ids"] = [pk for pk in ids if pk is not None]
        if not data["lead_ids"]:
            raise forms.ValidationError("Select at least one lead.")
        return data


class SegmentChoiceForm(forms.Form):
    """One segment out of `segments` (the lead page's "Add to segment")."""

    segment = forms.ModelChoiceField(
        queryset=Segment.objects.none(),
        empty_label="Choose a static segment…",
        error_messages={
            "required": "Choose a static segment.",
            "invalid_choice": "That segment is not available: it may be retired or gone.",
        },
    )

    def __init__(self, *args, segments: QuerySet[Segment], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = segments
