"""Pipeline → Leads Kanban: columns, counts, filters, Load more and moves (PRODUCT K1–K4,
"Unsubscribing", W2/W3)."""

import re

import factory
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from contacts.consent import consent_record
from contacts.models import (
    Activity,
    ActivityType,
    ConsentEvent,
    ConsentStatus,
    EmailStatus,
    Lead,
    LeadStatus,
    Tier,
)
from leadcrm.models import AuditLog
from tests.conftest import login
from tests.contacts.factories import CompanyFactory, LeadFactory

URL = reverse("pipeline:kanban")
STATUSES = ["new", "contacted", "engaged", "qualified", "converted", "unsubscribed"]
JSON = {"headers": {"Accept": "application/json"}}
HTMX = {"headers": {"HX-Request": "true"}}
SECTION = re.compile(r'<section class="kanban-column".*?</section>', re.S)
COUNT = re.compile(r'class="badge text-bg-light kanban-count"[^>]*>([^<]*)</span>')
CARD = re.compile(r'data-lead="(\d+)"')


def column_url(status: str) -> str:
    return reverse("pipeline:kanban-column", args=[status])


def move_url(lead) -> str:
    return reverse("pipeline:kanban-move", args=[lead.pk if isinstance(lead, Lead) else lead])


def board(response) -> dict[str, tuple[str, list[int]]]:
    """Each column's count label and its card ids, top to bottom, in the order shown."""
    columns = {}
    for section in SECTION.findall(response.content.decode()):
        status = re.search(r'class="kanban-cards" data-status="(\w+)"', section).group(1)
        columns[status] = (COUNT.search(section).group(1), [int(x) for x in CARD.findall(section)])
    return columns


def counts(response) -> dict[str, str]:
    return {status: label for status, (label, _) in board(response).items()}


def cards(response, status: str | None = None) -> list[int]:
    """Card ids of one column (or of a fragment that is a column's cards)."""
    if status is None:
        return [int(x) for x in CARD.findall(response.content.decode())]
    return board(response)[status][1]


def ids(leads) -> list[int]:
    return [x.pk for x in leads]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def move(client, lead, status, *, version=None, query="", json=True):
    data = {"status": status, "query": query}
    data["version"] = str(lead.version if version is None else version)
    return client.post(move_url(lead), data, **(JSON if json else {}))


def fresh(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


@pytest.fixture
def alice(owner):
    return login(owner)


@pytest.fixture
def many(ws):
    def make(count: int, **fields) -> list[Lead]:
        emails = factory.Sequence(lambda n: f"m{n:05d}@many.test")
        return LeadFactory.create_batch(count, workspace=ws, email=emails, **fields)

    return make


# The board (K1) ------------------------------------------------------------------------------


def test_board_shows_one_column_per_status_in_funnel_order(alice):
    response = alice.get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert list(board(response)) == STATUSES
    labels = re.findall(r'<span class="badge status-badge status-\w+">([^<]+)</span>', html)
    assert labels == ["New", "Contacted", "Engaged", "Qualified", "Converted", "Unsubscribed"]


def test_each_column_counts_its_leads_exactly(ws, many, alice):
    many(3, status=LeadStatus.NEW)
    many(2, status=LeadStatus.QUALIFIED)
    many(1, status=LeadStatus.UNSUBSCRIBED)

    assert counts(alice.get(URL)) == {
        "new": "3",
        "contacted": "0",
        "engaged": "0",
        "qualified": "2",
        "converted": "0",
        "unsubscribed": "1",
    }


def test_cards_sit_in_their_status_column_highest_score_first(ws, alice):
    low = LeadFactory(workspace=ws, status=LeadStatus.NEW, score=5)
    high = LeadFactory(workspace=ws, status=LeadStatus.NEW, score=90)
    middle = LeadFactory(workspace=ws, status=LeadStatus.NEW, score=40)
    engaged = LeadFactory(workspace=ws, status=LeadStatus.ENGAGED, score=10)

    response = alice.get(URL)

    assert cards(response, "new") == ids([high, middle, low])
    assert cards(response, "engaged") == [engaged.pk]
    assert cards(response, "contacted") == []


def test_card_shows_name_company_score_tier_and_owner(ws, owner, alice):
    LeadFactory(
        workspace=ws,
        first_name="Ada",
        last_name="Lovelace",
        company=CompanyFactory(workspace=ws, name="Analytical Engines"),
        score=87,
        tier=Tier.HOT,
        owner=owner.user,
    )

    html = alice.get(URL).content.decode()

    assert "Ada Lovelace" in html
    assert "Analytical Engines" in html
    assert "87 · Hot" in html
    assert owner.user.display_name in html


def test_card_without_an_owner_says_unassigned(ws, alice):
    LeadFactory(workspace=ws, owner=None)

    assert "Unassigned" in alice.get(URL).content.decode()


def test_card_links_to_the_lead_view(ws, alice):
    ada = LeadFactory(workspace=ws)

    html = alice.get(URL).content.decode()

    assert f'href="{reverse("pipeline:lead-detail", args=[ada.pk])}"' in html


def test_card_carries_the_leads_version(ws, alice):
    ada = LeadFactory(workspace=ws, version=7)

    html = alice.get(URL).content.decode()

    assert f'data-lead="{ada.pk}" data-version="7"' in html


def test_trashed_leads_are_not_on_the_board(ws, alice):
    live = LeadFactory(workspace=ws)
    LeadFactory(workspace=ws, deleted_at=timezone.now())

    response = alice.get(URL)

    assert cards(response, "new") == [live.pk]
    assert counts(response)["new"] == "1"


def test_outsider_never_sees_another_workspaces_leads(ws, other_ws, outsider):
    LeadFactory(workspace=ws, status=LeadStatus.NEW)
    theirs = LeadFactory(workspace=other_ws, status=LeadStatus.NEW)

    response = login(outsider).get(URL)

    assert cards(response, "new") == [theirs.pk]
    assert counts(response)["new"] == "1"


def test_it_rejects_post(alice):
    assert alice.post(URL).status_code == 405


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_htmx_request_gets_only_the_board_fragment(ws, alice):
    ada = LeadFactory(workspace=ws, status=LeadStatus.NEW)

    response = alice.get(URL, {"q": ada.email}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div class="kanban" id="board"')
    assert cards(response, "new") == [ada.pk]


def test_htmx_filter_change_keeps_the_filter_badge_true(ws, alice):
    html = alice.get(URL, {"status": "new", "source": "fair"}, **HTMX).content.decode()

    badge = re.search(r'<span id="filter-count" hx-swap-oob="true">(.*?)</span>\s*$', html, re.S)
    assert badge is not None
    assert ">2<" in badge.group(1)


def test_boosted_htmx_request_gets_the_whole_page(alice):
    response = alice.get(URL, headers={"HX-Request": "true", "HX-Boosted": "true"})

    assert b"<html" in response.content


def test_viewer_sees_the_board_without_a_move_menu(ws, viewer):
    LeadFactory(workspace=ws)

    response = login(viewer).get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert len(cards(response, "new")) == 1
    assert "Move to…" not in html
    assert "data-may-move" not in html


@pytest.mark.parametrize("role", ["owner", "admin", "marketer", "rep"])
def test_members_who_may_move_get_a_move_menu_without_the_current_column(ws, role, request):
    ada = LeadFactory(workspace=ws, status=LeadStatus.CONTACTED)

    html = login(request.getfixturevalue(role)).get(URL).content.decode()

    assert "data-may-move" in html
    menu = html.split(f'aria-label="Move {ada} to…"', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r'name="status" value="(\w+)"', menu) == [
        "new",
        "engaged",
        "qualified",
        "converted",
        "unsubscribed",
    ]


def test_move_menu_asks_before_unsubscribing(ws, alice):
    LeadFactory(workspace=ws, first_name="Ada", last_name="Lovelace")

    html = alice.get(URL).content.decode()

    assert 'data-confirm="Unsubscribe Ada Lovelace?' in html


# Counts past the bound (K1) ------------------------------------------------------------------


@pytest.fixture
def bound_of_3(monkeypatch):
    monkeypatch.setattr("pipeline.kanban.BOUND", 3)


def test_count_past_the_bound_shows_bound_plus(bound_of_3, many, alice):
    many(5, status=LeadStatus.NEW)
    many(2, status=LeadStatus.ENGAGED)

    response = alice.get(URL)

    assert counts(response)["new"] == "3+"
    assert counts(response)["engaged"] == "2"
    assert 'data-count="" aria-label="3+ leads"' in response.content.decode()


def test_count_at_the_bound_is_exact(bound_of_3, many, alice):
    many(3, status=LeadStatus.NEW)

    response = alice.get(URL)

    assert counts(response)["new"] == "3"
    assert 'data-count="3"' in response.content.decode()


def test_filtered_count_past_the_bound_shows_bound_plus(bound_of_3, many, alice):
    many(4, status=LeadStatus.NEW, source="fair")
    many(4, status=LeadStatus.CONTACTED, source="web")

    response = alice.get(URL, {"source": "fair"})

    assert counts(response)["new"] == "3+"
    assert counts(response)["contacted"] == "0"


def test_counts_past_a_thousand_show_a_thousands_separator(ws, monkeypatch, alice):
    monkeypatch.setattr("pipeline.kanban.BOUND", 1000)
    emails = (f"b{n}@bulk.test" for n in range(1001))
    Lead.objects.bulk_create(
        LeadFactory.build(workspace=ws, email=email, status=LeadStatus.NEW) for email in emails
    )

    response = alice.get(URL)

    assert counts(response)["new"] == "1,000+"
    assert len(cards(response, "new")) == 25


# Filters and search (K4) ---------------------------------------------------------------------


def test_status_filter_leaves_the_other_columns_empty(ws, alice):
    new = LeadFactory(workspace=ws, status=LeadStatus.NEW)
    LeadFactory(workspace=ws, status=LeadStatus.CONTACTED)

    response = alice.get(URL, {"status": "new"})

    assert cards(response, "new") == [new.pk]
    assert counts(response) == {status: "1" if status == "new" else "0" for status in STATUSES}


def test_owner_me_narrows_every_column(ws, owner, rep, alice):
    mine = [
        LeadFactory(workspace=ws, owner=owner.user, status=LeadStatus.NEW),
        LeadFactory(workspace=ws, owner=owner.user, status=LeadStatus.QUALIFIED),
    ]
    LeadFactory(workspace=ws, owner=rep.user, status=LeadStatus.NEW)
    LeadFactory(workspace=ws, owner=rep.user, status=LeadStatus.QUALIFIED)

    response = alice.get(URL, {"owner": "me"})

    assert cards(response, "new") == [mine[0].pk]
    assert cards(response, "qualified") == [mine[1].pk]
    assert counts(response)["new"] == counts(response)["qualified"] == "1"


def test_search_narrows_every_column(ws, alice):
    # Every searched field spelled out: a random surname or company could contain "ada".
    def lead(first_name: str, status: str):
        return LeadFactory(
            workspace=ws,
            first_name=first_name,
            last_name="Smith",
            email=f"{first_name.lower()}@example.test",
            company=None,
            status=status,
        )

    ada = lead("Ada", LeadStatus.NEW)
    adalind = lead("Adalind", LeadStatus.CONVERTED)
    lead("Grace", LeadStatus.NEW)
    lead("Barbara", LeadStatus.CONVERTED)

    response = alice.get(URL, {"q": "ada"})

    assert cards(response, "new") == [ada.pk]
    assert cards(response, "converted") == [adalind.pk]
    assert counts(response)["new"] == counts(response)["converted"] == "1"


def test_search_matches_the_company(ws, alice):
    engines = CompanyFactory(workspace=ws, name="Analytical Engines")
    ada = LeadFactory(workspace=ws, company=engines, first_name="Ada")
    LeadFactory(workspace=ws, first_name="Grace")

    assert cards(alice.get(URL, {"q": "ENGINES"}), "new") == [ada.pk]


def test_filters_combine_with_search(ws, owner, alice):
    match = LeadFactory(workspace=ws, first_name="Ada", owner=owner.user)
    LeadFactory(workspace=ws, first_name="Ada", owner=None)
    LeadFactory(workspace=ws, first_name="Grace", owner=owner.user)

    assert cards(alice.get(URL, {"q": "ada", "owner": "me"}), "new") == [match.pk]


def test_the_search_box_and_filters_show_the_current_query(ws, alice):
    html = alice.get(URL, {"q": "ada", "status": "new"}).content.decode()

    assert re.search(r'<input type="search" name="q" id="id_q"[^>]*value="ada"', html)
    assert re.search(r'<input[^>]*name="status" value="new"[^>]*checked', html)


def test_list_view_link_keeps_the_query(alice):
    html = alice.get(URL, {"q": "ada", "status": "new"}).content.decode()

    assert f'href="{reverse("pipeline:lead-list")}?q=ada&amp;status=new"' in html


def test_script_in_the_search_is_shown_back_escaped(alice):
    html = alice.get(URL, {"q": "<script>alert(1)</script>"}).content.decode()

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


NAUGHTY = [
    "'; DROP TABLE contacts_lead; --",
    "%",
    "_",
    "\\",
    "\x00",
    "a\x00b",
    "x" * 5000,
    "😀",
    "\u202eevil",
    "<script>alert(1)</script>",
    "9" * 40,
    "-1",
    "1e400",
    "NaN",
    "٣",
    "me",
    "2025-02-30",
]
FILTER_PARAMS = [
    "q",
    "status",
    "email_status",
    "owner",
    "company",
    "source",
    "tags",
    "score_min",
    "score_max",
    "tier",
    "consent_status",
    "created_after",
    "offset",
]


@pytest.mark.parametrize("value", NAUGHTY, ids=range(len(NAUGHTY)))
def test_naughty_filter_values_never_break_the_board(ws, alice, value):
    LeadFactory(workspace=ws)

    broken = [p for p in FILTER_PARAMS if alice.get(URL, {p: value}).status_code != 200]

    assert broken == []


@pytest.mark.parametrize("value", NAUGHTY, ids=range(len(NAUGHTY)))
def test_naughty_values_never_break_load_more(ws, alice, value):
    LeadFactory(workspace=ws)

    broken = [
        p for p in FILTER_PARAMS if alice.get(column_url("new"), {p: value}).status_code != 200
    ]

    assert broken == []


# Queries (K1: six bounded sub-counts) --------------------------------------------------------


@pytest.mark.parametrize("count", [10, 60])
def test_board_runs_a_bounded_number_of_queries(
    ws, owner, rep, alice, django_assert_max_num_queries, count
):
    for i in range(count):
        LeadFactory(
            workspace=ws,
            status=STATUSES[i % 6],
            company=CompanyFactory(workspace=ws),
            owner=[owner, rep][i % 2].user,
        )

    with django_assert_max_num_queries(20):  # 19 + the segment filter's choices
        response = alice.get(URL)

    assert sum(len(x) for _, x in board(response).values()) == count


def test_counts_are_six_bounded_sub_counts(many, alice, django_assert_max_num_queries):
    many(3)

    with django_assert_max_num_queries(20) as captured:
        alice.get(URL, {"q": "many"})

    count_sql = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"]]
    assert len(count_sql) == 6
    assert all("LIMIT 10001" in sql for sql in count_sql)


# Load more (K4) ------------------------------------------------------------------------------


def by_score(many, count: int, status=LeadStatus.NEW) -> list[Lead]:
    """`count` leads of one column with distinct scores, in the board's order."""
    leads = many(count, status=status, score=factory.Sequence(lambda n: n % 1000))
    return sorted(leads, key=lambda x: (-x.score, -x.pk))


def test_a_column_shows_its_first_25_cards_and_load_more(many, alice):
    leads = by_score(many, 30)

    response = alice.get(URL)

    html = response.content.decode()
    assert cards(response, "new") == ids(leads[:25])
    assert counts(response)["new"] == "30"
    assert f'hx-get="{column_url("new")}?offset=25"' in html
    assert html.count("Load more") == 1


def test_a_column_of_25_has_no_load_more(many, alice):
    by_score(many, 25)

    assert "Load more" not in alice.get(URL).content.decode()


def test_load_more_keeps_the_filters(many, alice):
    by_score(many, 30)

    html = alice.get(URL, {"q": "many", "owner": "none"}).content.decode()

    assert f'hx-get="{column_url("new")}?offset=25&amp;q=many&amp;owner=none"' in html


def test_load_more_returns_the_next_cards(many, alice):
    leads = by_score(many, 30)

    response = alice.get(column_url("new"), {"offset": "25"}, **HTMX)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert cards(response) == ids(leads[25:])
    assert "Load more" not in response.content.decode()


def test_load_more_offers_a_further_load_more_only_when_there_are_more(many, alice):
    leads = by_score(many, 60)

    second = alice.get(column_url("new"), {"offset": "25"})
    third = alice.get(column_url("new"), {"offset": "50"})

    assert cards(second) == ids(leads[25:50])
    assert f'hx-get="{column_url("new")}?offset=50"' in second.content.decode()
    assert cards(third) == ids(leads[50:])
    assert "Load more" not in third.content.decode()


def test_following_load_more_links_shows_every_card_once(many, alice):
    leads = by_score(many, 80)
    response = alice.get(URL, {"q": "many"})
    seen = cards(response, "new")

    for _ in range(5):
        link = re.search(r'hx-get="([^"]+)"[^>]*>Load more', response.content.decode())
        if not link:
            break
        response = alice.get(link.group(1).replace("&amp;", "&"))
        seen += cards(response)

    assert seen == ids(leads)


def test_load_more_keeps_the_filters_of_the_board(ws, many, alice):
    by_score(many, 30)
    ada = by_score(many, 30)
    for lead in ada:
        Lead.objects.filter(pk=lead.pk).update(source="fair")

    response = alice.get(column_url("new"), {"offset": "25", "source": "fair"})

    assert cards(response) == ids(ada[25:])


def test_load_more_cards_of_a_viewer_have_no_move_menu(many, viewer):
    by_score(many, 30)

    html = login(viewer).get(column_url("new"), {"offset": "25"}).content.decode()

    assert len(CARD.findall(html)) == 5
    assert "Move to…" not in html


def test_load_more_never_shows_another_workspaces_leads(ws, other_ws, outsider):
    LeadFactory.create_batch(3, workspace=ws)
    theirs = LeadFactory(workspace=other_ws)

    assert cards(login(outsider).get(column_url("new"))) == [theirs.pk]


@pytest.mark.parametrize("status", ["lost", "NEW", "", "new'--"])
def test_load_more_of_an_unknown_status_is_not_found(alice, status):
    url = column_url("new").replace("/new/", f"/{status}/")

    assert alice.get(url).status_code == 404


def test_load_more_rejects_post(alice):
    assert alice.post(column_url("new")).status_code == 405


def test_load_more_sends_anonymous_visitors_to_log_in(client):
    response = client.get(column_url("new"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# Moving a card (K2) --------------------------------------------------------------------------


@pytest.fixture
def ada(ws, rep):
    return LeadFactory(
        workspace=ws, first_name="Ada", last_name="Lovelace", owner=rep.user, status="new"
    )


@pytest.mark.parametrize("role", ["owner", "admin", "marketer", "rep"])
def test_members_who_may_move_save_the_move(ada, role, request):
    response = move(login(request.getfixturevalue(role)), ada, "contacted")

    assert response.status_code == 200
    assert fresh(ada).status == LeadStatus.CONTACTED
    assert fresh(ada).version == ada.version + 1


def test_rep_may_move_a_lead_they_do_not_own(ws, owner, rep):
    theirs = LeadFactory(workspace=ws, owner=owner.user)

    assert move(login(rep), theirs, "engaged").status_code == 200
    assert fresh(theirs).status == LeadStatus.ENGAGED


def test_a_move_is_logged_in_the_timeline_with_its_actor(ada, rep):
    move(login(rep), ada, "qualified")

    activity = Activity.objects.get(lead=ada, type=ActivityType.STATUS_CHANGED)
    assert activity.data == {"from": "new", "to": "qualified"}
    assert activity.actor == rep.user
    assert activity.source == "kanban"
    assert activity.subject == "New → Qualified"


def test_a_move_shows_in_the_lead_views_timeline(ada, rep):
    client = login(rep)
    move(client, ada, "qualified")

    html = client.get(reverse("pipeline:lead-detail", args=[ada.pk])).content.decode()

    assert "New → Qualified" in html


def test_a_move_is_audit_logged(ada, rep):
    move(login(rep), ada, "engaged")

    entry = AuditLog.objects.get(action="lead.update", object_id=str(ada.pk))
    assert entry.actor == rep.user
    assert entry.workspace == ada.workspace
    assert entry.changes["status"] == ["new", "engaged"]
    assert entry.changes["version"] == [ada.version, ada.version + 1]


def test_a_move_answers_json_with_the_new_card(ada, rep):
    response = move(login(rep), ada, "contacted")

    data = response.json()
    assert response["Content-Type"] == "application/json"
    assert (data["status"], data["from"]) == ("contacted", "new")
    assert data["message"] == "Ada Lovelace moved to Contacted."
    assert f'data-lead="{ada.pk}" data-version="{ada.version + 1}"' in data["card"]
    assert data["card"].lstrip().startswith("<article")
    assert 'name="status" value="contacted"' not in data["card"]  # its menu offers the others
    assert 'name="status" value="new"' in data["card"]


def test_the_new_cards_menu_keeps_the_boards_query(ada, rep):
    data = move(login(rep), ada, "contacted", query="q=ada&owner=me").json()

    assert 'name="query" value="q=ada&amp;owner=me"' in data["card"]


def test_a_move_into_the_same_column_changes_nothing(ada, rep):
    response = move(login(rep), ada, "new")

    assert response.json()["message"] == "Ada Lovelace is already New."
    assert fresh(ada).version == ada.version
    assert not Activity.objects.filter(lead=ada).exists()


def test_viewer_cannot_move_a_card(ada, viewer):
    response = move(login(viewer), ada, "contacted")

    assert response.status_code == 403
    assert fresh(ada).status == LeadStatus.NEW
    assert fresh(ada).version == ada.version
    assert not Activity.objects.filter(lead=ada).exists()
    assert not AuditLog.objects.filter(action="lead.update").exists()


def test_viewer_cannot_move_without_javascript_either(ada, viewer):
    response = move(login(viewer), ada, "contacted", json=False)

    assert response.status_code == 403
    assert fresh(ada).status == LeadStatus.NEW


def test_outsider_cannot_move_another_workspaces_lead(ada, outsider):
    response = move(login(outsider), ada, "contacted")

    assert response.status_code == 404
    assert fresh(ada).status == LeadStatus.NEW


def test_member_of_both_workspaces_cannot_move_a_lead_of_the_other_one(ada, other_ws, alice):
    theirs = LeadFactory(workspace=other_ws)

    assert move(alice, theirs, "contacted").status_code == 404
    assert fresh(theirs).status == LeadStatus.NEW


def test_a_deleted_lead_cannot_be_moved(ada, rep):
    Lead.objects.filter(pk=ada.pk).update(deleted_at=timezone.now())

    response = move(login(rep), ada, "contacted")

    assert response.status_code == 404
    assert fresh(ada).status == LeadStatus.NEW


@pytest.mark.parametrize("pk", [0, 999_999_999, 2**63, 10**30])
def test_a_lead_that_does_not_exist_is_not_found(alice, pk):
    response = alice.post(move_url(pk), {"status": "new", "version": "1"}, **JSON)

    assert response.status_code == 404


def test_a_stale_move_is_refused_and_changes_nothing(ada, rep):
    Lead.objects.filter(pk=ada.pk).update(version=ada.version + 1)

    response = move(login(rep), ada, "contacted")

    assert response.status_code == 409
    assert "changed by someone else meanwhile" in response.json()["message"]
    assert fresh(ada).status == LeadStatus.NEW
    assert fresh(ada).version == ada.version + 1
    assert not Activity.objects.filter(lead=ada).exists()
    assert not AuditLog.objects.filter(action="lead.update").exists()


def test_a_stale_move_from_a_second_browser_is_refused(ada, owner, rep):
    """Two people have the board open; both drag the same card (at the same version)."""
    first, second = login(owner), login(rep)
    version = re.search(
        rf'data-lead="{ada.pk}" data-version="(\d+)"', second.get(URL).content.decode()
    ).group(1)
    assert move(first, ada, "qualified", version=version).status_code == 200

    response = second.post(move_url(ada), {"status": "engaged", "version": version}, **JSON)

    assert response.status_code == 409
    assert response.json()["message"] == (
        "Ada Lovelace was changed by someone else meanwhile; the board shows it as it is now."
    )
    assert fresh(ada).status == LeadStatus.QUALIFIED
    assert Activity.objects.filter(lead=ada, type=ActivityType.STATUS_CHANGED).count() == 1


def test_a_stale_move_answers_with_the_card_as_it_is_now(ada, owner, rep):
    move(login(owner), ada, "qualified")

    data = move(login(rep), ada, "engaged").json()

    assert data["status"] == "qualified"
    assert f'data-lead="{ada.pk}" data-version="{ada.version + 1}"' in data["card"]


@pytest.mark.parametrize("status", ["", "lost", "NEW", " new", "new'--", "😀", "x" * 500])
def test_a_move_to_an_unknown_column_is_refused(ada, rep, status):
    response = move(login(rep), ada, status)

    assert response.status_code == 400
    assert response.json()["message"] == "Choose one of the board's columns."
    assert fresh(ada).status == LeadStatus.NEW


@pytest.mark.parametrize("version", ["abc", "-1", "1e3", "9" * 40, "\x00", "٣"])
def test_a_naughty_version_never_breaks_a_move(ada, rep, version):
    response = move(login(rep), ada, "contacted", version=version)

    assert response.status_code in (200, 409)


def test_a_move_rejects_get(ada, rep):
    assert login(rep).get(move_url(ada)).status_code == 405


def test_a_move_sends_anonymous_visitors_to_log_in(ada, client):
    response = client.post(move_url(ada), {"status": "contacted", "version": "1"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert fresh(ada).status == LeadStatus.NEW


def test_a_move_needs_the_csrf_token(ada, rep):
    client = login(rep)
    client.handler.enforce_csrf_checks = True

    response = move(client, ada, "contacted")

    assert response.status_code == 403
    assert fresh(ada).status == LeadStatus.NEW


# The "Move to…" menu without JavaScript (K2 keyboard alternative) -----------------------------


def test_move_menu_redirects_back_to_the_board_keeping_the_query(ada, rep):
    response = move(login(rep), ada, "engaged", query="q=ada&status=new", json=False)

    assert response.status_code == 302
    assert response["Location"] == f"{URL}?q=ada&status=new"
    assert messages_of(response) == ["Ada Lovelace moved to Engaged."]
    assert fresh(ada).status == LeadStatus.ENGAGED


def test_move_menu_message_shows_on_the_board(ada, rep):
    response = login(rep).post(
        move_url(ada), {"status": "engaged", "version": ada.version, "query": ""}, follow=True
    )

    html = response.content.decode()
    assert response.redirect_chain == [(URL, 302)]
    assert "Ada Lovelace moved to Engaged." in html
    assert cards(response, "engaged") == [ada.pk]


def test_move_menu_refusal_shows_the_reason_on_the_board(ada, rep):
    Lead.objects.filter(pk=ada.pk).update(version=ada.version + 1)

    response = move(login(rep), ada, "engaged", query="status=new", json=False)

    assert response.status_code == 302
    assert response["Location"] == f"{URL}?status=new"
    assert "changed by someone else meanwhile" in messages_of(response)[0]
    assert fresh(ada).status == LeadStatus.NEW


@pytest.mark.parametrize("query", ["//evil.test", "\r\nSet-Cookie: x=1", "a" * 3000, "😀=1"])
def test_move_menu_with_a_naughty_query_stays_on_the_board(ada, rep, query):
    response = move(login(rep), ada, "engaged", query=query, json=False)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{URL}?")
    assert "\n" not in response["Location"]


# Unsubscribed (K3, PRODUCT 2 "Unsubscribing") -------------------------------------------------


def test_moving_into_unsubscribed_unsubscribes_the_lead(ada, rep):
    response = move(login(rep), ada, "unsubscribed")

    lead = fresh(ada)
    assert response.status_code == 200
    assert response.json()["status"] == "unsubscribed"
    assert response.json()["message"] == "Ada Lovelace moved to Unsubscribed."
    assert (lead.status, lead.email_status) == ("unsubscribed", "unsubscribed")
    assert lead.consent_status == ConsentStatus.OPTED_OUT
    event = ConsentEvent.objects.get(lead=ada)
    assert (event.status, event.channel, event.actor) == ("opted_out", "kanban", rep.user)


def test_moving_into_unsubscribed_is_in_the_timeline_and_the_audit_log(ada, rep):
    move(login(rep), ada, "unsubscribed")

    changed = Activity.objects.get(lead=ada, type=ActivityType.STATUS_CHANGED)
    assert changed.data == {"from": "new", "to": "unsubscribed"}
    assert changed.actor == rep.user
    assert Activity.objects.filter(lead=ada, type=ActivityType.UNSUBSCRIBED).exists()
    assert AuditLog.objects.filter(action="lead.unsubscribe", object_id=str(ada.pk)).exists()


def test_a_converted_lead_moved_to_unsubscribed_stays_converted(ws, rep):
    customer = LeadFactory(workspace=ws, status=LeadStatus.CONVERTED)

    response = move(login(rep), customer, "unsubscribed")

    lead = fresh(customer)
    data = response.json()
    assert response.status_code == 200
    assert (data["status"], data["from"]) == ("converted", "converted")
    assert data["message"] == "Unsubscribed from email; still Converted."
    assert f'data-version="{lead.version}"' in data["card"]
    assert (lead.status, lead.email_status) == ("converted", "unsubscribed")
    assert ConsentEvent.objects.filter(lead=customer, status="opted_out").exists()
    assert not Activity.objects.filter(lead=customer, type=ActivityType.STATUS_CHANGED).exists()


def test_a_converted_lead_moved_to_unsubscribed_without_javascript(ws, rep):
    customer = LeadFactory(workspace=ws, status=LeadStatus.CONVERTED)

    response = move(login(rep), customer, "unsubscribed", json=False)

    assert messages_of(response) == ["Unsubscribed from email; still Converted."]
    assert fresh(customer).email_status == EmailStatus.UNSUBSCRIBED


@pytest.fixture
def gone(ws):
    """A lead that unsubscribed."""
    return LeadFactory(
        workspace=ws,
        first_name="Gone",
        last_name="Away",
        status=LeadStatus.UNSUBSCRIBED,
        email_status=EmailStatus.UNSUBSCRIBED,
        consent_status=ConsentStatus.OPTED_OUT,
    )


@pytest.mark.parametrize("status", ["new", "contacted", "qualified", "converted"])
def test_moving_out_of_unsubscribed_needs_new_consent(gone, rep, status):
    response = move(login(rep), gone, status)

    lead = fresh(gone)
    assert response.status_code == 409
    assert "consent" in response.json()["message"]
    assert (lead.status, lead.email_status) == ("unsubscribed", "unsubscribed")
    assert lead.version == gone.version
    assert not Activity.objects.filter(lead=gone).exists()
    assert not AuditLog.objects.filter(object_id=str(gone.pk)).exists()


def test_moving_out_of_unsubscribed_without_javascript_says_why(gone, rep):
    response = move(login(rep), gone, "new", json=False)

    assert response.status_code == 302
    assert "Record new consent" in messages_of(response)[0]
    assert fresh(gone).status == LeadStatus.UNSUBSCRIBED


def test_moving_out_of_unsubscribed_works_after_new_consent(gone, rep):
    consent_record(
        lead=gone,
        actor=rep.user,
        status=ConsentStatus.OPTED_IN,
        source="Berlin fair 2025",
        proof="Signed paper form #42",
    )

    response = move(login(rep), gone, "contacted", version=fresh(gone).version)

    lead = fresh(gone)
    assert response.status_code == 200
    assert response.json()["status"] == "contacted"
    assert (lead.status, lead.email_status) == ("contacted", "active")
    changed = Activity.objects.get(lead=gone, type=ActivityType.STATUS_CHANGED)
    assert changed.data == {"from": "unsubscribed", "to": "contacted"}


def test_a_consent_without_proof_does_not_open_the_way_out(gone, rep):
    with pytest.raises(ValidationError, match="proof"):
        consent_record(
            lead=gone, actor=rep.user, status=ConsentStatus.OPTED_IN, source="Berlin fair"
        )

    assert move(login(rep), gone, "new").status_code == 409
