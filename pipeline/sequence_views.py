"""Pipeline → Sequences (PRODUCT A5, seed 001): the sequences list, a sequence's page (steps,
enrolled leads, Enrol an audience), the lead view's Sequence Execution panel with its actions
(enrol, Send next step, Stop sequence) and the leads list's bulk "Enrol in sequence".

Every write goes through pipeline/sequences.py; the views check scope and permission,
validate the input and render.
"""

import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget

from contacts.consent import (
    REFUSAL_BOUNCED,
    REFUSAL_DO_NOT_CONTACT,
    REFUSAL_OPTED_OUT,
    REFUSAL_SUPPRESSED,
    REFUSAL_TRASHED,
    REFUSAL_UNSUBSCRIBED,
)
from contacts.models import CustomField, Lead
from contacts.queries import leads_for
from leadcrm.pagination import BoundedPaginator
from leadcrm.permissions import member_can, require_perm
from leadcrm.views import get_scoped_or_404
from pipeline.forms import errors_add
from pipeline.models import (
    EnrollmentStatus,
    Sequence,
    SequenceEnrollment,
    SequenceSend,
    SequenceStep,
)
from pipeline.sequence_forms import (
    AudienceForm,
    BulkEnrolForm,
    EnrolForm,
    SendForm,
    SequenceForm,
    StepForm,
    StepMoveForm,
    enrollable_sequences,
)
from pipeline.sequences import (
    ALREADY_ENROLLED,
    NO_SENDER,
    TEMPLATE_FIELDS,
    EnrolResult,
    enrollment_stop,
    lead_enrol,
    leads_enrol,
    send_refusal,
    sending_settings_for,
    sequence_archive,
    sequence_save,
    sequence_send_next,
    step_delete,
    step_move,
    step_render,
    step_save,
)
from pipeline.views import _back_to_list, _scoped_for_bulk, bulk_selection
from segments.rules import segment_leads

VIEW = "leadcrm.view_leads"
DEFINE = "leadcrm.define_sequences"
RUN = "leadcrm.run_sequences"
LIST = "pipeline/sequences/sequence_list.html"
DETAIL = "pipeline/sequences/sequence_detail.html"
STEP_FORM = "pipeline/sequences/step_form.html"
STEP_PREVIEW = "pipeline/sequences/step_preview.html"
ENROLMENTS_PAGE_SIZE = 50
HISTORY_LIMIT = 20  # sends shown on the lead view, newest first
ENDED_LIMIT = 5  # ended enrolments shown under them

# How a skipped lead is counted in "N leads enrolled; M skipped: …" (the services' reasons
# speak of one lead).
SKIP_LABELS = {
    ALREADY_ENROLLED: "already in a sequence",
    REFUSAL_TRASHED: "in the trash",
    REFUSAL_UNSUBSCRIBED: "unsubscribed",
    REFUSAL_BOUNCED: "bounced",
    REFUSAL_DO_NOT_CONTACT: "marked Do Not Contact",
    REFUSAL_OPTED_OUT: "opted out",
    REFUSAL_SUPPRESSED: "on the suppression list",
}
NOT_YOURS = "not your leads"
ACTIVE_FIRST = Case(When(status=EnrollmentStatus.ACTIVE, then=Value(0)), default=Value(1))


# Reads ---------------------------------------------------------------------------------------


def _sequence(request: HttpRequest, pk: int) -> Sequence:
    """A sequence of the current workspace; another workspace's is a 404."""
    return get_scoped_or_404(request, Sequence.objects.select_related("created_by"), pk=pk)


def _step(request: HttpRequest, pk: int, step_pk: int) -> tuple[Sequence, SequenceStep]:
    sequence = _sequence(request, pk)
    return sequence, get_object_or_404(sequence.steps.all(), pk=step_pk)


def sequence_url(sequence: Sequence) -> str:
    return reverse("pipeline:sequence-detail", args=[sequence.pk])


def _lead_url(lead_id: int) -> str:
    return reverse("pipeline:lead-detail", args=[lead_id])


def _with_counts(sequences):
    """Steps and active / completed / stopped enrolments per sequence, in the same query."""
    steps = (
        SequenceStep.objects.filter(sequence=OuterRef("pk"))
        .order_by()
        .values("sequence")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return sequences.annotate(
        step_count=Coalesce(Subquery(steps, output_field=IntegerField()), 0),
        **{
            f"{status}_count": Count("enrollments", filter=Q(enrollments__status=status))
            for status in EnrollmentStatus.values
        },
    )


def _allowed(request: HttpRequest) -> dict[str, bool]:
    return {
        "define": member_can(request.membership, DEFINE),
        "run": member_can(request.membership, RUN),
    }


def _steps_context(
    request: HttpRequest, sequence: Sequence, step_form: StepForm | None = None
) -> dict:
    steps = list(sequence.steps.all())
    day = 0
    for step in steps:  # the day each step is due, counted from enrolment
        day += step.wait_days
        step.day = day
    allowed = _allowed(request)
    context = {"sequence": sequence, "steps": steps, "allowed": allowed}
    if allowed["define"]:
        keys = CustomField.objects.for_workspace(request.workspace).active()
        context |= {
            "step_form": step_form or StepForm(),
            "template_fields": TEMPLATE_FIELDS,
            "custom_keys": list(keys.values_list("key", flat=True)),
        }
    return context


def _enrolments_context(request: HttpRequest, sequence: Sequence) -> dict:
    enrolments = sequence.enrollments.select_related("lead", "enrolled_by").order_by(
        ACTIVE_FIRST, "-enrolled_at", "-pk"
    )
    page = BoundedPaginator(enrolments, ENROLMENTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return {"sequence": sequence, "enrolments": page, "steps_total": sequence.steps.count()}


def _detail_page(
    request: HttpRequest, sequence: Sequence, status: int = 200, **forms
) -> HttpResponse:
    counted = _with_counts(Sequence.objects.filter(pk=sequence.pk)).get()
    allowed = _allowed(request)
    context = {
        **_steps_context(request, sequence, forms.get("step_form")),
        **_enrolments_context(request, sequence),
        "counts": counted,
        "sequence_form": forms.get("sequence_form")
        or SequenceForm(initial={"name": sequence.name, "description": sequence.description}),
    }
    if allowed["run"] and not sequence.is_archived:
        context["audience_form"] = forms.get("audience_form") or AudienceForm(
            workspace=request.workspace
        )
    return render(request, DETAIL, context, status=status)


def _steps_changed(request: HttpRequest, sequence: Sequence) -> HttpResponse:
    """htmx gets the refreshed steps (messages come as toasts); a plain post, the page."""
    if request.htmx:
        response = render(request, f"{DETAIL}#steps", _steps_context(request, sequence))
        return reswap(retarget(response, "#steps"), "outerHTML")
    return redirect(sequence_url(sequence) + "#steps")


def _skipped_text(skipped: dict[str, int]) -> str:
    return ", ".join(
        f"{count} {SKIP_LABELS.get(reason, reason.rstrip('.'))}"
        for reason, count in skipped.items()
    )


def enrol_message(result: EnrolResult, sequence: Sequence) -> str:
    """ "12 leads enrolled in “Welcome”; 3 skipped: 2 already in a sequence, 1 unsubscribed." """
    text = (
        f"{result.enrolled} lead{'s' if result.enrolled != 1 else ''} enrolled in “{sequence.name}”"
    )
    if result.skipped_total:
        text += f"; {result.skipped_total} skipped: {_skipped_text(result.skipped)}"
    return text + "."


# The sequences list and a sequence's page ------------------------------------------------------


@require_GET
@require_perm(VIEW)
def sequence_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


def _list_page(request: HttpRequest, form: SequenceForm | None = None) -> HttpResponse:
    sequences = list(
        _with_counts(Sequence.objects.filter(workspace=request.workspace)).order_by(
            Lower("name"), "pk"
        )
    )
    context = {
        "sequences": [s for s in sequences if not s.is_archived],
        "archived": [s for s in sequences if s.is_archived],
        "form": form or SequenceForm(),
    }
    return render(request, LIST, context, status=400 if form else 200)


@require_POST
@require_perm(DEFINE)
def sequence_create(request: HttpRequest) -> HttpResponse:
    form = SequenceForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form)
    try:
        sequence = sequence_save(
            workspace=request.workspace, actor=request.user, **form.cleaned_data
        )
    except ValidationError as error:
        errors_add(form, error)
        return _list_page(request, form)
    messages.success(request, f"Sequence “{sequence.name}” created. Add its first step.")
    return redirect(sequence_url(sequence))


@require_GET
@vary_on_headers("HX-Request")
@require_perm(VIEW)
def sequence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _sequence(request, pk)
    target = request.htmx.target if request.htmx else None
    if target == "enrolments":  # its pages
        return render(request, f"{DETAIL}#enrolments", _enrolments_context(request, sequence))
    if target == "steps":  # "Cancel" of a step's inline edit
        return render(request, f"{DETAIL}#steps", _steps_context(request, sequence))
    return _detail_page(request, sequence)


@require_POST
@require_perm(DEFINE)
def sequence_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _sequence(request, pk)
    form = SequenceForm(request.POST)
    if form.is_valid():
        try:
            sequence_save(
                workspace=request.workspace,
                actor=request.user,
                sequence=sequence,
                **form.cleaned_data,
            )
        except ValidationError as error:
            errors_add(form, error)
        else:
            messages.success(request, f"Sequence “{sequence.name}” saved.")
            return redirect(sequence_url(sequence))
    sequence.refresh_from_db()  # the page shows what is stored
    return _detail_page(request, sequence, status=400, sequence_form=form)


@require_POST
@require_perm(DEFINE)
def sequence_archive_view(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = sequence_archive(sequence=_sequence(request, pk), actor=request.user, archived=True)
    messages.success(
        request, f"“{sequence.name}” archived: it takes no new leads; enrolled leads go on."
    )
    return redirect(sequence_url(sequence))


@require_POST
@require_perm(DEFINE)
def sequence_restore_view(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = sequence_archive(sequence=_sequence(request, pk), actor=request.user, archived=False)
    messages.success(request, f"“{sequence.name}” restored: it takes new leads again.")
    return redirect(sequence_url(sequence))


@require_POST
@require_perm(RUN)
def sequence_enrol_audience(request: HttpRequest, pk: int) -> HttpResponse:
    """Enrol an audience: every lead of an Active segment, evaluated now."""
    sequence = _sequence(request, pk)
    form = AudienceForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return _detail_page(request, sequence, status=400, audience_form=form)
    try:
        result = leads_enrol(
            workspace=request.workspace,
            sequence=sequence,
            leads=segment_leads(form.cleaned_data["segment"]),
            actor=request.user,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, enrol_message(result, sequence))
    return redirect(sequence_url(sequence) + "#enrolments")


# Steps ---------------------------------------------------------------------------------------


def _step_save(request: HttpRequest, sequence: Sequence, form: StepForm, step=None):
    """The saved step, or None with the service's errors put under the form's fields."""
    if not form.is_valid():
        return None
    try:
        return step_save(sequence=sequence, actor=request.user, step=step, **form.cleaned_data)
    except ValidationError as error:
        errors_add(form, error)
        return None


@require_POST
@require_perm(DEFINE)
def step_create(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _sequence(request, pk)
    form = StepForm(request.POST)
    step = _step_save(request, sequence, form)
    if step is None:
        if request.htmx:
            context = _steps_context(request, sequence, step_form=form)
            return render(request, f"{DETAIL}#steps", context, status=400)
        return _detail_page(request, sequence, status=400, step_form=form)
    messages.success(request, f"Step {step.position} added: “{step.subject}”.")
    return _steps_changed(request, sequence)


@require_http_methods(["GET", "POST"])
@require_perm(DEFINE)
def step_edit(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    sequence, step = _step(request, pk, step_pk)
    initial = {"subject": step.subject, "body": step.body, "wait_days": step.wait_days}
    form = StepForm(request.POST or None, initial=initial)
    if request.method == "POST" and _step_save(request, sequence, form, step=step):
        messages.success(request, f"Step {step.position} saved.")
        return _steps_changed(request, sequence)
    context = {**_steps_context(request, sequence, step_form=form), "step": step}
    status = 400 if form.errors else 200
    if not request.htmx:
        return render(request, STEP_FORM, context, status=status)
    response = render(request, f"{STEP_FORM}#step-form", context, status=status)
    return reswap(retarget(response, f"#step-{step.pk}"), "innerHTML")


@require_POST
@require_perm(DEFINE)
def step_move_view(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    sequence, step = _step(request, pk, step_pk)
    form = StepMoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Move the step up or down.", status=400, content_type="text/plain")
    try:
        step_move(step=step, actor=request.user, offset=form.offset)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _steps_changed(request, sequence)


@require_POST
@require_perm(DEFINE)
def step_delete_view(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    sequence, step = _step(request, pk, step_pk)
    try:
        step_delete(step=step, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Step “{step.subject}” deleted.")
    return _steps_changed(request, sequence)


@require_GET
@vary_on_headers("HX-Request")
@require_perm(VIEW)
def step_preview(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    """The step as a sample lead would get it: the first enrolled live lead, else the newest."""
    sequence, step = _step(request, pk, step_pk)
    leads = leads_for(request.workspace).select_related("company", "owner")
    lead = (
        leads.filter(sequence_enrollments__sequence=sequence).order_by("pk").first()
        or leads.order_by("-created_at", "-pk").first()
    )
    sending = sending_settings_for(request.workspace)
    rendered, render_error = None, ""
    if lead is not None:
        try:
            rendered = step_render(step, lead, sender_name=sending.from_name if sending else "")
        except ValidationError as error:
            render_error = " ".join(error.messages)
    context = {
        "sequence": sequence,
        "step": step,
        "lead": lead,
        "rendered": rendered,
        "render_error": render_error,
        "sending": sending,
    }
    template = f"{STEP_PREVIEW}#step-preview" if request.htmx else STEP_PREVIEW
    return render(request, template, context)


# The lead view's Sequence Execution panel ------------------------------------------------------


@dataclass
class SequencePanel:
    """What the lead view's Sequence Execution panel shows (a constant number of queries)."""

    may_run: bool = False
    active: SequenceEnrollment | None = None
    steps_total: int = 0
    next_step: SequenceStep | None = None
    next_subject: str = ""  # as this lead will get it
    render_error: str = ""  # why the next step cannot be written for this lead
    due_at: datetime | None = None
    refusal: str = ""
    refusal_is_no_sender: bool = False
    sends: list[SequenceSend] = field(default_factory=list)
    sends_cut: bool = False
    ended: list[SequenceEnrollment] = field(default_factory=list)
    enrol_choices: list[Sequence] = field(default_factory=list)

    @property
    def step_number(self) -> int:
        return self.active.steps_sent + 1 if self.active else 0

    @property
    def is_overdue(self) -> bool:
        return self.due_at is not None and self.due_at <= timezone.now()


def sequence_context(request: HttpRequest, lead: Lead) -> dict:
    """The panel's context for _lead_page: {"sequence_panel": SequencePanel}."""
    panel = SequencePanel(may_run=member_can(request.membership, RUN, lead))
    enrolments = list(
        SequenceEnrollment.objects.filter(lead=lead)
        .select_related("sequence", "enrolled_by", "ended_by")
        .order_by(ACTIVE_FIRST, "-enrolled_at", "-pk")[: ENDED_LIMIT + 1]
    )
    if enrolments and enrolments[0].is_active:
        panel.active = enrolments.pop(0)
        _next_step(panel, lead)
    panel.ended = enrolments[:ENDED_LIMIT]
    if panel.active or panel.ended:
        sends = SequenceSend.objects.filter(enrollment__lead=lead).select_related(
            "enrollment__sequence", "sent_by"
        )
        sends = list(sends.order_by("-sent_at", "-pk")[: HISTORY_LIMIT + 1])
        panel.sends, panel.sends_cut = sends[:HISTORY_LIMIT], len(sends) > HISTORY_LIMIT
    if panel.may_run and panel.active is None:
        panel.enrol_choices = list(enrollable_sequences(lead.workspace_id))
    return {"sequence_panel": panel}


def _next_step(panel: SequencePanel, lead: Lead) -> None:
    enrolment = panel.active
    steps = list(enrolment.sequence.steps.all())
    panel.steps_total = len(steps)
    if enrolment.steps_sent < len(steps):
        panel.next_step = steps[enrolment.steps_sent]
        since = enrolment.last_sent_at or enrolment.enrolled_at
        panel.due_at = since + timedelta(days=panel.next_step.wait_days)
        sending = sending_settings_for(lead.workspace_id)
        sender = sending.from_name if sending else ""
        try:
            panel.next_subject = step_render(panel.next_step, lead, sender_name=sender).subject
        except ValidationError as error:  # shown as the refusal below; the page still works
            panel.render_error = " ".join(error.messages)
    if panel.may_run:  # the reason shown beside a disabled Send next step
        panel.refusal = send_refusal(enrolment, lead) or panel.render_error
        if not panel.refusal and panel.next_step is None:
            panel.refusal = "Every step of this sequence has been sent."
        panel.refusal_is_no_sender = panel.refusal == NO_SENDER


def _back_to_lead(request: HttpRequest, lead_id: int) -> HttpResponse:
    """htmx reloads the page (panel, timeline, score and dates all change; the message comes
    with it); a plain post goes back to the panel."""
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect(_lead_url(lead_id) + "#sequence-execution")


def _enrolment(request: HttpRequest, pk: int) -> SequenceEnrollment:
    """An enrolment of the current workspace whose lead is live; anything else is a 404."""
    enrolments = SequenceEnrollment.objects.select_related("sequence", "lead").filter(
        lead__deleted_at__isnull=True
    )
    return get_scoped_or_404(request, enrolments, pk=pk)


@require_POST
@require_perm(RUN)
def lead_sequence_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_scoped_or_404(request, leads_for(request.workspace), pk=pk)
    form = EnrolForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["sequence"]))
        return _back_to_lead(request, lead.pk)
    sequence = form.cleaned_data["sequence"]
    try:
        lead_enrol(lead=lead, sequence=sequence, actor=request.user)
    except ValidationError as error:
        messages.error(request, f"Not enrolled: {' '.join(error.messages)}")
    else:
        messages.success(request, f"{lead} enrolled in “{sequence.name}”.")
    return _back_to_lead(request, lead.pk)


@require_POST
@require_perm(RUN)
def enrollment_send(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _enrolment(request, pk)
    form = SendForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Reload the page and try again.", status=400, content_type="text/plain")
    try:
        send = sequence_send_next(
            enrollment=enrolment,
            actor=request.user,
            site_url=settings.SITE_URL or request.build_absolute_uri("/"),
            expected_steps_sent=form.cleaned_data["expected_steps_sent"],
        )
    except ValidationError as error:
        messages.error(request, f"Nothing was sent. {' '.join(error.messages)}")
    except (smtplib.SMTPException, OSError):
        messages.error(request, "The mail server did not take the message; nothing was sent.")
    else:
        messages.success(
            request, f"Step {send.step_number} “{send.subject}” sent to {enrolment.lead.email}."
        )
    return _back_to_lead(request, enrolment.lead_id)


@require_POST
@require_perm(RUN)
def enrollment_stop_view(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _enrolment(request, pk)
    try:
        enrollment_stop(enrollment=enrolment, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"“{enrolment.sequence.name}” stopped for {enrolment.lead}.")
    return _back_to_lead(request, enrolment.lead_id)


# The leads list's bulk "Enrol in sequence" ------------------------------------------------------


def lead_bulk_enrol(request: HttpRequest) -> HttpResponse:
    """Called by pipeline.views.lead_bulk for action=enrol (the bulk bar posts there)."""
    if not member_can(request.membership, RUN):
        raise PermissionDenied("Your role cannot enrol leads in sequences.")
    form = BulkEnrolForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return _back_to_list(request)
    leads = bulk_selection(request, form.cleaned_data)
    scoped = _scoped_for_bulk(request, leads)
    sequence = form.cleaned_data["sequence"]
    try:
        result = leads_enrol(
            workspace=request.workspace, sequence=sequence, leads=scoped, actor=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _back_to_list(request)
    if scoped is not leads:  # a sales rep's bulk work covers their own leads only (W2)
        others = leads.exclude(pk__in=scoped.values("pk")).count()
        if others:
            result.skipped[NOT_YOURS] = others
    messages.success(request, enrol_message(result, sequence))
    return _back_to_list(request)
