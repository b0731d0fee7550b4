"""The audit log page's filters (PRODUCT C7) and the names it shows for actions and objects.

Every filter keeps to an index of AuditLog: the page reads (workspace, -created_at), and an
object's history reads (workspace, object_type, object_id). Dates compare created_at with the
bounds of the days asked for, never a function of the column, so the index still serves them.

The actions are those the services write (`audit_record(action=…)`); tests check that each
one in the code is listed here. Only strings name other apps' objects: compliance imports no
higher app.
"""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.utils import timezone

from contacts.filters import as_id
from leadcrm.models import AuditLog, Membership, Workspace

SYSTEM = "system"  # the actor filter's value for entries no member made (tasks, the link)

# action → label, grouped as the action filter offers them.
ACTION_GROUPS: dict[str, dict[str, str]] = {
    "Leads": {
        "lead.create": "Lead created",
        "lead.update": "Lead updated",
        "lead.delete": "Lead moved to the trash",
        "lead.restore": "Lead restored from the trash",
        "lead.purge": "Trash purged",
        "lead.bulk_update": "Leads updated in bulk",
        "lead.reassign": "Leads reassigned",
        "saved_view.create": "List view saved",
        "saved_view.delete": "List view deleted",
    },
    "Consent": {
        "lead.consent": "Consent changed",
        "lead.unsubscribe": "Lead unsubscribed",
        "lead.bulk_unsubscribe": "Leads unsubscribed in bulk",
        "lead.do_not_contact": "Do Not Contact changed",
        "suppression.add": "Added to the suppression list",
        "suppression.remove": "Removed from the suppression list",
    },
    "Imports": {
        "import.upload": "Import file uploaded",
        "import.start": "Import started",
        "lead.import": "Import batch written",
        "import.finish": "Import finished",
        "import.fail": "Import failed",
        "import.cancel": "Import cancelled",
        "import.undo": "Import undone",
        "import.discard": "Import discarded before it started",
    },
    "Exports": {
        "export.start": "Export started",
        "unsubscribes.export": "Unsubscribes exported",
    },
    "Segments": {
        "segment.create": "Segment created",
        "segment.update": "Segment renamed or described",
        "segment.rules": "Segment rules changed",
        "segment.state": "Segment state changed",
        "segment.duplicate": "Segment duplicated",
        "segment.freeze": "Segment frozen",
        "segment.add_leads": "Leads added to a segment",
        "segment.remove_leads": "Leads removed from a segment",
        "segment.delete": "Segment deleted",
    },
    "Sequences": {
        "sequence.create": "Sequence created",
        "sequence.update": "Sequence updated",
        "sequence.step_add": "Sequence step added",
        "sequence.step_update": "Sequence step changed",
        "sequence.step_move": "Sequence step moved",
        "sequence.step_delete": "Sequence step deleted",
        "sequence.archive": "Sequence archived",
        "sequence.restore": "Sequence restored",
        "sequence.enrol": "Lead enrolled in a sequence",
        "sequence.enrol_bulk": "Leads enrolled in a sequence",
        "sequence.stop": "Sequence stopped for a lead",
    },
    "Members": {
        "member.add": "Member added",
        "member.invite": "Member invited",
        "member.invite_resend": "Invitation sent again",
        "member.role_change": "Role changed",
        "member.remove": "Member removed",
    },
    "Settings": {
        "workspace.create": "Workspace created",
        "workspace.rename": "Workspace renamed",
        "custom_field.create": "Custom field created",
        "custom_field.update": "Custom field changed",
        "custom_field.reorder": "Custom field moved",
        "custom_field.retire": "Custom field retired",
        "custom_field.restore": "Custom field restored",
        "custom_field.delete": "Custom field deleted",
        "scoring_rule.create": "Scoring rule added",
        "scoring_rule.update": "Scoring rule changed",
        "scoring_rule.disable": "Scoring rule disabled",
        "scoring_rule.enable": "Scoring rule enabled",
        "scoring_rule.delete": "Scoring rule deleted",
        "scoring.source_weights": "Source weights changed",
        "scoring.recompute": "Scores recomputed",
        "sending.create": "Sending settings set",
        "sending.update": "Sending settings changed",
    },
    "GDPR": {
        "lead.gdpr_export": "GDPR access export",
        "erasure.request": "Erasure requested",
        "lead.erase": "Lead erased",
        "lead.bulk_erase": "Leads erased in bulk",
    },
}
ACTION_LABELS: dict[str, str] = {
    **{action: label for actions in ACTION_GROUPS.values() for action, label in actions.items()},
    # Logged with no workspace (its log goes with it): labelled, never offered as a filter.
    "workspace.delete": "Workspace deleted",
}

# What audit entries are about, by model label; the labels only name them.
OBJECT_TYPES: dict[str, str] = {
    "contacts.lead": "Lead",
    "segments.segment": "Segment",
    "pipeline.sequence": "Sequence",
    "contacts.importjob": "Import",
    "pipeline.exportjob": "Export",
    "contacts.customfield": "Custom field",
    "contacts.scoringrule": "Scoring rule",
    "contacts.scoringsettings": "Scoring settings",
    "contacts.scorerecompute": "Score recompute",
    "contacts.suppressedemail": "Suppression entry",
    "pipeline.sendingsettings": "Sending settings",
    "pipeline.savedview": "Saved view",
    "leadcrm.membership": "Member",
    "leadcrm.workspace": "Workspace",
    "compliance.erasurerequest": "Erasure request",
}


def action_label(action: str) -> str:
    """The readable name of an action; one the list does not know yet still reads."""
    return ACTION_LABELS.get(action) or action.replace(".", " ").replace("_", " ").capitalize()


def object_type_label(object_type: str) -> str:
    return OBJECT_TYPES.get(object_type) or object_type


# A date beyond these has no audit entry, and its day bounds would overflow a datetime.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(9999, 12, 30)
DATE_VALIDATORS = [
    MinValueValidator(FIRST_DAY, "Choose a date from 2000 on."),
    MaxValueValidator(LAST_DAY, "Choose a date before the year 9999 ends."),
]
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


class ObjectIdField(forms.CharField):
    """An object's id: a whole number an id column can hold."""

    def to_python(self, value) -> str:
        value = super().to_python(value).strip()
        if value and as_id(value) is None:
            raise forms.ValidationError("The object id must be a whole number, like 42.")
        return value


class ObjectIdFilter(django_filters.CharFilter):
    field_class = ObjectIdField


class AuditLogFilterForm(forms.Form):
    def clean(self) -> dict:
        data = super().clean()
        after, before = data.get("date_from"), data.get("date_to")
        if after and before and after > before:
            self.add_error("date_to", "The end date is before the start date.")
        if data.get("object_id") and not data.get("object_type"):
            self.add_error("object_id", "Choose the object's type to look up an id.")
        return data


class AuditLogFilterSet(django_filters.FilterSet):
    """Built on the workspace's entries: AuditLogFilterSet(request.GET, queryset=…,
    workspace=ws). A value it cannot read is left out of the filtering and reported in
    `form.errors`."""

    actor = django_filters.ChoiceFilter(
        method="filter_actor", label="Who", empty_label="Anyone", choices=[]
    )
    action = django_filters.ChoiceFilter(
        label="Action",
        empty_label="Any action",
        choices=[(group, list(actions.items())) for group, actions in ACTION_GROUPS.items()],
    )
    object_type = django_filters.ChoiceFilter(
        label="Object",
        empty_label="Any object",
        choices=sorted(OBJECT_TYPES.items(), key=lambda item: item[1]),
    )
    object_id = ObjectIdFilter(
        label="Object id",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "e.g. 42"}),
    )
    date_from = django_filters.DateFilter(
        method="filter_date_from", label="From", widget=DATE_INPUT, validators=DATE_VALIDATORS
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to", label="To", widget=DATE_INPUT, validators=DATE_VALIDATORS
    )

    class Meta:
        model = AuditLog
        fields: list[str] = []
        form = AuditLogFilterForm

    def __init__(self, data=None, *args, workspace: Workspace, **kwargs):
        super().__init__(data, *args, **kwargs)
        members = (
            Membership.objects.filter(workspace=workspace)
            .select_related("user")
            .order_by("user__email")
        )
        self.filters["actor"].extra["choices"] = [
            (SYSTEM, "System"),
            *((str(m.user_id), m.user.display_name) for m in members),
        ]

    def filter_actor(self, queryset: QuerySet[AuditLog], name: str, value: str):
        # No member: a task, the unsubscribe link (a deleted user's entries keep their label).
        if value == SYSTEM:
            return queryset.filter(actor__isnull=True, actor_label="")
        return queryset.filter(actor_id=int(value))

    def filter_date_from(self, queryset: QuerySet[AuditLog], name: str, value: date):
        return queryset.filter(created_at__gte=day_start(value))

    def filter_date_to(self, queryset: QuerySet[AuditLog], name: str, value: date):
        return queryset.filter(created_at__lt=day_start(value + timedelta(days=1)))

    @property
    def problems(self) -> list[str]:
        """What could not be read, one plain sentence per field (those filters are ignored)."""
        labels = {name: field.label for name, field in self.form.fields.items()}
        return [
            f"{labels.get(name, 'Filters')}: {' '.join(errors)}"
            for name, errors in self.form.errors.items()
        ]
