"""Forms of the sequence pages, the lead view's Sequence Execution panel and Settings → Sending:
the shape of the input; pipeline/sequences.py keeps the rules."""

from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Lower

from contacts.filters import as_id
from leadcrm.models import Workspace
from pipeline.models import SendingSettings, Sequence, SequenceStep
from segments.models import Segment, SegmentState

NAME_MAX = Sequence._meta.get_field("name").max_length
SUBJECT_MAX = SequenceStep._meta.get_field("subject").max_length
WAIT_DAYS_MAX = 365


def enrollable_sequences(workspace: Workspace | int) -> QuerySet[Sequence]:
    """The sequences a lead can join now: not archived, with at least one step."""
    has_steps = SequenceStep.objects.filter(sequence=OuterRef("pk"))
    return (
        Sequence.objects.filter(workspace=workspace, is_archived=False)
        .filter(Exists(has_steps))
        .order_by(Lower("name"), "pk")
    )


class SequenceForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
        help_text="What the sequence is for and who it suits (optional).",
    )


class StepForm(forms.Form):
    subject = forms.CharField(
        max_length=SUBJECT_MAX, error_messages={"required": "Write the subject."}
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), error_messages={"required": "Write the body."}
    )
    wait_days = forms.IntegerField(
        label="Wait (days)",
        min_value=0,
        max_value=WAIT_DAYS_MAX,
        initial=0,
        help_text="Days after the previous step (after enrolment, for the first step) before "
        "this one is due.",
    )


class StepMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])

    @property
    def offset(self) -> int:
        return -1 if self.cleaned_data["direction"] == "up" else 1


class AudienceForm(forms.Form):
    """Enrol an audience: an Active segment of the workspace (Draft and Retired are refused)."""

    segment = forms.ModelChoiceField(
        queryset=Segment.objects.none(),
        empty_label="Choose an Active segment…",
        error_messages={
            "required": "Choose an Active segment.",
            "invalid_choice": "Only Active segments can be sequence audiences; that one is "
            "not Active, or is gone.",
        },
    )

    def __init__(self, *args, workspace: Workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(
            workspace=workspace, state=SegmentState.ACTIVE
        ).order_by(Lower("name"), "pk")


class EnrolForm(forms.Form):
    """Enrol one lead: a sequence of the workspace (the service refuses archived or empty ones)."""

    sequence = forms.ModelChoiceField(
        queryset=Sequence.objects.none(),
        empty_label="Choose a sequence…",
        error_messages={
            "required": "Choose a sequence.",
            "invalid_choice": "That sequence is not available: it may be gone.",
        },
    )

    def __init__(self, *args, workspace: Workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sequence"].queryset = Sequence.objects.filter(workspace=workspace)


class BulkEnrolForm(EnrolForm):
    """The leads list's "Enrol in sequence": the selected rows, or every lead matching."""

    all_matching = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        # Row checkboxes: any whole numbers; the view keeps only this workspace's leads.
        ids = (as_id(value) for value in self.data.getlist("lead"))
        data["lead_ids"] = [pk for pk in ids if pk is not None]
        if not data.get("all_matching") and not data["lead_ids"]:
            raise forms.ValidationError("Select at least one lead.")
        return data


class SendForm(forms.Form):
    """Send next step: how many steps had gone when the page was shown (a second click or
    another member's send in between is refused instead of sending a step twice)."""

    expected_steps_sent = forms.IntegerField(min_value=0)


class SendingSettingsForm(forms.ModelForm):
    class Meta:
        model = SendingSettings
        fields = ["from_name", "from_email", "reply_to", "postal_address"]
        widgets = {"postal_address": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "from_name": "Shown as the sender, e.g. your name or your company's.",
            "from_email": "The address messages come from. Your mail provider must allow "
            "sending from it.",
            "reply_to": "Where replies go, when not to the sender address (optional).",
            "postal_address": "Required by anti-spam laws (CAN-SPAM, GDPR/ePrivacy practice): "
            "it goes in the footer of every message, next to the unsubscribe link.",
        }
