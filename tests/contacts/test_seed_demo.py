"""`seed_demo` (PRODUCT 13): the Demo workspace, its logins and its leads."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.validators import validate_email
from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import Lower

from contacts.models import (
    Activity,
    ActivityType,
    Company,
    ConsentEvent,
    ConsentStatus,
    CustomField,
    Lead,
    Tag,
)
from contacts.normalize import email_domain, phone_normalize, search_text_for
from contacts.synthetic import INDUSTRIES, TAG_NAMES
from leadcrm.demo import DEMO_USERS
from leadcrm.models import Membership, User, Workspace


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--leads", "200", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(db) -> Workspace:
    seed()
    return Workspace.objects.get(slug="demo")


def counts(ws: Workspace) -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "memberships": Membership.objects.filter(workspace=ws).count(),
        "leads": Lead.objects.for_workspace(ws).count(),
        "companies": Company.objects.for_workspace(ws).count(),
        "tags": Tag.objects.for_workspace(ws).count(),
        "lead_tags": Lead.tags.through.objects.filter(lead__workspace=ws).count(),
        "fields": CustomField.objects.for_workspace(ws).count(),
        "activities": Activity.objects.for_workspace(ws).count(),
        "consent_events": ConsentEvent.objects.for_workspace(ws).count(),
    }


def test_it_creates_the_demo_workspace_with_one_login_per_role(demo):
    members = Membership.objects.filter(workspace=demo).values_list("user__email", "role__name")
    assert demo.name == "Demo"
    assert sorted(members) == sorted((email, role) for email, _, role in DEMO_USERS)


def test_it_creates_the_requested_number_of_leads(demo):
    assert Lead.objects.for_workspace(demo).alive().count() == 200


def test_it_reports_the_logins_and_the_leads(db):
    output = seed()
    assert "owner@demo.test" in output
    assert "leadcrm-demo" in output
    assert "200 leads" in output


def test_leads_zero_creates_the_workspace_without_leads(db):
    call_command("seed_demo", "--leads", "0", stdout=StringIO())
    ws = Workspace.objects.get(slug="demo")
    assert Membership.objects.filter(workspace=ws).count() == 5
    assert not Lead.objects.for_workspace(ws).exists()


def test_a_given_password_is_set_on_existing_logins(demo):
    seed("--password", "another-secret-1")
    assert User.objects.get(email="rep@demo.test").check_password("another-secret-1")


def test_without_a_password_existing_logins_keep_theirs(demo):
    seed("--password", "another-secret-1")
    seed()
    assert User.objects.get(email="rep@demo.test").check_password("another-secret-1")


def test_running_it_twice_changes_nothing(demo):
    before = counts(demo)
    seed()
    assert counts(demo) == before


def test_a_larger_count_tops_the_leads_up(demo):
    call_command("seed_demo", "--leads", "260", stdout=StringIO())
    leads = Lead.objects.for_workspace(demo)
    assert leads.count() == 260
    assert leads.values("email").distinct().count() == 260


def test_leads_belong_to_companies_and_carry_tags(demo):
    leads = Lead.objects.for_workspace(demo)
    assert Company.objects.for_workspace(demo).count() >= 200
    assert set(Tag.objects.for_workspace(demo).values_list("name", flat=True)) == set(TAG_NAMES)
    assert leads.filter(company__isnull=False).count() > 150
    assert leads.filter(tags__isnull=False).distinct().count() > 100
    per_lead = leads.annotate(n=Count("tags")).aggregate(top=Max("n"))["top"]
    assert per_lead <= 3


def test_company_names_are_unique_case_insensitively(demo):
    companies = Company.objects.for_workspace(demo)
    assert companies.values(name_ci=Lower("name")).distinct().count() == companies.count()


def test_custom_fields_exist_and_lead_values_fit_their_types(demo):
    fields = dict(CustomField.objects.for_workspace(demo).values_list("key", "type"))
    assert fields == {
        "industry": "choice",
        "budget": "number",
        "subscription_date": "date",
        "vip": "boolean",
    }
    attributes = list(Lead.objects.for_workspace(demo).values_list("attributes", flat=True))
    assert sum("industry" in a for a in attributes) > 100
    assert any("budget" not in a for a in attributes)
    for values in attributes:
        assert set(values) <= set(fields)
        assert values.get("industry", "SaaS") in INDUSTRIES
        budget = values.get("budget", 0)
        assert isinstance(budget, int | float) and not isinstance(budget, bool)
        date.fromisoformat(values.get("subscription_date", "2025-01-31"))
        assert isinstance(values.get("vip", False), bool)


def test_emails_are_valid_lower_case_and_unique(demo):
    emails = list(Lead.objects.for_workspace(demo).values_list("email", flat=True))
    assert len(set(emails)) == len(emails)
    for email in emails:
        assert email == email.lower()
        validate_email(email)


def test_search_text_and_domain_follow_name_email_and_company(demo):
    for lead in Lead.objects.for_workspace(demo).select_related("company"):
        assert lead.search_text == search_text_for(
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            company_name=lead.company.name if lead.company else "",
        )
        assert lead.domain == email_domain(lead.email)


def test_some_names_have_accents_or_are_not_latin(demo):
    names = "".join(Lead.objects.for_workspace(demo).values_list("last_name", flat=True))
    assert not names.isascii()


def test_phones_are_e164_for_the_lead_country(demo):
    leads = Lead.objects.for_workspace(demo).exclude(phone="")
    assert leads.exists()
    for lead in leads:
        assert lead.phone.startswith("+")
        assert phone_normalize(lead.phone, lead.country) == lead.phone


def test_activities_follow_creation_and_set_the_lead_timestamps(demo):
    # The unsubscribe service stamps its own activities; these leads are checked by the
    # service's tests, not here.
    unsubscribed = Activity.objects.filter(type=ActivityType.UNSUBSCRIBED).values("lead")
    leads = (
        Lead.objects.for_workspace(demo)
        .exclude(pk__in=unsubscribed)
        .annotate(
            latest=Max("activities__occurred_at"),
            contacted=Max(
                "activities__occurred_at",
                filter=Q(activities__type__in=["email_sent", "call", "meeting"]),
            ),
        )
    )
    assert Activity.objects.for_workspace(demo).count() > 300
    for lead in leads:
        assert lead.last_activity_at == lead.latest
        assert lead.last_contacted_at == lead.contacted
        assert lead.version == 1
        assert lead.updated_at >= lead.created_at
    assert not Activity.objects.filter(lead__workspace=demo, occurred_at__lt=F("lead__created_at"))


def test_created_at_is_spread_over_about_two_years(demo):
    dates = Lead.objects.for_workspace(demo).aggregate(
        oldest=Min("created_at"), newest=Max("created_at")
    )
    assert timedelta(days=365) < dates["newest"] - dates["oldest"] <= timedelta(days=731)


def test_consent_events_match_the_leads_consent(demo):
    leads = Lead.objects.for_workspace(demo).prefetch_related("consent_events")
    for lead in leads:
        events = sorted(lead.consent_events.all(), key=lambda e: (e.occurred_at, e.pk))
        if not events:
            assert lead.consent_status == ConsentStatus.UNKNOWN
            continue
        assert events[-1].status == lead.consent_status
        assert events[0].status_before == ConsentStatus.UNKNOWN
        if len(events) == 1 and events[0].channel in ("webform", "import"):  # as seeded
            event = events[0]
            assert (event.type, event.source, event.proof, event.gdpr_basis) == (
                lead.consent_type,
                lead.consent_source,
                lead.consent_proof,
                lead.gdpr_basis,
            )
            assert event.occurred_at == lead.consent_captured_at


def test_about_sixty_percent_opted_in(demo):
    opted_in = Lead.objects.for_workspace(demo).filter(consent_status=ConsentStatus.OPTED_IN)
    assert 90 < opted_in.count() < 150


def test_owners_are_members_who_may_hold_leads(demo):
    owners = set(
        Lead.objects.for_workspace(demo).exclude(owner=None).values_list("owner__email", flat=True)
    )
    assert "rep@demo.test" in owners
    assert "viewer@demo.test" not in owners


def test_some_leads_are_unsubscribed_through_the_service(demo):
    unsubscribed = Lead.objects.for_workspace(demo).filter(email_status="unsubscribed")
    assert unsubscribed.count() == 4  # 2 % of 200
    opt_outs = ConsentEvent.objects.filter(lead__in=unsubscribed, status="opted_out")
    assert opt_outs.count() == 4
    assert all(e.occurred_at == e.lead.consent_captured_at for e in opt_outs.select_related("lead"))


def test_it_gives_the_workspace_sending_settings_and_sequences_with_enrolled_leads(demo):
    from contacts.consent import mail_refusal
    from pipeline.models import EnrollmentStatus, SendingSettings, Sequence, SequenceEnrollment

    assert SendingSettings.objects.get(workspace=demo).is_complete
    assert list(Sequence.objects.filter(workspace=demo).values_list("name", flat=True)) == [
        "Pricing follow-up",
        "Welcome series",
    ]
    enrolled = SequenceEnrollment.objects.filter(
        sequence__workspace=demo, status=EnrollmentStatus.ACTIVE
    ).select_related("lead")
    assert enrolled.count() > 10
    assert all(mail_refusal(e.lead) == "" for e in enrolled)
    assert enrolled.filter(steps_sent=1).count() > 0
    assert Activity.objects.for_workspace(demo).filter(type=ActivityType.EMAIL_SENT).exists()


def test_every_demo_lead_has_its_quality_score(demo):
    from contacts.quality import quality_of, weights_for

    weights = weights_for(demo)
    leads = Lead.objects.for_workspace(demo).order_by("pk")[:50]
    assert [lead.quality_score for lead in leads] == [quality_of(lead, weights) for lead in leads]
    assert len({lead.quality_score for lead in leads}) > 3
