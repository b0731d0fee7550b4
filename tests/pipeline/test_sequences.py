"""Pipeline → Sequences (PRODUCT A5, seed 001): the sequence pages, the lead view's Sequence
Execution panel (enrol, Send next step, Stop sequence), bulk enrolment and the services."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.consent import lead_unsubscribe, leads_unsubscribe, suppression_add
from contacts.models import (
    Activity,
    ActivityType,
    ConsentStatus,
    CustomField,
    EmailStatus,
    Lead,
    LeadStatus,
    SuppressionReason,
)
from contacts.queries import leads_for
from leadcrm.models import AuditLog
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP, VIEWER
from pipeline.models import (
    EnrollmentStatus,
    SendingSettings,
    Sequence,
    SequenceEnrollment,
    SequenceSend,
    SequenceStep,
)
from pipeline.sequences import (
    NO_SENDER,
    lead_enrol,
    leads_enrol,
    sequence_save,
    sequence_send_next,
    step_delete,
    step_move,
    step_render,
    step_save,
)
from segments.models import SegmentState
from tests.contacts.factories import (
    CompanyFactory,
    CustomFieldFactory,
    LeadFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true"}
ROLES = [OWNER, ADMIN, MARKETER, SALES_REP, VIEWER]
DEFINERS = {OWNER, ADMIN, MARKETER}
RUNNERS = {OWNER, ADMIN, MARKETER, SALES_REP}


# Fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def sending(ws):
    return SendingSettings.objects.create(
        workspace=ws,
        from_name="Acme Sales",
        from_email="sales@acme.test",
        reply_to="replies@acme.test",
        postal_address="1 Main Street\nSpringfield 12345",
    )


@pytest.fixture
def sequence(ws, marketer):
    sequence = sequence_save(workspace=ws, actor=marketer.user, name="Welcome series")
    step_save(
        sequence=sequence,
        actor=marketer.user,
        subject="Hello {{ first_name }}",
        body="Hi {{ first_name }},\n\nWelcome to Acme."
        "{% if company %} Greetings to {{ company }}.{% endif %}",
    )
    step_save(
        sequence=sequence,
        actor=marketer.user,
        subject="A case study for {{ company|default:'you' }}",
        body="Hi {{ first_name }}, here is how others did it.",
        wait_days=3,
    )
    return sequence


@pytest.fixture
def lead(ws, rep):
    return LeadFactory(
        workspace=ws,
        owner=rep.user,
        first_name="Jane",
        last_name="Doe",
        email="jane@initech.test",
        company=CompanyFactory(workspace=ws, name="Initech"),
    )


@pytest.fixture
def enrolled(lead, sequence, rep):
    return lead_enrol(lead=lead, sequence=sequence, actor=rep.user)


@pytest.fixture
def foreign(other_ws, outsider):
    """Globex's sequence, lead and enrolment."""
    sequence = sequence_save(workspace=other_ws, actor=outsider.user, name="Globex hello")
    step_save(sequence=sequence, actor=outsider.user, subject="Hi", body="Hello.")
    lead = LeadFactory(workspace=other_ws, email="someone@globex.test")
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=outsider.user)
    return {"sequence": sequence, "lead": lead, "enrollment": enrollment}


def lead_url(lead) -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk])


def seq_url(sequence) -> str:
    return reverse("pipeline:sequence-detail", args=[sequence.pk])


def send_url(enrollment) -> str:
    return reverse("pipeline:enrollment-send", args=[enrollment.pk])


def stop_url(enrollment) -> str:
    return reverse("pipeline:enrollment-stop", args=[enrollment.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def send(client, enrollment, expected=None):
    if expected is None:
        expected = SequenceEnrollment.objects.get(pk=enrollment.pk).steps_sent
    return client.post(send_url(enrollment), {"expected_steps_sent": expected})


def panel(content: str) -> str:
    """The Sequence Execution section of a lead page."""
    match = re.search(r'<section[^>]*id="sequence-execution".*?</section>', content, re.S)
    assert match, "no Sequence Execution panel"
    return match.group(0)


# The sequences list --------------------------------------------------------------------------


def test_the_list_shows_each_sequence_with_its_steps_and_enrolment_counts(
    ws, sequence, rep, as_member, django_assert_max_num_queries
):
    leads = [LeadFactory(workspace=ws) for _ in range(4)]
    for lead in leads:
        lead_enrol(lead=lead, sequence=sequence, actor=rep.user)
    SequenceEnrollment.objects.filter(lead=leads[0]).update(status=EnrollmentStatus.COMPLETED)
    SequenceEnrollment.objects.filter(lead=leads[1]).update(status=EnrollmentStatus.STOPPED)
    for n in range(5):  # more sequences do not mean more queries
        sequence_save(workspace=ws, actor=rep.user, name=f"Other {n}")
    client = as_member(rep)

    with django_assert_max_num_queries(7):
        response = client.get(reverse("pipeline:sequence-list"))

    row = re.search(rf'<tr data-sequence="{sequence.pk}">.*?</tr>', response.content.decode(), re.S)
    cells = dict(re.findall(r'data-count="(\w+)">([^<]*)<', row.group(0)))
    assert cells == {"steps": "2", "active": "2", "completed": "1", "stopped": "1"}


def test_archived_sequences_are_listed_apart(ws, sequence, rep, as_member):
    old = sequence_save(workspace=ws, actor=rep.user, name="Old campaign")
    Sequence.objects.filter(pk=old.pk).update(is_archived=True)

    content = as_member(rep).get(reverse("pipeline:sequence-list")).content.decode()

    archived = content[content.index('aria-label="Archived sequences"') :]
    assert "Old campaign" in archived
    assert "Welcome series" not in archived


def test_the_sequences_page_is_in_the_pipeline_menu(viewer, as_member):
    content = as_member(viewer).get(reverse("pipeline:lead-list")).content.decode()

    assert f'href="{reverse("pipeline:sequence-list")}"' in content


def test_marketer_creates_a_sequence(ws, marketer, as_member):
    response = as_member(marketer).post(
        reverse("pipeline:sequence-create"),
        {"name": "Pricing follow-up", "description": "After /pricing"},
    )

    sequence = Sequence.objects.get(workspace=ws, name="Pricing follow-up")
    assert response.status_code == 302
    assert response["Location"] == seq_url(sequence)
    assert sequence.description == "After /pricing"
    assert AuditLog.objects.filter(action="sequence.create", object_id=str(sequence.pk)).exists()


def test_a_sequence_name_already_taken_is_refused_under_the_field(sequence, marketer, as_member):
    response = as_member(marketer).post(
        reverse("pipeline:sequence-create"), {"name": "welcome SERIES"}
    )

    assert response.status_code == 400
    assert "There is already a sequence called" in response.content.decode()
    assert Sequence.objects.count() == 1


def test_viewer_sees_sequences_but_not_the_create_form(sequence, viewer, as_member):
    content = as_member(viewer).get(reverse("pipeline:sequence-list")).content.decode()

    assert "Welcome series" in content
    assert "Create sequence" not in content


def test_the_list_rejects_a_post(marketer, as_member):
    assert as_member(marketer).post(reverse("pipeline:sequence-list")).status_code == 405


# A sequence's page ---------------------------------------------------------------------------


def test_the_sequence_page_shows_the_steps_in_order(sequence, rep, as_member):
    content = as_member(rep).get(seq_url(sequence)).content.decode()

    assert content.index("Hello {{ first_name }}") < content.index("A case study for")
    assert "3 days after the previous step" in content
    assert "Add a step" not in content  # a sales rep does not define sequences


def test_the_step_form_lists_the_template_fields(ws, sequence, marketer, as_member):
    CustomFieldFactory(workspace=ws, key="industry")

    content = as_member(marketer).get(seq_url(sequence)).content.decode()

    assert "Add a step" in content
    assert "{{ first_name }}" in content
    assert "{{ custom.industry }}" in content


def test_another_workspaces_sequence_is_a_404(foreign, rep, as_member):
    assert as_member(rep).get(seq_url(foreign["sequence"])).status_code == 404


def test_marketer_renames_and_describes_a_sequence(sequence, marketer, as_member):
    url = reverse("pipeline:sequence-edit", args=[sequence.pk])
    response = as_member(marketer).post(url, {"name": "Welcome 2", "description": "New leads"})

    sequence.refresh_from_db()
    assert response.status_code == 302
    assert (sequence.name, sequence.description) == ("Welcome 2", "New leads")


def test_a_blank_name_is_refused(sequence, marketer, as_member):
    url = reverse("pipeline:sequence-edit", args=[sequence.pk])
    response = as_member(marketer).post(url, {"name": "  "})

    assert response.status_code == 400
    assert Sequence.objects.get(pk=sequence.pk).name == "Welcome series"


def test_marketer_archives_and_restores_a_sequence(sequence, marketer, as_member):
    client = as_member(marketer)

    client.post(reverse("pipeline:sequence-archive", args=[sequence.pk]))
    assert Sequence.objects.get(pk=sequence.pk).is_archived
    client.post(reverse("pipeline:sequence-restore", args=[sequence.pk]))
    assert not Sequence.objects.get(pk=sequence.pk).is_archived


def test_the_page_lists_enrolled_leads_with_status_and_current_step(
    sequence, enrolled, lead, rep, as_member
):
    content = as_member(rep).get(seq_url(sequence)).content.decode()

    row = re.search(rf'<tr data-enrollment="{enrolled.pk}".*?</tr>', content, re.S).group(0)
    assert "Jane Doe" in row
    assert "Active" in row
    assert "Step 1 of 2" in row
    assert "not yet" in row


def test_the_enrolled_leads_page_answers_htmx_with_the_fragment(sequence, enrolled, rep, as_member):
    response = as_member(rep).get(seq_url(sequence), HTTP_HX_TARGET="enrolments", **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert content.strip().startswith('<section class="card mb-3" id="enrolments"')


# Steps ---------------------------------------------------------------------------------------


def step_url(name, step) -> str:
    return reverse(f"pipeline:{name}", args=[step.sequence_id, step.pk])


def test_marketer_adds_a_step_with_htmx(sequence, marketer, as_member):
    response = as_member(marketer).post(
        reverse("pipeline:step-create", args=[sequence.pk]),
        {"subject": "Last call, {{ first_name }}", "body": "Still interested?", "wait_days": "5"},
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "Last call, {{ first_name }}" in content
    step = sequence.steps.get(position=3)
    assert (step.subject, step.wait_days) == ("Last call, {{ first_name }}", 5)


def test_adding_a_step_without_htmx_goes_back_to_the_page(sequence, marketer, as_member):
    response = as_member(marketer).post(
        reverse("pipeline:step-create", args=[sequence.pk]),
        {"subject": "Third", "body": "Body", "wait_days": "0"},
    )

    assert response.status_code == 302
    assert response["Location"] == seq_url(sequence) + "#steps"


@pytest.mark.parametrize(
    ("subject", "body", "error"),
    [
        ("Hi {{ nickname }}", "Body", "“{{ nickname }}” is not a field"),
        ("Hi", "{% include 'x.html' %}", "only {{ field }} placeholders and {% if %}"),
        ("{% if first_name %}Hi", "Body", "The template does not parse"),
        ("", "Body", "Write the subject."),
    ],
)
def test_a_template_error_shows_under_its_field(
    sequence, marketer, as_member, subject, body, error
):
    response = as_member(marketer).post(
        reverse("pipeline:step-create", args=[sequence.pk]),
        {"subject": subject, "body": body, "wait_days": "0"},
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 400
    assert "invalid-feedback" in content
    assert error.lower() in content.replace("&#x27;", "'").replace("&quot;", '"').lower()
    assert sequence.steps.count() == 2


def test_a_custom_field_is_a_template_field(ws, sequence, marketer, as_member):
    CustomFieldFactory(workspace=ws, key="industry")

    as_member(marketer).post(
        reverse("pipeline:step-create", args=[sequence.pk]),
        {"subject": "For {{ custom.industry }}", "body": "Body", "wait_days": "0"},
    )

    assert sequence.steps.filter(subject="For {{ custom.industry }}").exists()


def test_marketer_edits_a_step(sequence, marketer, as_member):
    step = sequence.steps.get(position=2)

    response = as_member(marketer).post(
        step_url("step-edit", step),
        {"subject": "New subject", "body": "New body", "wait_days": "7"},
    )

    step.refresh_from_db()
    assert response.status_code == 302
    assert (step.subject, step.body, step.wait_days) == ("New subject", "New body", 7)


def test_the_step_edit_form_comes_inline_with_htmx(sequence, marketer, as_member):
    step = sequence.steps.get(position=1)

    response = as_member(marketer).get(step_url("step-edit", step), **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert f'id="step-form-{step.pk}"' in content
    assert response["HX-Retarget"] == f"#step-{step.pk}"


def test_cancelling_an_inline_edit_gets_the_steps_back(sequence, marketer, as_member):
    response = as_member(marketer).get(seq_url(sequence), HTTP_HX_TARGET="steps", **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert content.strip().startswith('<section class="card mb-3" id="steps"')
    assert response["Vary"].count("HX-Request")


def test_an_invalid_edit_keeps_the_step_and_shows_the_error(sequence, marketer, as_member):
    step = sequence.steps.get(position=1)

    response = as_member(marketer).post(
        step_url("step-edit", step),
        {"subject": "{{ nope }}", "body": "x", "wait_days": "0"},
        **HTMX,
    )

    assert response.status_code == 400
    assert "is not a field" in response.content.decode()
    assert SequenceStep.objects.get(pk=step.pk).subject == "Hello {{ first_name }}"


def test_marketer_moves_a_step_up(sequence, marketer, as_member):
    second = sequence.steps.get(position=2)

    response = as_member(marketer).post(step_url("step-move", second), {"direction": "up"}, **HTMX)

    assert response.status_code == 200
    assert list(sequence.steps.values_list("subject", flat=True)) == [
        "A case study for {{ company|default:'you' }}",
        "Hello {{ first_name }}",
    ]


def test_marketer_deletes_a_step(sequence, marketer, as_member):
    second = sequence.steps.get(position=2)

    as_member(marketer).post(step_url("step-delete", second), **HTMX)

    assert list(sequence.steps.values_list("position", flat=True)) == [1]


def test_a_step_already_sent_to_an_active_lead_cannot_be_deleted(
    sequence, enrolled, sending, rep, marketer, as_member
):
    send(as_member(rep), enrolled)
    first = sequence.steps.get(position=1)

    response = as_member(marketer).post(step_url("step-delete", first))

    assert sequence.steps.count() == 2
    assert any("already received this step" in m for m in messages_of(response))


def test_a_step_preview_renders_it_for_a_sample_lead(sequence, lead, sending, rep, as_member):
    step = sequence.steps.get(position=1)

    response = as_member(rep).get(step_url("step-preview", step), **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert "Hello Jane" in content
    assert "Greetings to Initech." in content
    assert "1 Main Street" in content


def test_another_sequences_step_is_a_404(sequence, foreign, marketer, as_member):
    step = foreign["sequence"].steps.get()
    url = reverse("pipeline:step-edit", args=[sequence.pk, step.pk])

    assert as_member(marketer).get(url).status_code == 404


# Enrol an audience ---------------------------------------------------------------------------


def test_an_active_segment_is_enrolled_and_the_skipped_are_counted_by_reason(
    ws, sequence, rep, as_member
):
    segment = SegmentFactory(workspace=ws, state=SegmentState.ACTIVE, name="Berlin")
    fine = [SegmentMembershipFactory(segment=segment).lead for _ in range(2)]
    gone = SegmentMembershipFactory(segment=segment).lead
    gone.email_status = EmailStatus.UNSUBSCRIBED
    gone.save()

    response = as_member(rep).post(
        reverse("pipeline:sequence-enrol-audience", args=[sequence.pk]), {"segment": segment.pk}
    )

    assert response.status_code == 302
    enrolled = set(SequenceEnrollment.objects.values_list("lead_id", flat=True))
    assert enrolled == {lead.pk for lead in fine}
    assert messages_of(response) == [
        "2 leads enrolled in “Welcome series”; 1 skipped: 1 unsubscribed."
    ]


@pytest.mark.parametrize("state", [SegmentState.DRAFT, SegmentState.RETIRED])
def test_only_an_active_segment_can_be_an_audience(ws, sequence, rep, as_member, state):
    segment = SegmentFactory(workspace=ws, state=state)
    SegmentMembershipFactory(segment=segment)

    response = as_member(rep).post(
        reverse("pipeline:sequence-enrol-audience", args=[sequence.pk]), {"segment": segment.pk}
    )

    assert response.status_code == 400
    assert "Only Active segments can be sequence audiences" in response.content.decode()
    assert not SequenceEnrollment.objects.exists()


def test_the_audience_picker_offers_only_active_segments(ws, sequence, rep, as_member):
    SegmentFactory(workspace=ws, state=SegmentState.ACTIVE, name="Active one")
    SegmentFactory(workspace=ws, state=SegmentState.DRAFT, name="Draft one")
    SegmentFactory(workspace=ws, state=SegmentState.RETIRED, name="Retired one")

    content = as_member(rep).get(seq_url(sequence)).content.decode()

    assert "Active one" in content
    assert "Draft one" not in content
    assert "Retired one" not in content


def test_another_workspaces_segment_is_refused(other_ws, sequence, rep, as_member):
    segment = SegmentFactory(workspace=other_ws, state=SegmentState.ACTIVE)
    SegmentMembershipFactory(segment=segment)

    response = as_member(rep).post(
        reverse("pipeline:sequence-enrol-audience", args=[sequence.pk]), {"segment": segment.pk}
    )

    assert response.status_code == 400
    assert not SequenceEnrollment.objects.exists()


def test_an_archived_sequence_takes_no_audience(ws, sequence, rep, as_member):
    Sequence.objects.filter(pk=sequence.pk).update(is_archived=True)
    segment = SegmentFactory(workspace=ws, state=SegmentState.ACTIVE)
    SegmentMembershipFactory(segment=segment)

    response = as_member(rep).post(
        reverse("pipeline:sequence-enrol-audience", args=[sequence.pk]), {"segment": segment.pk}
    )

    assert not SequenceEnrollment.objects.exists()
    assert messages_of(response) == ["“Welcome series” is archived and takes no new leads."]


# The lead view: Sequence Execution -----------------------------------------------------------


def test_a_lead_in_no_sequence_can_be_enrolled_by_a_rep(lead, sequence, rep, as_member):
    section = panel(as_member(rep).get(lead_url(lead)).content.decode())

    assert "Sequence Execution" in section
    assert "Not enrolled in any sequence." in section
    assert "Enrol in sequence" in section
    assert "Welcome series" in section


def test_a_viewer_sees_the_panel_without_actions(lead, enrolled, viewer, as_member):
    section = panel(as_member(viewer).get(lead_url(lead)).content.decode())

    assert "Welcome series" in section
    assert "Send next step" not in section
    assert "Stop sequence" not in section


def test_sequences_without_steps_or_archived_are_not_offered(ws, lead, rep, as_member):
    sequence_save(workspace=ws, actor=rep.user, name="Empty one")
    archived = sequence_save(workspace=ws, actor=rep.user, name="Archived one")
    step_save(sequence=archived, actor=rep.user, subject="s", body="b")
    Sequence.objects.filter(pk=archived.pk).update(is_archived=True)

    section = panel(as_member(rep).get(lead_url(lead)).content.decode())

    assert "Empty one" not in section
    assert "Archived one" not in section
    assert "No sequence can take leads yet" in section


def test_rep_enrols_a_lead_from_the_lead_view(lead, sequence, rep, as_member):
    url = reverse("pipeline:lead-sequence-enrol", args=[lead.pk])

    response = as_member(rep).post(url, {"sequence": sequence.pk})

    enrollment = SequenceEnrollment.objects.get(lead=lead)
    assert response.status_code == 302
    assert response["Location"] == lead_url(lead) + "#sequence-execution"
    assert (enrollment.sequence, enrollment.enrolled_by, enrollment.status) == (
        sequence,
        rep.user,
        EnrollmentStatus.ACTIVE,
    )
    assert messages_of(response) == ["Jane Doe enrolled in “Welcome series”."]


def test_enrolling_with_htmx_refreshes_the_page(lead, sequence, rep, as_member):
    url = reverse("pipeline:lead-sequence-enrol", args=[lead.pk])

    response = as_member(rep).post(url, {"sequence": sequence.pk}, **HTMX)

    assert response["HX-Refresh"] == "true"
    assert SequenceEnrollment.objects.filter(lead=lead).exists()


def test_an_unsubscribed_lead_is_not_enrolled_and_told_why(lead, sequence, rep, as_member):
    lead.status = LeadStatus.UNSUBSCRIBED
    lead.save()

    response = as_member(rep).post(
        reverse("pipeline:lead-sequence-enrol", args=[lead.pk]), {"sequence": sequence.pk}
    )

    assert not SequenceEnrollment.objects.exists()
    assert messages_of(response) == ["Not enrolled: This lead unsubscribed from email."]


def test_a_lead_already_in_a_sequence_is_not_enrolled_twice(
    ws, lead, sequence, enrolled, rep, as_member
):
    other = sequence_save(workspace=ws, actor=rep.user, name="Other")
    step_save(sequence=other, actor=rep.user, subject="s", body="b")

    response = as_member(rep).post(
        reverse("pipeline:lead-sequence-enrol", args=[lead.pk]), {"sequence": other.pk}
    )

    assert SequenceEnrollment.objects.filter(lead=lead).count() == 1
    assert "already in “Welcome series”" in messages_of(response)[0]


def test_the_panel_shows_the_enrolment_and_the_next_step(lead, enrolled, sending, rep, as_member):
    section = panel(as_member(rep).get(lead_url(lead)).content.decode())

    assert f'href="{seq_url(enrolled.sequence)}"' in section
    assert "Step 1 of 2" in section
    assert "Hello Jane" in section  # the next step's subject as the lead will get it
    assert "by bob@acme.test" in section or rep.user.display_name in section
    assert "Send next step" in section
    assert "Stop sequence" in section
    assert 'name="expected_steps_sent" value="0"' in section
    assert "disabled" not in re.search(r"<button[^>]*>.{0,80}Send next step", section, re.S).group(
        0
    )


def test_send_next_step_mails_the_rendered_step_with_sender_footer_and_unsubscribe_headers(
    lead, enrolled, sending, rep, as_member, mailoutbox
):
    response = send(as_member(rep), enrolled)

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.from_email == "Acme Sales <sales@acme.test>"
    assert message.to == ["jane@initech.test"]
    assert message.reply_to == ["replies@acme.test"]
    assert message.subject == "Hello Jane"
    assert message.body.startswith("Hi Jane,\n\nWelcome to Acme. Greetings to Initech.")
    assert "1 Main Street\nSpringfield 12345" in message.body
    headers = message.extra_headers
    link = re.fullmatch(r"<(http://testserver/unsubscribe/[^/]+/)>", headers["List-Unsubscribe"])
    assert link, headers["List-Unsubscribe"]
    assert f"Unsubscribe: {link.group(1)}" in message.body
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert messages_of(response) == ["Step 1 “Hello Jane” sent to jane@initech.test."]


def test_a_send_is_logged_as_email_sent_in_the_timeline_and_advances_the_step(
    lead, enrolled, sending, rep, as_member
):
    client = as_member(rep)
    send(client, enrolled)

    activity = Activity.objects.get(lead=lead, type=ActivityType.EMAIL_SENT)
    assert (activity.subject, activity.actor) == ("Hello Jane", rep.user)
    enrolled.refresh_from_db()
    assert (enrolled.steps_sent, enrolled.status) == (1, EnrollmentStatus.ACTIVE)
    content = client.get(lead_url(lead)).content.decode()
    timeline = content[content.index('<div id="timeline">') :]
    assert "Email Sent" in timeline
    assert "Hello Jane" in timeline
    section = panel(content)
    assert "Step 2 of 2" in section
    assert "A case study for Initech" in section
    assert re.search(r"Step 1</td>\s*<td[^>]*><bdi>Hello Jane</bdi>", section)


def test_sending_with_htmx_refreshes_the_page(lead, enrolled, sending, rep, as_member, mailoutbox):
    response = as_member(rep).post(send_url(enrolled), {"expected_steps_sent": 0}, **HTMX)

    assert response["HX-Refresh"] == "true"
    assert len(mailoutbox) == 1


def test_the_sequence_completes_after_the_last_step(
    lead, enrolled, sending, rep, as_member, mailoutbox
):
    client = as_member(rep)
    send(client, enrolled)
    send(client, enrolled)

    enrolled.refresh_from_db()
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "A case study for Initech"
    assert (enrolled.steps_sent, enrolled.status) == (2, EnrollmentStatus.COMPLETED)
    section = panel(client.get(lead_url(lead)).content.decode())
    assert "Not enrolled in any sequence." in section
    assert "Completed" in section
    assert "Every step sent" in section


def test_a_second_click_with_the_old_step_sends_nothing(
    lead, enrolled, sending, rep, as_member, mailoutbox
):
    client = as_member(rep)
    send(client, enrolled, expected=0)

    response = send(client, enrolled, expected=0)

    assert len(mailoutbox) == 1
    assert SequenceEnrollment.objects.get(pk=enrolled.pk).steps_sent == 1
    assert SequenceSend.objects.count() == 1
    assert messages_of(response)[-1].startswith("Nothing was sent. Step 1 was already sent")


def _unsubscribed(lead, ws):
    lead.email_status = EmailStatus.UNSUBSCRIBED
    lead.save()


def _bounced(lead, ws):
    lead.email_status = EmailStatus.BOUNCED
    lead.save()


def _do_not_contact(lead, ws):
    lead.do_not_contact = True
    lead.save()


def _opted_out(lead, ws):
    lead.consent_status = ConsentStatus.OPTED_OUT
    lead.save()


def _suppressed(lead, ws):
    suppression_add(workspace=ws, email=lead.email, reason=SuppressionReason.MANUAL, actor=None)


def _no_sending_settings(lead, ws):
    SendingSettings.objects.filter(workspace=ws).delete()


REFUSALS = [
    (_unsubscribed, "This lead unsubscribed from email."),
    (_bounced, "This lead's email address bounced."),
    (_do_not_contact, "This lead is marked Do Not Contact."),
    (_opted_out, "This lead opted out of email."),
    (_suppressed, "This address is on the suppression list."),
    (_no_sending_settings, NO_SENDER),
]


@pytest.mark.parametrize(("make", "reason"), REFUSALS)
def test_a_refused_send_sends_nothing_and_says_why(
    ws, lead, enrolled, sending, rep, as_member, mailoutbox, make, reason
):
    make(lead, ws)

    response = send(as_member(rep), enrolled)

    assert mailoutbox == []
    assert not SequenceSend.objects.exists()
    assert not Activity.objects.filter(type=ActivityType.EMAIL_SENT).exists()
    assert SequenceEnrollment.objects.get(pk=enrolled.pk).steps_sent == 0
    assert messages_of(response) == [f"Nothing was sent. {reason}"]


@pytest.mark.parametrize(("make", "reason"), REFUSALS)
def test_the_panel_disables_send_next_step_and_shows_the_reason(
    ws, lead, enrolled, sending, rep, as_member, make, reason
):
    make(lead, ws)

    section = panel(as_member(rep).get(lead_url(lead)).content.decode())

    button = re.search(r"<button[^>]*>.{0,80}Send next step", section, re.S).group(0)
    assert "disabled" in button
    assert reason.replace("'", "&#x27;") in section


def test_the_no_sender_reason_links_to_sending_settings_for_who_may_change_them(
    lead, enrolled, rep, marketer, as_member
):
    settings_link = f'href="{reverse("sending-settings")}"'

    assert settings_link in panel(as_member(marketer).get(lead_url(lead)).content.decode())
    assert settings_link not in panel(as_member(rep).get(lead_url(lead)).content.decode())


def test_rep_stops_the_sequence(lead, enrolled, sending, rep, as_member, mailoutbox):
    client = as_member(rep)

    response = client.post(stop_url(enrolled))

    enrolled.refresh_from_db()
    assert response.status_code == 302
    assert (enrolled.status, enrolled.ended_by) == (EnrollmentStatus.STOPPED, rep.user)
    assert messages_of(response) == ["“Welcome series” stopped for Jane Doe."]
    section = panel(client.get(lead_url(lead)).content.decode())
    assert "Not enrolled in any sequence." in section
    assert "Stopped" in section
    assert send(client, enrolled, expected=0).status_code == 302
    assert mailoutbox == []


def test_stopping_with_htmx_refreshes_the_page(enrolled, rep, as_member):
    response = as_member(rep).post(stop_url(enrolled), **HTMX)

    assert response["HX-Refresh"] == "true"
    assert SequenceEnrollment.objects.get(pk=enrolled.pk).status == EnrollmentStatus.STOPPED


def test_the_history_keeps_the_sends_of_ended_enrolments(
    ws, lead, enrolled, sending, rep, as_member
):
    client = as_member(rep)
    send(client, enrolled)
    client.post(stop_url(enrolled))
    other = sequence_save(workspace=ws, actor=rep.user, name="Second chance")
    step_save(sequence=other, actor=rep.user, subject="Again, {{ first_name }}", body="b")
    again = lead_enrol(lead=lead, sequence=other, actor=rep.user)
    send(client, again)

    section = panel(client.get(lead_url(lead)).content.decode())

    assert "Again, Jane" in section
    assert "Hello Jane" in section
    assert "Second chance" in section
    assert "Stopped by" in section


def test_the_panel_runs_a_constant_number_of_queries(
    ws, lead, enrolled, sending, rep, as_member, django_assert_num_queries
):
    client = as_member(rep)
    send(client, enrolled)
    client.get(lead_url(lead))
    with CaptureQueriesContext(connection) as one:
        client.get(lead_url(lead))
    baseline = len(one)  # read now: later requests reset connection.queries
    send(client, enrolled)
    for n in range(3):
        other = sequence_save(workspace=ws, actor=rep.user, name=f"More {n}")
        step_save(sequence=other, actor=rep.user, subject="s", body="b")
        send(client, lead_enrol(lead=lead, sequence=other, actor=rep.user))
    again = sequence_save(workspace=ws, actor=rep.user, name="Now")
    step_save(sequence=again, actor=rep.user, subject="s", body="b")
    step_save(sequence=again, actor=rep.user, subject="t", body="b")
    send(client, lead_enrol(lead=lead, sequence=again, actor=rep.user))

    with django_assert_num_queries(baseline):
        client.get(lead_url(lead))


# Permissions: every view ---------------------------------------------------------------------


def _views(sequence, lead, enrollment):
    step = sequence.steps.get(position=1)
    return [
        ("get", reverse("pipeline:sequence-list"), {}, ROLES),
        ("post", reverse("pipeline:sequence-create"), {"name": "New"}, DEFINERS),
        ("get", seq_url(sequence), {}, ROLES),
        ("post", reverse("pipeline:sequence-edit", args=[sequence.pk]), {"name": "X"}, DEFINERS),
        ("post", reverse("pipeline:sequence-archive", args=[sequence.pk]), {}, DEFINERS),
        ("post", reverse("pipeline:sequence-restore", args=[sequence.pk]), {}, DEFINERS),
        ("post", reverse("pipeline:sequence-enrol-audience", args=[sequence.pk]), {}, RUNNERS),
        ("post", reverse("pipeline:step-create", args=[sequence.pk]), {}, DEFINERS),
        ("get", step_url("step-edit", step), {}, DEFINERS),
        ("post", step_url("step-move", step), {"direction": "down"}, DEFINERS),
        ("post", step_url("step-delete", step), {}, DEFINERS),
        ("get", step_url("step-preview", step), {}, ROLES),
        ("post", reverse("pipeline:lead-sequence-enrol", args=[lead.pk]), {}, RUNNERS),
        ("post", send_url(enrollment), {"expected_steps_sent": 0}, RUNNERS),
        ("post", stop_url(enrollment), {}, RUNNERS),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_sequence_views_it_may_use(
    team, lead, sequence, enrolled, sending, as_member, role
):
    client = as_member(team[role])
    for method, url, data, allowed in _views(sequence, lead, enrolled):
        status = getattr(client, method)(url, data).status_code
        if role in allowed:
            assert status != 403, (method, url)
        else:
            assert status == 403, (method, url)


def test_the_outsider_gets_a_404_for_our_sequence_lead_and_enrolment(
    lead, sequence, enrolled, outsider, as_member
):
    client = as_member(outsider)
    for method, url, data, _ in _views(sequence, lead, enrolled)[2:]:
        assert getattr(client, method)(url, data).status_code == 404, url


def test_our_members_get_a_404_for_another_workspaces_objects(foreign, owner, as_member):
    client = as_member(owner)
    sequence, lead, enrollment = foreign["sequence"], foreign["lead"], foreign["enrollment"]
    for method, url, data, _ in _views(sequence, lead, enrollment)[2:]:
        assert getattr(client, method)(url, data).status_code == 404, url
    assert SequenceEnrollment.objects.get(pk=enrollment.pk).status == EnrollmentStatus.ACTIVE


def test_actions_reject_a_get(lead, sequence, enrolled, rep, as_member):
    client = as_member(rep)
    for url in [
        send_url(enrolled),
        stop_url(enrolled),
        reverse("pipeline:lead-sequence-enrol", args=[lead.pk]),
        reverse("pipeline:sequence-archive", args=[sequence.pk]),
        reverse("pipeline:step-create", args=[sequence.pk]),
    ]:
        assert client.get(url).status_code == 405, url


def test_a_send_without_the_expected_step_is_a_400(enrolled, sending, rep, as_member, mailoutbox):
    response = as_member(rep).post(send_url(enrolled), {})

    assert response.status_code == 400
    assert mailoutbox == []


# Bulk enrolment from the leads list ----------------------------------------------------------

BULK = reverse("pipeline:lead-bulk")


def bulk(client, leads=(), **data):
    data.setdefault("query", "")
    return client.post(BULK, {"lead": [str(x.pk) for x in leads], "action": "enrol", **data})


def test_the_bulk_bar_offers_enrol_in_sequence_to_a_rep(sequence, rep, as_member):
    content = as_member(rep).get(reverse("pipeline:lead-list") + "?view=all").content.decode()

    assert '<option value="enrol">Enrol in sequence</option>' in content
    assert f'<option value="{sequence.pk}">Welcome series</option>' in content


def test_bulk_enrol_skips_leads_by_reason(ws, sequence, owner, rep, as_member):
    fine = [LeadFactory(workspace=ws) for _ in range(3)]
    busy = LeadFactory(workspace=ws)
    lead_enrol(lead=busy, sequence=sequence, actor=rep.user)
    unsubscribed = LeadFactory(workspace=ws, email_status=EmailStatus.UNSUBSCRIBED)
    dnc = LeadFactory(workspace=ws, do_not_contact=True)
    suppressed = LeadFactory(workspace=ws)
    suppression_add(workspace=ws, email=suppressed.email, reason="manual", actor=None)

    response = bulk(
        as_member(owner),
        [*fine, busy, unsubscribed, dnc, suppressed],
        sequence=sequence.pk,
    )

    assert response.status_code == 302
    assert set(
        SequenceEnrollment.objects.filter(sequence=sequence).values_list("lead_id", flat=True)
    ) == {lead.pk for lead in [*fine, busy]}
    (message,) = messages_of(response)
    assert message.startswith("3 leads enrolled in “Welcome series”; 4 skipped: ")
    for part in [
        "1 already in a sequence",
        "1 unsubscribed",
        "1 marked Do Not Contact",
        "1 on the suppression list",
    ]:
        assert part in message


def test_bulk_enrol_can_take_every_lead_matching_the_filter(ws, sequence, owner, as_member):
    qualified = [LeadFactory(workspace=ws, status=LeadStatus.QUALIFIED) for _ in range(3)]
    LeadFactory(workspace=ws, status=LeadStatus.NEW)

    bulk(as_member(owner), all_matching="1", query="status=qualified", sequence=sequence.pk)

    enrolled = set(SequenceEnrollment.objects.values_list("lead_id", flat=True))
    assert enrolled == {lead.pk for lead in qualified}


def test_a_reps_bulk_enrol_covers_only_their_own_leads(ws, sequence, rep, as_member):
    mine = LeadFactory(workspace=ws, owner=rep.user)
    theirs = LeadFactory(workspace=ws)

    response = bulk(as_member(rep), [mine, theirs], sequence=sequence.pk)

    assert list(SequenceEnrollment.objects.values_list("lead_id", flat=True)) == [mine.pk]
    assert messages_of(response) == [
        "1 lead enrolled in “Welcome series”; 1 skipped: 1 not your leads."
    ]


def test_bulk_enrol_needs_a_sequence_and_a_selection(ws, sequence, owner, as_member):
    client = as_member(owner)

    no_sequence = bulk(client, [LeadFactory(workspace=ws)])
    nothing = bulk(client, [], sequence=sequence.pk)

    assert messages_of(no_sequence) == ["Choose a sequence."]
    assert messages_of(nothing)[-1] == "Select at least one lead."
    assert not SequenceEnrollment.objects.exists()


def test_bulk_enrol_ignores_another_workspaces_leads_and_sequences(
    ws, sequence, foreign, owner, as_member
):
    bulk(as_member(owner), [foreign["lead"]], sequence=sequence.pk)
    response = bulk(as_member(owner), [LeadFactory(workspace=ws)], sequence=foreign["sequence"].pk)

    assert SequenceEnrollment.objects.filter(sequence=sequence).count() == 0
    assert messages_of(response) == ["That sequence is not available: it may be gone."]


def test_a_viewer_cannot_bulk_enrol(ws, sequence, viewer, as_member):
    response = bulk(as_member(viewer), [LeadFactory(workspace=ws)], sequence=sequence.pk)

    assert response.status_code == 403
    assert not SequenceEnrollment.objects.exists()


# Services ------------------------------------------------------------------------------------


def test_step_render_fills_the_lead_fields(ws, lead, sequence):
    step = sequence.steps.get(position=2)

    rendered = step_render(step, lead)

    assert rendered.subject == "A case study for Initech"
    assert rendered.body == "Hi Jane, here is how others did it."


def test_leads_enrol_counts_the_skipped_by_reason(ws, sequence, lead, rep):
    bounced = LeadFactory(workspace=ws, email_status=EmailStatus.BOUNCED)
    lead_enrol(lead=lead, sequence=sequence, actor=rep.user)

    result = leads_enrol(
        workspace=ws,
        sequence=sequence,
        leads=leads_for(ws).filter(pk__in=[lead.pk, bounced.pk, LeadFactory(workspace=ws).pk]),
        actor=rep.user,
    )

    assert result.enrolled == 1
    assert result.skipped == {
        "already in a sequence": 1,
        "This lead's email address bounced.": 1,
    }


def test_sequence_send_next_refuses_a_stale_expected_step(enrolled, sending, rep, mailoutbox):
    sequence_send_next(
        enrollment=enrolled, actor=rep.user, site_url="http://x/", expected_steps_sent=0
    )

    with pytest.raises(ValidationError, match="already sent"):
        sequence_send_next(
            enrollment=enrolled, actor=rep.user, site_url="http://x/", expected_steps_sent=0
        )
    assert len(mailoutbox) == 1


def test_a_lead_that_unsubscribes_leaves_its_sequence(ws, rep):
    sequence = Sequence.objects.create(workspace=ws, name="Unsubscribe check")
    SequenceStep.objects.create(sequence=sequence, position=1, subject="Hi", body="Hello")
    by_link, in_bulk, staying = LeadFactory.create_batch(3, workspace=ws)
    for lead in (by_link, in_bulk, staying):
        lead_enrol(lead=lead, sequence=sequence, actor=rep.user)

    lead_unsubscribe(lead=by_link, actor=None, channel="link")
    leads_unsubscribe(
        workspace=ws, actor=rep.user, leads=Lead.objects.filter(pk=in_bulk.pk), channel="bulk"
    )

    states = dict(
        SequenceEnrollment.objects.filter(sequence=sequence).values_list("lead_id", "status")
    )
    assert states == {
        by_link.pk: EnrollmentStatus.STOPPED,
        in_bulk.pk: EnrollmentStatus.STOPPED,
        staying.pk: EnrollmentStatus.ACTIVE,
    }
    stopped = SequenceEnrollment.objects.get(lead=by_link)
    assert stopped.end_reason == "The lead unsubscribed"


# Templates, step changes and sends under odd input ---------------------------------------------


def test_lead_values_go_into_plain_text_mail_as_they_are(ws, sequence, sending, rep, mailoutbox):
    lead = LeadFactory(workspace=ws, first_name="Seán O'Brien", email="sean@obrien.test")
    lead.company = CompanyFactory(workspace=ws, name="AT&T <Labs>")
    lead.save()
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=rep.user)

    sequence_send_next(enrollment=enrollment, actor=rep.user, site_url="https://crm.test/")

    message = mailoutbox[0]
    assert message.subject == "Hello Seán O'Brien"
    assert "Greetings to AT&T <Labs>." in message.body


def test_a_field_gone_since_the_step_was_saved_writes_nothing_not_its_name(ws, lead, marketer):
    CustomFieldFactory(workspace=ws, key="vip", type="boolean")
    sequence = sequence_save(workspace=ws, actor=marketer.user, name="VIP")
    step = step_save(
        sequence=sequence, actor=marketer.user, subject="Hi", body="VIP: {{ custom.vip }}!"
    )
    CustomField.objects.filter(workspace=ws, key="vip").update(retired_at=timezone.now())

    assert step_render(step, lead).body == "VIP: !"


@pytest.mark.parametrize(
    "body",
    ['{{ first_name|date:"r" }}', '{{ first_name|ljust:"2000000000" }}', "{% now 'Y' %}"],
)
def test_a_filter_or_tag_outside_the_short_list_is_refused(sequence, marketer, body):
    with pytest.raises(ValidationError) as refused:
        step_save(sequence=sequence, actor=marketer.user, subject="Hi", body=body)

    assert "body" in refused.value.message_dict


def test_steps_a_lead_has_reached_cannot_be_reordered(sequence, enrolled, sending, rep, marketer):
    sequence_send_next(enrollment=enrolled, actor=rep.user, site_url="https://crm.test/")
    first, second = sequence.steps.all()

    with pytest.raises(ValidationError):
        step_move(step=second, actor=marketer.user, offset=-1)

    assert list(sequence.steps.values_list("pk", flat=True)) == [first.pk, second.pk]


def test_deleting_the_last_step_a_lead_was_waiting_for_completes_its_enrolment(
    sequence, enrolled, sending, rep, marketer
):
    sequence_send_next(enrollment=enrolled, actor=rep.user, site_url="https://crm.test/")
    last = sequence.steps.order_by("position").last()

    step_delete(step=last, actor=marketer.user)

    enrolled.refresh_from_db()
    assert enrolled.status == EnrollmentStatus.COMPLETED


def test_a_step_that_comes_out_empty_for_a_lead_is_not_sent(ws, sending, rep, marketer, mailoutbox):
    sequence = sequence_save(workspace=ws, actor=marketer.user, name="Conditional")
    step_save(
        sequence=sequence,
        actor=marketer.user,
        subject="Hi",
        body="{% if job_title %}As a {{ job_title }}…{% endif %}",
    )
    lead = LeadFactory(workspace=ws, job_title="")
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=rep.user)

    with pytest.raises(ValidationError, match="empty body"):
        sequence_send_next(enrollment=enrollment, actor=rep.user, site_url="https://crm.test/")

    assert mailoutbox == []
    assert not Activity.objects.filter(lead=lead, type=ActivityType.EMAIL_SENT).exists()


def test_unsubscribe_links_use_site_url_when_it_is_set(
    enrolled, sending, rep, as_member, settings, mailoutbox
):
    settings.SITE_URL = "https://crm.example.com"

    send(as_member(rep), enrolled)

    assert (
        mailoutbox[0]
        .extra_headers["List-Unsubscribe"]
        .startswith("<https://crm.example.com/unsubscribe/")
    )
