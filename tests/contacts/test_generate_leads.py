"""`generate_leads` (PRODUCT 13): synthetic leads in bulk, COPY on PostgreSQL."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.validators import validate_email
from django.db import connection
from django.db.models import Max, Q

from contacts.models import Activity, ConsentEvent, ConsentStatus, Lead, ScoringRule, Tier
from contacts.normalize import email_domain, search_text_for
from contacts.synthetic import LeadGenerator


def generate(ws, count: int = 500, *args: str) -> str:
    out = StringIO()
    call_command("generate_leads", "--workspace", ws.slug, "--count", str(count), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def generated(ws, team) -> str:
    return generate(ws, 500, "--batch", "200")


def test_it_creates_the_leads_with_about_five_activities_each(ws, generated):
    assert Lead.objects.for_workspace(ws).count() == 500
    assert 2000 <= Activity.objects.for_workspace(ws).count() <= 3000


def test_it_reports_rows_per_second(generated):
    assert "Generated 500 leads" in generated
    assert "leads/s" in generated
    assert "activities/s" in generated


def test_last_activity_and_last_contacted_match_the_activities(ws, generated):
    leads = Lead.objects.for_workspace(ws).annotate(
        latest=Max("activities__occurred_at"),
        contacted=Max(
            "activities__occurred_at",
            filter=Q(activities__type__in=["email_sent", "call", "meeting"]),
        ),
    )
    for lead in leads:
        assert lead.last_activity_at == lead.latest
        assert lead.last_contacted_at == lead.contacted
        assert lead.latest is None or lead.latest >= lead.created_at


def test_search_text_and_domain_follow_name_email_and_company(ws, generated):
    for lead in Lead.objects.for_workspace(ws).select_related("company"):
        assert lead.search_text == search_text_for(
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            company_name=lead.company.name if lead.company else "",
        )
        assert lead.domain == email_domain(lead.email)
        assert lead.version == 1


def test_emails_are_valid_and_unique_across_runs(ws, generated):
    generate(ws, 300)
    emails = list(Lead.objects.for_workspace(ws).values_list("email", flat=True))
    assert len(emails) == 800
    assert len(set(emails)) == 800
    for email in emails:
        assert email == email.lower()
        validate_email(email)


def test_leads_that_consented_have_a_matching_consent_event(ws, generated):
    consented = Lead.objects.for_workspace(ws).exclude(consent_status=ConsentStatus.UNKNOWN)
    events = ConsentEvent.objects.for_workspace(ws)
    assert consented.exists()
    assert events.count() == consented.count()
    for lead in consented:
        event = events.get(lead=lead)
        assert (event.status, event.occurred_at) == (lead.consent_status, lead.consent_captured_at)


def test_leads_get_tags_owners_and_custom_field_values(ws, generated):
    leads = Lead.objects.for_workspace(ws)
    assert leads.filter(tags__isnull=False).distinct().count() > 200
    assert leads.filter(owner__isnull=False).count() > 400
    assert leads.filter(attributes__has_key="industry").count() > 300


def test_leads_are_scored_with_the_default_rules_and_some_are_hot(ws, generated):
    leads = Lead.objects.for_workspace(ws)

    assert ScoringRule.objects.filter(workspace=ws).exists()
    assert leads.filter(score__gt=50, tier=Tier.HOT).exists()  # the buying-mood few
    assert leads.filter(score__gt=0).count() > leads.filter(score__gt=50).count()


def test_an_unknown_workspace_is_an_error(db):
    with pytest.raises(CommandError, match="No workspace"):
        call_command("generate_leads", "--workspace", "nope", "--count", "5", stdout=StringIO())


def _schema() -> list[tuple]:
    """Every index and constraint of the contacts tables, as the database describes them."""
    if connection.vendor == "postgresql":
        sql = """
            SELECT pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid::regclass::text LIKE 'contacts_%%'
            UNION ALL
            SELECT pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid::regclass::text LIKE 'contacts_%%'
            ORDER BY 1
        """
    else:
        sql = "SELECT sql FROM sqlite_master WHERE tbl_name LIKE 'contacts_%%' ORDER BY 1"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_a_bulk_load_leaves_indexes_and_foreign_keys_as_they_were(ws, team):
    before = _schema()
    generate(ws, 50)
    assert _schema() == before


def test_the_same_seed_gives_the_same_leads(ws):
    def leads(seed: int) -> list:
        generator = LeadGenerator(
            workspace=ws,
            seed=seed,
            stream="test",
            companies=[],
            tags=[],
            attribute_keys={"industry", "budget"},
            owner_ids=[],
            owner_weights=[],
            activities_per_lead=5,
            email_for=lambda local, domain, n: f"{local}.{n}@{domain}",
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )
        return [generator.lead(n) for n in range(50)]

    assert leads(7) == leads(7)
    assert leads(7) != leads(8)
