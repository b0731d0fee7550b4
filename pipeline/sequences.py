"""Sequences (PRODUCT A5, seed 001): ordered email steps a member sends lead by lead.

Manual at launch: a member enrols a lead (or many), and on the lead view sends the next step
or stops the sequence. Every send goes through `sequence_send_next()`, which refuses leads
that may not be mailed (contacts.consent.mail_refusal), renders the step's templates with
the lead's fields, sends through Django's email backend with the workspace's sender and
postal address and the RFC 8058 unsubscribe headers, and records *Email Sent* through
activity_record — all or nothing: a send that fails records nothing.
"""

import re
from dataclasses import dataclass, field
from email.utils import formataddr, make_msgid

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Node, TextNode, VariableNode
from django.template.defaulttags import CommentNode, IfNode
from django.urls import reverse
from django.utils import timezone

from compliance.tokens import unsubscribe_token
from contacts.activities import activity_record, id_chunks
from contacts.consent import mail_refusal, mail_refusals
from contacts.models import ActivityType, Channel, CustomField, Lead
from contacts.normalize import country_name
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace
from pipeline import template_filters
from pipeline.models import (
    EnrollmentStatus,
    SendingSettings,
    Sequence,
    SequenceEnrollment,
    SequenceSend,
    SequenceStep,
)

ALREADY_ENROLLED = "already in a sequence"

# Templates ----------------------------------------------------------------------------------

# Django's template language, cut down: no loader tags ({% include %}, {% extends %}), no
# libraries to {% load %}, of the built-in tags only {% if %} and comments (checked node by
# node in template_check), and a few filters that cannot fail (pipeline.template_filters),
# so a template can read the lead's fields and nothing else. Plain-text mail: rendered
# without autoescaping (Context(autoescape=False)).
FILTERS = ", ".join(template_filters.register.filters)
INVALID = re.compile("\x00[^\x00]*\x00")


class _StepEngine(Engine):
    default_builtins = []  # Engine adds `builtins` to these; we want only ours


ENGINE = _StepEngine(
    builtins=["django.template.defaulttags", "pipeline.template_filters"],
    libraries={},
    string_if_invalid="\x00%s\x00",
)
ALLOWED_NODES = (TextNode, VariableNode, IfNode, CommentNode)

# What a template may use: {{ first_name }} … and {{ custom.<key> }} for custom fields.
TEMPLATE_FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (or the email when there is no name)",
    "email": "Email",
    "job_title": "Job title",
    "department": "Department",
    "company": "Company name",
    "city": "City",
    "country": "Country name",
    "owner_name": "Lead owner's name",
    "sender_name": "Sender name (Settings → Sending)",
}


def template_context(lead: Lead, *, sender_name: str = "", custom_keys=()) -> dict:
    owner = lead.owner if lead.owner_id else None
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "full_name": lead.full_name or lead.email,
        "email": lead.email,
        "job_title": lead.job_title,
        "department": lead.department,
        "company": lead.company.name if lead.company_id else "",
        "city": lead.city,
        "country": country_name(lead.country),
        "owner_name": (owner.get_full_name() or owner.email) if owner else "",
        "sender_name": sender_name,
        "custom": {key: _text(lead.attributes.get(key)) for key in custom_keys},
    }


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def template_check(text: str, *, custom_keys=()) -> None:
    """Refuse (ValidationError) a template that does not parse, uses a tag other than
    {% if %}, or names a field that does not exist."""
    try:
        template = ENGINE.from_string(text)
    except TemplateSyntaxError as error:
        reason = str(error).split("\n")[0].rstrip(":. ")
        if "tag library" in reason or "Invalid block tag" in reason:
            reason = "only {{ field }} placeholders and {% if %} … {% endif %} are allowed"
        elif "Invalid filter" in reason:
            reason = f"{reason}; the filters are {FILTERS}"
        raise ValidationError(f"The template does not parse: {reason}.") from None
    for node in template.nodelist.get_nodes_by_type(Node):
        if not isinstance(node, ALLOWED_NODES):
            raise ValidationError(
                "Only {{ field }} placeholders and {% if %} … {% endif %} are allowed."
            )
    sample = dict.fromkeys(TEMPLATE_FIELDS, "x")
    sample["custom"] = dict.fromkeys(custom_keys, "x")
    rendered = template.render(Context(sample, autoescape=False))
    if "\x00" in rendered:
        unknown = rendered.split("\x00")[1] or "?"
        raise ValidationError(
            f"“{{{{ {unknown} }}}}” is not a field: use one of "
            + ", ".join(sorted(TEMPLATE_FIELDS))
            + " or custom.<key>."
        )


def _render(text: str, context: dict) -> str:
    """A checked template over a lead; a field that has gone since (a retired custom field)
    renders as nothing, never as its name."""
    try:
        rendered = ENGINE.from_string(text).render(Context(context, autoescape=False))
    except Exception as error:  # saved under older rules, or an odd value: refuse, don't 500
        raise ValidationError(f"This step cannot be written for this lead: {error}") from None
    return INVALID.sub("", rendered)


def _custom_keys(workspace_id: int) -> list[str]:
    return list(
        CustomField.objects.for_workspace(workspace_id).active().values_list("key", flat=True)
    )


@dataclass
class RenderedStep:
    subject: str
    body: str


def step_render(step: SequenceStep, lead: Lead, *, sender_name: str = "") -> RenderedStep:
    context = template_context(
        lead, sender_name=sender_name, custom_keys=_custom_keys(lead.workspace_id)
    )
    subject = " ".join(_render(step.subject, context).split())  # one line, whatever was typed
    return RenderedStep(subject=subject[:300], body=_render(step.body, context).strip())


# Settings → Sending ---------------------------------------------------------------------------


def sending_settings_for(workspace: Workspace | int) -> SendingSettings | None:
    return SendingSettings.objects.filter(workspace=workspace).first()


NO_SENDER = "Set the sender and postal address in Settings → Sending before the first send."

SENDING_FIELDS = ["from_name", "from_email", "reply_to", "postal_address"]


@transaction.atomic
def sending_settings_save(
    *,
    workspace: Workspace,
    actor: User | None,
    from_name: str,
    from_email: str,
    reply_to: str = "",
    postal_address: str,
) -> SendingSettings:
    """Create or change Settings → Sending, audited with the fields changed (old → new)."""
    sending = sending_settings_for(workspace)
    creating = sending is None
    sending = sending or SendingSettings(workspace=workspace)
    before = {name: None if creating else getattr(sending, name) for name in SENDING_FIELDS}
    sending.from_name = " ".join(from_name.split())
    sending.from_email = from_email.strip()
    sending.reply_to = reply_to.strip()
    sending.postal_address = postal_address.strip()
    sending.full_clean(exclude=["workspace", "updated_by"])
    changes = {
        name: [before[name], getattr(sending, name)]
        for name in SENDING_FIELDS
        if before[name] != getattr(sending, name)
    }
    if changes:
        sending.updated_at = timezone.now()
        sending.updated_by = actor
        sending.save()
        audit_record(
            actor=actor,
            workspace=workspace,
            action="sending.create" if creating else "sending.update",
            obj=sending,
            object_repr="Sending settings",
            changes=changes,
        )
    return sending


# Sequences ----------------------------------------------------------------------------------


@transaction.atomic
def sequence_save(
    *,
    workspace: Workspace,
    actor: User | None,
    sequence: Sequence | None = None,
    name: str,
    description: str = "",
) -> Sequence:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the sequence a name."})
    clash = Sequence.objects.filter(workspace=workspace, name__iexact=name)
    if sequence is not None:
        clash = clash.exclude(pk=sequence.pk)
    if clash.exists():
        raise ValidationError({"name": f"There is already a sequence called “{name}”."})
    creating = sequence is None
    sequence = sequence or Sequence(workspace=workspace, created_by=actor)
    before = {"name": sequence.name, "description": sequence.description}
    sequence.name, sequence.description = name, description.strip()
    sequence.updated_at = timezone.now()
    try:
        with transaction.atomic():
            sequence.save()
    except IntegrityError:  # the same name saved a moment ago in another tab
        raise ValidationError({"name": f"There is already a sequence called “{name}”."}) from None
    changes = {
        key: [None if creating else before[key], getattr(sequence, key)]
        for key in before
        if creating or before[key] != getattr(sequence, key)
    }
    audit_record(
        actor=actor,
        workspace=workspace,
        action="sequence.create" if creating else "sequence.update",
        obj=sequence,
        changes=changes,
    )
    return sequence


@transaction.atomic
def sequence_archive(*, sequence: Sequence, actor: User | None, archived: bool) -> Sequence:
    if sequence.is_archived != archived:
        sequence.is_archived = archived
        sequence.updated_at = timezone.now()
        sequence.save(update_fields=["is_archived", "updated_at"])
        audit_record(
            actor=actor,
            workspace=sequence.workspace,
            action="sequence.archive" if archived else "sequence.restore",
            obj=sequence,
        )
    return sequence


@transaction.atomic
def step_save(
    *,
    sequence: Sequence,
    actor: User | None,
    step: SequenceStep | None = None,
    subject: str,
    body: str,
    wait_days: int = 0,
) -> SequenceStep:
    keys = _custom_keys(sequence.workspace_id)
    errors = {}
    for name, text in (("subject", subject), ("body", body)):
        if not text.strip():
            errors[name] = f"Write the {name}."
            continue
        try:
            template_check(text, custom_keys=keys)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    creating = step is None
    if creating:
        last = sequence.steps.order_by("-position").values_list("position", flat=True).first()
        step = SequenceStep(sequence=sequence, position=(last or 0) + 1)
    fields = ("subject", "body", "wait_days")
    before = {name: None if creating else getattr(step, name) for name in fields}
    step.subject, step.body, step.wait_days = subject.strip(), body.strip(), wait_days
    step.save()
    sequence.updated_at = timezone.now()
    sequence.save(update_fields=["updated_at"])
    changed = {
        name: [before[name], getattr(step, name)]
        for name in fields
        if before[name] != getattr(step, name)
    }
    audit_record(
        actor=actor,
        workspace=sequence.workspace,
        action="sequence.step_add" if creating else "sequence.step_update",
        obj=sequence,
        changes={"step": step.pk, **changed},  # old → new of what changed (C7)
    )
    return step


@transaction.atomic
def step_move(*, step: SequenceStep, actor: User | None, offset: int) -> None:
    """Swap a step with its neighbour above (offset -1) or below (+1)."""
    steps = list(step.sequence.steps.select_for_update())
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    other = index + offset
    if not 0 <= other < len(steps):
        return
    if _reached(step.sequence, min(index, other)):
        raise ValidationError(
            "Leads in this sequence have already received one of these steps; reorder them "
            "once those leads have finished, or stop their enrolments."
        )
    steps[index], steps[other] = steps[other], steps[index]
    for position, item in enumerate(steps, start=1):
        if item.position != position:
            item.position = position
            item.save(update_fields=["position"])
    audit_record(
        actor=actor,
        workspace=step.sequence.workspace,
        action="sequence.step_move",
        obj=step.sequence,
        changes={"step": step.pk, "offset": offset},
    )


def _reached(sequence: Sequence, index: int) -> bool:
    """Whether an active enrolment has been sent the step at `index` (0-based) already; the
    enrolments are locked meanwhile, so no send slips in before the steps change."""
    active = sequence.enrollments.select_for_update().filter(status=EnrollmentStatus.ACTIVE)
    return any(steps_sent > index for steps_sent in active.values_list("steps_sent", flat=True))


@transaction.atomic
def step_delete(*, step: SequenceStep, actor: User | None) -> None:
    """Delete a step. Enrolments count steps sent, so a step deleted before an enrolment's
    next step moves that enrolment's next step back by one; refused while that would make
    anyone receive a step twice or skip one."""
    sequence = step.sequence
    steps = list(sequence.steps.select_for_update())
    index = next(i for i, s in enumerate(steps) if s.pk == step.pk)
    if _reached(sequence, index):
        raise ValidationError(
            "Leads in this sequence have already received this step; delete it once they "
            "have finished, or stop their enrolments."
        )
    step.delete()
    # Leads whose only step left was this one have now received every step.
    sequence.enrollments.filter(
        status=EnrollmentStatus.ACTIVE, steps_sent__gte=len(steps) - 1
    ).update(
        status=EnrollmentStatus.COMPLETED, ended_at=timezone.now(), end_reason="Every step sent"
    )
    audit_record(
        actor=actor,
        workspace=sequence.workspace,
        action="sequence.step_delete",
        obj=sequence,
        changes={"step": index + 1, "subject": step.subject[:200]},
    )


# Enrolment ----------------------------------------------------------------------------------


def _enrol_check(sequence: Sequence) -> None:
    if sequence.is_archived:
        raise ValidationError(f"“{sequence.name}” is archived and takes no new leads.")
    if not sequence.steps.exists():
        raise ValidationError(f"“{sequence.name}” has no steps yet.")


def active_enrollment(lead: Lead) -> SequenceEnrollment | None:
    return (
        SequenceEnrollment.objects.filter(lead=lead, status=EnrollmentStatus.ACTIVE)
        .select_related("sequence")
        .first()
    )


@transaction.atomic
def lead_enrol(*, lead: Lead, sequence: Sequence, actor: User | None) -> SequenceEnrollment:
    if sequence.workspace_id != lead.workspace_id:
        raise ValidationError("That sequence belongs to another workspace.")
    _enrol_check(sequence)
    refusal = mail_refusal(lead)
    if refusal:
        raise ValidationError(refusal)
    current = active_enrollment(lead)
    if current is not None:
        raise ValidationError(
            f"This lead is already in “{current.sequence.name}”; stop that sequence first."
        )
    try:
        with transaction.atomic():
            enrollment = SequenceEnrollment.objects.create(
                workspace_id=lead.workspace_id, sequence=sequence, lead=lead, enrolled_by=actor
            )
    except IntegrityError:  # enrolled in another tab a moment ago
        raise ValidationError("This lead was just enrolled in a sequence.") from None
    audit_record(
        actor=actor,
        workspace=sequence.workspace,
        action="sequence.enrol",
        obj=lead,
        changes={"sequence": [None, sequence.name]},
    )
    return enrollment


@dataclass
class EnrolResult:
    enrolled: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


@transaction.atomic
def leads_enrol(
    *, workspace: Workspace, sequence: Sequence, leads: QuerySet[Lead], actor: User | None
) -> EnrolResult:
    """Enrol many leads, set-based: those that may not be mailed, or are already in a
    sequence, are skipped and counted by reason."""
    if sequence.workspace_id != workspace.pk:
        raise ValidationError("That sequence belongs to another workspace.")
    _enrol_check(sequence)
    result = EnrolResult()
    leads = leads.filter(workspace=workspace).order_by()
    in_sequence = SequenceEnrollment.objects.filter(
        lead=OuterRef("pk"), status=EnrollmentStatus.ACTIVE
    )
    busy = leads.filter(Exists(in_sequence)).count()
    if busy:
        result.skipped[ALREADY_ENROLLED] = busy
    allowed, refused = mail_refusals(leads.exclude(Exists(in_sequence)), workspace=workspace)
    result.skipped.update(refused)
    now = timezone.now()
    SequenceEnrollment.objects.bulk_create(
        [
            SequenceEnrollment(
                workspace=workspace,
                sequence=sequence,
                lead_id=pk,
                enrolled_at=now,
                enrolled_by=actor,
            )
            for pk in allowed
        ],
        batch_size=2000,
        ignore_conflicts=True,  # one enrolled elsewhere meanwhile keeps that enrolment
    )
    # ignore_conflicts hides which rows went in: this batch's are the ones stamped `now`.
    result.enrolled = SequenceEnrollment.objects.filter(
        sequence=sequence, status=EnrollmentStatus.ACTIVE, enrolled_at=now
    ).count()
    raced = len(allowed) - result.enrolled
    if raced:
        result.skipped[ALREADY_ENROLLED] = result.skipped.get(ALREADY_ENROLLED, 0) + raced
    if allowed:
        audit_record(
            actor=actor,
            workspace=workspace,
            action="sequence.enrol_bulk",
            obj=sequence,
            object_repr=f"{result.enrolled} leads into {sequence.name}",
            changes={"count": result.enrolled, "skipped": result.skipped},
        )
    return result


@transaction.atomic
def enrollment_stop(
    *, enrollment: SequenceEnrollment, actor: User | None, reason: str = ""
) -> SequenceEnrollment:
    current = SequenceEnrollment.objects.select_for_update().get(pk=enrollment.pk)
    if not current.is_active:
        raise ValidationError("This sequence has already ended for this lead.")
    current.status = EnrollmentStatus.STOPPED
    current.ended_at = timezone.now()
    current.ended_by = actor
    who = (actor.get_full_name() or actor.email) if actor else "the system"
    current.end_reason = (reason or f"Stopped by {who}")[:200]
    current.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
    audit_record(
        actor=actor,
        workspace=current.workspace,
        action="sequence.stop",
        obj=current.lead,
        changes={"sequence": current.sequence.name, "steps_sent": current.steps_sent},
    )
    return current


def enrollments_stop_unsubscribed(*, workspace_id: int, lead_ids: list[int]) -> int:
    """contacts' unsubscribe handler: an unsubscribed lead's sequence stops (set-based)."""
    stopped, now = 0, timezone.now()
    for chunk in id_chunks(lead_ids):
        stopped += SequenceEnrollment.objects.filter(
            workspace_id=workspace_id, lead_id__in=chunk, status=EnrollmentStatus.ACTIVE
        ).update(status=EnrollmentStatus.STOPPED, ended_at=now, end_reason="The lead unsubscribed")
    return stopped


# Sending ------------------------------------------------------------------------------------


def unsubscribe_url(lead: Lead, site_url: str) -> str:
    token = unsubscribe_token(workspace_id=lead.workspace_id, lead_id=lead.pk)
    return site_url.rstrip("/") + reverse("unsubscribe", args=[token])


def message_build(
    *, lead: Lead, rendered: RenderedStep, sending: SendingSettings, site_url: str
) -> EmailMessage:
    """The message as it goes out: the step, then the footer every message carries."""
    link = unsubscribe_url(lead, site_url)
    footer = (
        f"\n\n-- \n{sending.from_name}\n{sending.postal_address.strip()}\n\nUnsubscribe: {link}\n"
    )
    domain = sending.from_email.rpartition("@")[2] or None
    return EmailMessage(
        subject=rendered.subject,
        body=rendered.body + footer,
        from_email=formataddr((sending.from_name, sending.from_email)),
        to=[lead.email],
        reply_to=[sending.reply_to] if sending.reply_to else None,
        headers={
            "Message-ID": make_msgid(domain=domain),
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def send_refusal(enrollment: SequenceEnrollment, lead: Lead) -> str:
    """Why the next step cannot go now, or "" (shown before the member clicks)."""
    if not enrollment.is_active:
        return "This sequence has ended for this lead."
    refusal = mail_refusal(lead)
    if refusal:
        return refusal
    sending = sending_settings_for(lead.workspace_id)
    if sending is None or not sending.is_complete:
        return NO_SENDER
    return ""


def sequence_send_next(
    *,
    enrollment: SequenceEnrollment,
    actor: User | None,
    site_url: str,
    expected_steps_sent: int | None = None,
) -> SequenceSend:
    """Send the enrolment's next step, or refuse with the reason (ValidationError).

    `expected_steps_sent` is what the member saw: a second click, or another member's send
    in between, is refused instead of sending a step twice or skipping one.
    """
    with transaction.atomic():
        # The lead first, then the enrolment: the order an unsubscribe takes them in.
        lead = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("company", "owner")
            .get(pk=enrollment.lead_id)
        )
        current = (
            SequenceEnrollment.objects.select_for_update(of=("self",))
            .select_related("sequence")
            .get(pk=enrollment.pk)
        )
        if expected_steps_sent is not None and current.steps_sent != expected_steps_sent:
            raise ValidationError(
                f"Step {expected_steps_sent + 1} was already sent; the page now shows what is next."
            )
        refusal = send_refusal(current, lead)
        if refusal:
            raise ValidationError(refusal)
        steps = list(current.sequence.steps.all())
        if current.steps_sent >= len(steps):
            raise ValidationError("Every step of this sequence has been sent.")
        step = steps[current.steps_sent]
        sending = sending_settings_for(lead.workspace_id)
        rendered = step_render(step, lead, sender_name=sending.from_name)
        if not rendered.subject or not rendered.body:
            raise ValidationError(
                f"Step {current.steps_sent + 1} comes out with an empty "
                f"{'subject' if not rendered.subject else 'body'} for this lead."
            )
        message = message_build(lead=lead, rendered=rendered, sending=sending, site_url=site_url)
        number = current.steps_sent + 1
        activity = activity_record(
            lead=lead,
            type=ActivityType.EMAIL_SENT,
            actor=actor,
            source=Channel.MANUAL,
            subject=rendered.subject,
            body=rendered.body,
            data={
                "sequence": current.sequence_id,
                "step": number,
                "message_id": message.extra_headers["Message-ID"],
            },
        )
        send = SequenceSend.objects.create(
            enrollment=current,
            step=step,
            step_number=number,
            subject=rendered.subject,
            sent_at=activity.occurred_at,
            sent_by=actor,
            message_id=message.extra_headers["Message-ID"],
        )
        current.steps_sent = number
        current.last_sent_at = activity.occurred_at
        fields = ["steps_sent", "last_sent_at"]
        if number == len(steps):
            current.status = EnrollmentStatus.COMPLETED
            current.ended_at = activity.occurred_at
            current.end_reason = "Every step sent"
            fields += ["status", "ended_at", "end_reason"]
        current.save(update_fields=fields)
        # Last, inside the transaction: a backend that fails leaves no trace of the send.
        message.send(fail_silently=False)
    return send


# GDPR access (PRODUCT C5) -------------------------------------------------------------------


def lead_access_sequences(lead: Lead) -> tuple[str, list[dict]]:
    """compliance's access-export section: the lead's sequence enrolments and what was sent."""
    from compliance.access import person

    enrollments = (
        SequenceEnrollment.objects.filter(lead=lead)
        .select_related("sequence", "enrolled_by", "ended_by")
        .prefetch_related("sends__sent_by")
        .order_by("enrolled_at", "id")
    )
    return "sequence_enrolments", [
        {
            "sequence": e.sequence.name,
            "status": e.status,
            "enrolled_at": e.enrolled_at,
            "enrolled_by": person(e.enrolled_by),
            "steps_sent": e.steps_sent,
            "ended_at": e.ended_at,
            "ended_by": person(e.ended_by),
            "end_reason": e.end_reason,
            "sends": [
                {
                    "step": send.step_number,
                    "subject": send.subject,
                    "sent_at": send.sent_at,
                    "sent_by": person(send.sent_by),
                    "message_id": send.message_id,
                }
                for send in e.sends.all()
            ],
        }
        for e in enrollments
    ]
