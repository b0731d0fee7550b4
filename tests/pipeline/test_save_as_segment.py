""" "Save as dynamic segment" on the leads list (PRODUCT 10, G2): the list's search and filters
become a Draft segment holding the same leads."""

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import reverse

from contacts.models import (
    ConsentStatus,
    CustomFieldType,
    EmailStatus,
    LeadStatus,
    Tier,
)
from contacts.queries import leads_for
from leadcrm.models import AuditLog
from pipeline.filters import LeadListFilterSet
from segments.models import Segment, SegmentKind, SegmentState
from segments.rules import rules_clean, segment_leads
from tests.conftest import login
from tests.contacts.factories import (
    CompanyFactory,
    CustomFieldFactory,
    LeadFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)

URL = reverse("pipeline:lead-list-segment")
LIST = reverse("pipeline:lead-list")


def day(month: int, d: int, hour: int = 12) -> datetime:
    return datetime(2025, month, d, hour, tzinfo=UTC)


def save(client, params: dict, name: str = "From the list"):
    return client.post(URL, {"name": name, "query": urlencode(params, doseq=True)})


def list_ids(membership, params: dict) -> set[int]:
    """The leads the list shows for these parameters (its filter set, every page)."""
    filterset = LeadListFilterSet(
        QueryDict(urlencode(params, doseq=True)),
        queryset=leads_for(membership.workspace),
        workspace=membership.workspace,
        user=membership.user,
    )
    assert not filterset.form.errors and filterset.query_problem is None
    return set(filterset.qs.values_list("pk", flat=True))


@pytest.fixture
def fields(ws):
    spec = {
        "note": (CustomFieldType.TEXT, []),
        "budget": (CustomFieldType.NUMBER, []),
        "renewal": (CustomFieldType.DATE, []),
        "vip": (CustomFieldType.BOOLEAN, []),
        "industry": (CustomFieldType.CHOICE, ["SaaS", "Retail", "Technology"]),
    }
    return {
        key: CustomFieldFactory(workspace=ws, key=key, label=key.title(), type=t, choices=c)
        for key, (t, c) in spec.items()
    }


@pytest.fixture
def world(ws, owner, rep, fields):
    """Eight leads differing in everything the filter panel can test."""
    acme = CompanyFactory(workspace=ws, name="Acme Corp")
    other = CompanyFactory(workspace=ws, name="Globex")
    vip, partner = TagFactory(workspace=ws, name="vip"), TagFactory(workspace=ws, name="partner")
    leads = []

    def make(status, email_status, who, company, source, tags, score, consent, **more):
        created, contacted, active = more["created"], more.get("contacted"), more.get("active")
        lead = LeadFactory(
            workspace=ws,
            email=f"lead{len(leads)}@world.lead",
            status=status,
            email_status=email_status,
            owner=who.user if who else None,
            company=company,
            source=source,
            score=score,
            tier=Tier.HOT if score >= 50 else Tier.WARM if score >= 20 else Tier.COLD,
            consent_status=consent,
            created_at=day(*created),
            last_contacted_at=day(*contacted) if contacted else None,
            last_activity_at=day(*active) if active else None,
            attributes=more.get("attributes", {}),
        )
        lead.tags.add(*tags)
        leads.append(lead)

    make(
        "new", "active", owner, acme, "Webinar", [vip], 70, "opted_in",
        created=(1, 5), contacted=(2, 1), active=(3, 1),
        attributes={"note": "Asked for a Demo", "budget": 5000, "renewal": "2025-06-01",
                    "vip": True, "industry": "SaaS"},
    )  # fmt: skip
    make(
        "contacted", "bounced", rep, acme, "webinar", [vip, partner], 30, "pending",
        created=(1, 20), active=(2, 15),
        attributes={"budget": 20000, "renewal": "2025-09-30", "vip": False, "industry": "Retail"},
    )  # fmt: skip
    make(
        "qualified", "active", None, other, "Referral", [partner], 55, "opted_in",
        created=(2, 10), contacted=(2, 11),
        attributes={"note": "demo next week", "industry": "SaaS"},
    )  # fmt: skip
    make(
        "new", "inactive", rep, None, "Website", [], 10, "unknown",
        created=(3, 3), active=(3, 4),
        attributes={"budget": 150, "vip": True, "industry": "Technology"},
    )  # fmt: skip
    make(
        "converted", "active", owner, other, "Website", [vip], 95, "opted_out",
        created=(3, 25), contacted=(4, 2), active=(4, 2),
        attributes={"renewal": "2026-01-15"},
    )  # fmt: skip
    make(
        "engaged", "unsubscribed", None, acme, "LinkedIn", [partner], 45, "opted_in",
        created=(4, 8), contacted=(4, 9), active=(4, 10),
        attributes={"note": "No budget", "budget": 999.5, "industry": "Retail"},
    )  # fmt: skip
    make(
        "new", "active", owner, None, "Webinar", [vip, partner], 20, "pending",
        created=(4, 28), attributes={"vip": False},
    )  # fmt: skip
    make(
        "qualified", "active", rep, acme, "Referral", [], 60, "opted_in",
        created=(5, 6), contacted=(5, 7), active=(5, 8),
        attributes={"industry": "Technology", "renewal": "2025-05-06"},
    )  # fmt: skip
    static = SegmentFactory(workspace=ws, name="Picked", kind=SegmentKind.STATIC)
    for lead in leads[::3]:
        SegmentMembershipFactory(segment=static, lead=lead)
    dynamic = SegmentFactory(
        workspace=ws,
        name="Warm and up",
        kind=SegmentKind.DYNAMIC,
        rules={
            "match": "all",
            "children": [{"field": "tier", "op": "in", "value": ["warm", "hot"]}],
        },
    )
    return {
        "leads": leads,
        "acme": acme,
        "vip": vip,
        "partner": partner,
        "static": static,
        "dynamic": dynamic,
    }


COMBINATIONS = 24


def combinations(world) -> list[dict]:
    """List states to save: each filter of the panel, the search, and all at once."""
    vip, partner = str(world["vip"].pk), str(world["partner"].pk)
    states = [
        {"status": [LeadStatus.NEW, LeadStatus.QUALIFIED]},
        {"email_status": EmailStatus.ACTIVE, "owner": ["me", "none"]},
        {"company": "acme"},
        {"company": str(world["acme"].pk)},
        {"source": "WEBINAR"},
        {"tags": [vip, partner]},
        {"tags": [vip, partner], "tags_all": "on"},
        {"score_min": "20", "score_max": "60"},
        {"tier": [Tier.HOT], "consent_status": [ConsentStatus.OPTED_IN, ConsentStatus.PENDING]},
        {"created_after": "2025-01-20", "created_before": "2025-04-08"},
        {"last_contacted_after": "2025-02-11"},
        {"last_activity_before": "2025-03-04"},
        {"cf_note": "DEMO"},
        {"cf_budget_min": "150", "cf_budget_max": "999.5"},
        {"cf_renewal_after": "2025-05-06", "cf_renewal_before": "2025-09-30"},
        {"cf_vip": "yes"},
        {"cf_vip": "no"},
        {"cf_industry": ["SaaS", "Technology"]},
        {"segment": str(world["static"].pk)},
        {"segment": str(world["dynamic"].pk)},
        {"q": "acme"},
        {"q": "industry:SaaS OR score:>=60"},
        {"q": "-tag:vip", "status": [LeadStatus.NEW, LeadStatus.ENGAGED]},
        {
            "q": "tag:partner",
            "owner": ["me", str(world["leads"][1].owner_id)],
            "score_min": "25",
            "cf_industry": ["Retail"],
            "segment": str(world["dynamic"].pk),
            "created_after": "2025-01-01",
        },
    ]
    assert len(states) == COMBINATIONS
    return states


@pytest.mark.parametrize("number", range(COMBINATIONS))
def test_the_segment_holds_the_lists_leads(world, owner, number):
    params = combinations(world)[number]
    expected = list_ids(owner, params)
    assert 0 < len(expected) < len(world["leads"])  # each combination separates leads

    response = save(login(owner), params, name=f"Saved {number}")

    assert response.status_code == 302
    segment = Segment.objects.get(workspace=owner.workspace, name=f"Saved {number}")
    assert set(segment_leads(segment).values_list("pk", flat=True)) == expected


def test_it_creates_a_draft_dynamic_segment_and_opens_its_page(world, owner):
    response = save(login(owner), {"status": "new", "q": "tag:vip"}, name="  New VIPs ")

    segment = Segment.objects.get(name="New VIPs")
    assert response["Location"] == reverse("segments:segment-detail", args=[segment.pk])
    assert (segment.kind, segment.state) == (SegmentKind.DYNAMIC, SegmentState.DRAFT)
    assert segment.created_by == owner.user
    assert segment.rules == {
        "match": "all",
        "children": [
            {"field": "tag", "op": "has", "value": world["vip"].pk},
            {"field": "status", "op": "is", "value": "new"},
        ],
    }


def test_the_saved_rules_are_clean(world, owner):
    save(login(owner), combinations(world)[-1], name="Everything")

    segment = Segment.objects.get(name="Everything")
    assert rules_clean(segment.rules, workspace=owner.workspace, segment=segment) == segment.rules


def test_it_is_audited(world, marketer):
    save(login(marketer), {"tier": "hot"}, name="Hot")

    segment = Segment.objects.get(name="Hot")
    actions = set(
        AuditLog.objects.filter(object_id=str(segment.pk)).values_list("action", flat=True)
    )
    assert {"segment.create", "segment.rules"} <= actions
    assert AuditLog.objects.filter(object_id=str(segment.pk)).first().actor == marketer.user


def test_an_empty_list_state_saves_a_segment_of_every_lead(world, owner):
    save(login(owner), {}, name="All")

    segment = Segment.objects.get(name="All")
    assert segment_leads(segment).count() == len(world["leads"])


def test_owner_me_is_stored_as_the_savers_id(world, marketer):
    save(login(marketer), {"owner": "me"}, name="Mine")

    segment = Segment.objects.get(name="Mine")
    assert segment.rules["children"] == [{"field": "owner", "op": "is", "value": marketer.user.pk}]


def test_a_query_that_cannot_be_read_saves_nothing_and_says_why(world, owner):
    client = login(owner)

    response = save(client, {"q": "score:>lots"})

    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?q=score%3A%3Elots"
    assert not Segment.objects.filter(name="From the list").exists()
    html = client.get(response["Location"]).content.decode()
    assert "The segment was not saved. Fix the search first" in html


def test_a_filter_that_cannot_be_read_saves_nothing(world, owner, other_ws):
    theirs = SegmentFactory(workspace=other_ws)
    client = login(owner)

    response = save(client, {"segment": str(theirs.pk)})

    assert not Segment.objects.filter(name="From the list").exists()
    html = client.get(response["Location"]).content.decode()
    assert "Fix the filters first" in html


def test_a_taken_name_saves_nothing(world, owner):
    client = login(owner)
    SegmentFactory(workspace=owner.workspace, name="Taken")

    response = save(client, {"status": "new"}, name="taken")

    assert Segment.objects.filter(name__iexact="taken").count() == 1
    assert "already exists" in client.get(response["Location"]).content.decode()


def test_a_missing_name_saves_nothing(world, owner):
    client = login(owner)

    response = save(client, {"status": "new"}, name="   ")

    assert Segment.objects.count() == 2  # the world's own two
    assert "Give the segment a name" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("role", ["rep", "viewer"])
def test_roles_without_manage_segments_are_refused(world, request, role):
    membership = request.getfixturevalue(role)

    response = save(login(membership), {"status": "new"})

    assert response.status_code == 403
    assert Segment.objects.count() == 2


def test_it_rejects_get(owner):
    assert login(owner).get(URL).status_code == 405


def test_the_list_offers_it_to_marketers_only(world, marketer, rep):
    shown_to_marketer = login(marketer).get(LIST, {"view": "all"}).content.decode()
    shown_to_rep = login(rep).get(LIST, {"view": "all"}).content.decode()

    assert 'id="save-segment-form"' in shown_to_marketer
    assert "Save as dynamic segment" in shown_to_marketer
    assert 'id="save-segment-form"' not in shown_to_rep


def test_an_htmx_update_refreshes_the_list_state_the_forms_post(world, owner):
    response = login(owner).get(
        LIST, {"status": "new", "q": "tag:vip"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert (
        '<input type="hidden" name="query" value="status=new&amp;q=tag%3Avip" data-list-query '
        'hx-swap-oob="outerHTML:[data-list-query]">'
    ) in html
