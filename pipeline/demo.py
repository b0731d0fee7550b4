"""The Demo workspace's sending settings and sequences (PRODUCT 13: "a sequence with enrolled
leads"), a seed_demo step registered in pipeline/apps.py.

Created once and found again by name on later runs. Enrolments go through leads_enrol, so
leads that may not be mailed are left out as they would be in the app; the history of the
first steps is written as records (Email Sent activities through activity_record, send
rows), not by sending mail, so seeding never fills a console or an inbox.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from contacts.activities import activity_record
from contacts.models import ActivityType, Channel, Lead
from contacts.queries import leads_for
from leadcrm.models import Membership, Workspace
from leadcrm.roles import MARKETER, SALES_REP
from pipeline.models import (
    EnrollmentStatus,
    SendingSettings,
    Sequence,
    SequenceEnrollment,
    SequenceSend,
)
from pipeline.sequences import leads_enrol, sequence_save, step_render, step_save

SEQUENCES = [
    (
        "Welcome series",
        "Three emails for new leads from the website: hello, a case study, a call.",
        [
            (
                0,
                "Welcome to Demo, {{ first_name|default:'there' }}",
                "Hi {{ first_name|default:'there' }},\n\nThanks for your interest in Demo. "
                "{% if company %}I'd love to hear what {{ company }} is working on. {% endif %}"
                "Reply to this email with any question.\n\n{{ sender_name }}",
            ),
            (
                3,
                "How teams like {{ company|default:'yours' }} save a day a week",
                "Hi {{ first_name|default:'there' }},\n\nHere is how a team like yours cut their "
                "weekly reporting from a day to an hour.\n\n{{ owner_name|default:sender_name }}",
            ),
            (
                5,
                "15 minutes this week?",
                "Hi {{ first_name|default:'there' }},\n\nWould a short call help? Pick any "
                "time that suits you.\n\n{{ owner_name|default:sender_name }}",
            ),
        ],
    ),
    (
        "Pricing follow-up",
        "For leads who looked at the pricing page.",
        [
            (
                0,
                "Questions about pricing?",
                "Hi {{ first_name|default:'there' }},\n\nI saw you were looking at our plans. "
                "Happy to walk you through them.\n\n{{ owner_name|default:sender_name }}",
            ),
            (
                4,
                "A plan for {{ company|default:'your team' }}",
                "Hi {{ first_name|default:'there' }},\n\nHere is the plan I would suggest for "
                "a team your size.\n\n{{ owner_name|default:sender_name }}",
            ),
        ],
    ),
]
ENROLLED = 40  # leads of the demo rep in the welcome series
HISTORY = 12  # of them, those whose first step was already sent


def _member(workspace: Workspace, role: str):
    membership = (
        Membership.objects.filter(workspace=workspace, role__name=role)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return membership.user if membership else None


@transaction.atomic
def demo_sequences_step(workspace: Workspace) -> str:
    """seed_demo's step (contacts.demo.DEMO_SEED_STEPS)."""
    marketer = _member(workspace, MARKETER)
    rep = _member(workspace, SALES_REP)
    SendingSettings.objects.get_or_create(
        workspace=workspace,
        defaults={
            "from_name": f"{workspace.name} Sales",
            "from_email": "sales@demo.test",
            "postal_address": "Demo Inc.\n1 Market Street\nSpringfield, 12345",
            "updated_by": marketer,
        },
    )
    sequences = []
    for name, description, steps in SEQUENCES:
        sequence = Sequence.objects.filter(workspace=workspace, name=name).first()
        if sequence is None:
            sequence = sequence_save(
                workspace=workspace, actor=marketer, name=name, description=description
            )
            for wait_days, subject, body in steps:
                step_save(
                    sequence=sequence,
                    actor=marketer,
                    subject=subject,
                    body=body,
                    wait_days=wait_days,
                )
        sequences.append(sequence)
    welcome = sequences[0]
    if not welcome.enrollments.exists() and rep is not None:
        candidates = leads_for(workspace).filter(owner=rep).order_by("pk")
        ids = list(candidates.values_list("pk", flat=True)[: ENROLLED * 2])
        leads_enrol(
            workspace=workspace,
            sequence=welcome,
            leads=Lead.objects.filter(pk__in=ids[:ENROLLED]),
            actor=rep,
        )
        _history(welcome, rep)
    enrolled = SequenceEnrollment.objects.filter(
        sequence__workspace=workspace, status=EnrollmentStatus.ACTIVE
    ).count()
    return f"{len(sequences)} sequences, {enrolled} leads enrolled."


def _history(sequence: Sequence, rep) -> None:
    """The first step as already sent a few days ago to some of the enrolled leads."""
    step = sequence.steps.order_by("position").first()
    sent_at = timezone.now() - timedelta(days=2)
    enrollments = sequence.enrollments.select_related("lead", "lead__company", "lead__owner")
    for enrollment in enrollments.order_by("pk")[:HISTORY]:
        lead = enrollment.lead
        rendered = step_render(step, lead, sender_name=f"{lead.workspace.name} Sales")
        activity_record(
            lead=lead,
            type=ActivityType.EMAIL_SENT,
            actor=rep,
            occurred_at=sent_at,
            source=Channel.MANUAL,
            subject=rendered.subject,
            body=rendered.body,
            data={"sequence": sequence.pk, "step": 1},
        )
        SequenceSend.objects.create(
            enrollment=enrollment,
            step=step,
            step_number=1,
            subject=rendered.subject,
            sent_at=sent_at,
            sent_by=rep,
        )
        enrollment.steps_sent, enrollment.last_sent_at = 1, sent_at
        enrollment.save(update_fields=["steps_sent", "last_sent_at"])
