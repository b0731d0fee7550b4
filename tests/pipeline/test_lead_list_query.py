"""The search box's query language (L3, PRODUCT 10) and the segment filter (L2), on the leads
list and the kanban."""

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from contacts.models import ActivityType, CustomFieldType, LeadStatus
from leadcrm.roles import VIEWER
from segments.models import SegmentKind, SegmentState
from tests.conftest import login
from tests.contacts.factories import (
    ActivityFactory,
    CustomFieldFactory,
    LeadFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)

URL = reverse("pipeline:lead-list")
KANBAN = reverse("pipeline:kanban")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.lead")
CARD = re.compile(r'data-lead="(\d+)"')
HTMX = {"HX-Request": "true"}


def lead(ws, email: str, **fields):
    return LeadFactory(workspace=ws, email=email, **fields)


def shown(response) -> list[str]:
    """The lead emails in the table body, top to bottom."""
    html = response.content.decode()
    if "<tbody" not in html:
        return []
    body = html.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    return EMAIL.findall(body)


def cards(response) -> set[int]:
    return {int(pk) for pk in CARD.findall(response.content.decode())}


def search(client, q: str, url: str = URL, **params):
    return client.get(url, {"view": "all", "q": q, **params})


def problem(response) -> tuple[str, str]:
    """The message under the search box and the part of the query it marks."""
    html = response.content.decode()
    block = html.split('id="query-error"', 1)[1].split("</div>", 1)[0]
    message = re.search(r'<span class="text-danger">.*?</i>(.*?)</span>', block, re.S).group(1)
    marked = re.search(r"<mark[^>]*>(.*?)</mark>", block, re.S).group(1)
    return html_lib.unescape(message.strip()), html_lib.unescape(marked)


@pytest.fixture
def alice(owner):
    return login(owner)


@pytest.fixture
def industry(ws):
    return CustomFieldFactory(
        workspace=ws,
        key="industry",
        label="Industry",
        type=CustomFieldType.CHOICE,
        choices=["SaaS", "Retail", "Technology"],
    )


@pytest.fixture
def crowd(ws, industry):
    """Jane Doe matches the whole query; each other lead misses one term of it."""
    vip, churned = TagFactory(workspace=ws, name="vip"), TagFactory(workspace=ws, name="churned")
    now = timezone.now()

    def make(email, *, first="Jane", last="Doe", cf="SaaS", score=60, tags=(vip,), opened=5):
        x = lead(
            ws, email, first_name=first, last_name=last, score=score, attributes={"industry": cf}
        )
        x.tags.add(*tags)
        if opened is not None:
            ActivityFactory(
                lead=x, type=ActivityType.EMAIL_OPENED, occurred_at=now - timedelta(days=opened)
            )
        return x

    return {
        "match": make("jane@match.lead"),
        "retail": make("retail@miss.lead", cf="Retail"),
        "score": make("score@miss.lead", score=50),
        "novip": make("novip@miss.lead", tags=()),
        "churned": make("churned@miss.lead", tags=(vip, churned)),
        "stale": make("stale@miss.lead", opened=40),
        "never": make("never@miss.lead", opened=None),
        "roe": make("roe@miss.lead", last="Roe"),
    }


QUERY = 'industry:SaaS score:>50 tag:vip -tag:churned last_opened:<30d "jane doe"'


# The query language on the list ---------------------------------------------------------------


def test_a_query_shows_only_the_leads_matching_every_term(crowd, alice):
    response = search(alice, QUERY)

    assert response.status_code == 200
    assert shown(response) == ["jane@match.lead"]


def test_or_and_parentheses_widen_the_query(crowd, alice):
    response = search(alice, "(industry:Retail OR score:<=50) tag:vip")

    assert sorted(shown(response)) == ["retail@miss.lead", "score@miss.lead"]


def test_a_negated_field_excludes_its_leads(crowd, alice):
    response = search(alice, "-tag:vip")

    assert shown(response) == ["novip@miss.lead"]


def test_owner_me_is_the_person_searching(ws, owner, rep, alice):
    lead(ws, "mine@owner.lead", owner=owner.user)
    lead(ws, "theirs@rep.lead", owner=rep.user)

    assert shown(search(alice, "owner:me")) == ["mine@owner.lead"]
    assert shown(search(login(rep), "owner:me")) == ["theirs@rep.lead"]


def test_plain_words_search_name_email_and_company_as_before(ws, alice):
    lead(ws, "ada@one.lead", first_name="Ada", last_name="Lovelace")
    lead(ws, "grace@two.lead", first_name="Grace", last_name="Hopper")

    assert shown(search(alice, "  LOVELACE   ada ")) == ["ada@one.lead"]
    assert shown(search(alice, "two.lead")) == ["grace@two.lead"]


def test_a_quoted_phrase_searches_its_words(ws, alice):
    lead(ws, "ada@one.lead", first_name="Ada", last_name="Lovelace")

    assert shown(search(alice, '"ada lovelace"')) == ["ada@one.lead"]


def test_a_query_combines_with_the_filter_panel(crowd, alice):
    crowd["retail"].status = LeadStatus.QUALIFIED
    crowd["retail"].save()

    response = search(alice, "tag:vip", status="qualified")

    assert shown(response) == ["retail@miss.lead"]


def test_the_search_box_keeps_the_query_and_pushes_it_to_the_url(crowd, alice):
    html = search(alice, "score:>50 tag:vip").content.decode()

    assert 'value="score:&gt;50 tag:vip"' in html
    assert 'hx-push-url="true"' in html
    assert 'name="q"' in html


def test_sort_links_keep_the_query(crowd, alice):
    html = search(alice, "score:>50").content.decode()

    assert re.search(r'href="\?[^"]*q=score%3A%3E50[^"]*sort=', html) or re.search(
        r'href="\?[^"]*sort=[^"]*q=score%3A%3E50', html
    )


def test_htmx_request_gets_the_results_and_the_search_error_out_of_band(crowd, alice):
    response = alice.get(URL, {"view": "all", "q": "tag:vip"}, headers=HTMX)

    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="lead-results">')
    assert 'id="query-error"' in html and 'hx-swap-oob="true"' in html
    assert len(shown(response)) == 7  # all but novip


# Errors ----------------------------------------------------------------------------------------


def test_an_unknown_value_is_shown_under_the_search_box_with_the_value_marked(crowd, alice):
    response = search(alice, "tag:vip status:nonsense")

    message, marked = problem(response)
    assert response.status_code == 200
    assert marked == "nonsense"
    assert message


def test_an_unknown_field_marks_the_field_name(crowd, alice):
    response = search(alice, "colour:red")

    message, marked = problem(response)
    assert marked == "colour"
    assert "colour" in message


def test_an_unclosed_quote_marks_it(crowd, alice):
    response = search(alice, 'jane "doe')

    assert problem(response) == ("This quote is never closed.", '"doe')


def test_a_query_that_cannot_be_read_shows_an_explanation_instead_of_leads(crowd, alice):
    response = search(alice, "score:>lots")

    html = response.content.decode()
    assert 'id="query-problem"' in html
    assert "the search could not be read" in html
    assert "<tbody" not in html
    assert 'id="bulk-form"' not in html


def test_a_query_error_reaches_an_htmx_request_out_of_band(crowd, alice):
    response = alice.get(URL, {"q": "score:>lots", "view": "all"}, headers=HTMX)

    html = response.content.decode()
    assert 'id="query-problem"' in html
    assert 'hx-swap-oob="true"' in html
    assert problem(response)[1] == ">lots"


def test_a_valid_query_shows_no_error(crowd, alice):
    html = search(alice, QUERY).content.decode()

    assert 'id="query-problem"' not in html
    assert 'class="query-error small w-100 d-none"' in html


def test_a_query_error_changes_nothing(crowd, alice):
    from leadcrm.models import AuditLog

    before = AuditLog.objects.count()
    search(alice, "score:>lots")

    assert AuditLog.objects.count() == before


def test_naughty_queries_never_break_the_page(crowd, alice):
    for q in [
        '"',
        "(",
        ")",
        "-",
        "OR",
        "a OR",
        "x:",
        ":",
        "score:>",
        "tag:",
        "((((",
        "\x00",
        "é:é",
    ]:
        response = search(alice, q)
        assert response.status_code == 200, q


# The kanban ------------------------------------------------------------------------------------


def test_the_kanban_shows_the_cards_a_query_matches(crowd, alice):
    response = search(alice, QUERY, url=KANBAN)

    assert cards(response) == {crowd["match"].pk}


def test_the_kanban_shows_a_query_error_and_no_cards(crowd, alice):
    response = search(alice, "colour:red", url=KANBAN)

    html = response.content.decode()
    assert response.status_code == 200
    assert problem(response)[1] == "colour"
    assert 'id="query-problem"' in html
    assert cards(response) == set()


def test_the_kanban_htmx_update_carries_the_query_error(crowd, alice):
    response = alice.get(KANBAN, {"q": "score:>lots"}, headers=HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<div class="kanban" id="board"')
    assert problem(response)[1] == ">lots"


# The segment filter (L2) ---------------------------------------------------------------------


@pytest.fixture
def segments(ws):
    static = SegmentFactory(workspace=ws, name="Hand-picked", kind=SegmentKind.STATIC)
    dynamic = SegmentFactory(
        workspace=ws,
        name="Big scores",
        kind=SegmentKind.DYNAMIC,
        rules={"match": "all", "children": [{"field": "score", "op": "gt", "value": 50}]},
    )
    retired = SegmentFactory(
        workspace=ws, name="Old list", kind=SegmentKind.STATIC, state=SegmentState.RETIRED
    )
    return {"static": static, "dynamic": dynamic, "retired": retired}


def test_the_segment_filter_shows_a_static_segments_members(ws, segments, alice):
    member = lead(ws, "in@static.lead")
    lead(ws, "out@static.lead")
    SegmentMembershipFactory(segment=segments["static"], lead=member)

    assert shown(alice.get(URL, {"segment": segments["static"].pk})) == ["in@static.lead"]


def test_the_segment_filter_shows_the_leads_a_dynamic_segment_matches(ws, segments, alice):
    lead(ws, "big@dynamic.lead", score=80)
    lead(ws, "small@dynamic.lead", score=10)

    assert shown(alice.get(URL, {"segment": segments["dynamic"].pk})) == ["big@dynamic.lead"]


def test_a_retired_segment_still_filters(ws, segments, alice):
    member = lead(ws, "kept@retired.lead")
    lead(ws, "other@retired.lead")
    SegmentMembershipFactory(segment=segments["retired"], lead=member)

    assert shown(alice.get(URL, {"segment": segments["retired"].pk})) == ["kept@retired.lead"]


def test_the_filter_panel_offers_the_workspaces_segments_retired_ones_labelled(
    ws, other_ws, segments, alice
):
    SegmentFactory(workspace=other_ws, name="Globex secret")

    html = alice.get(URL, {"view": "all"}).content.decode()
    select = html.split('name="segment"', 1)[1].split("</select>", 1)[0]
    options = [html_lib.unescape(o) for o in re.findall(r"<option[^>]*>([^<]*)</option>", select)]

    assert options == ["Any segment", "Big scores", "Hand-picked", "Old list (retired)"]


def test_another_workspaces_segment_is_an_invalid_choice_not_a_crash(ws, other_ws, alice):
    lead(ws, "ada@one.lead")
    theirs = SegmentFactory(workspace=other_ws, kind=SegmentKind.STATIC)
    SegmentMembershipFactory(segment=theirs)

    response = alice.get(URL, {"segment": theirs.pk})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Some filters were ignored" in html
    assert "segment — Select a valid choice" in html


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999", "1.5", "٣"])
def test_a_segment_value_that_is_no_id_is_an_invalid_choice(ws, alice, value):
    response = alice.get(URL, {"segment": value})

    assert response.status_code == 200
    assert "segment — Select a valid choice" in response.content.decode()


def test_the_kanban_filters_by_segment_too(ws, segments, alice):
    big = lead(ws, "big@dynamic.lead", score=80)
    lead(ws, "small@dynamic.lead", score=10)

    response = alice.get(KANBAN, {"segment": segments["dynamic"].pk})

    assert cards(response) == {big.pk}


def test_the_query_language_names_segments_too(ws, segments, alice):
    lead(ws, "big@dynamic.lead", score=80)
    lead(ws, "small@dynamic.lead", score=10)

    assert shown(search(alice, '-segment:"Big scores"')) == ["small@dynamic.lead"]


def test_filtering_by_a_segment_marks_it_used(ws, segments, alice):
    alice.get(URL, {"segment": segments["static"].pk})

    segments["static"].refresh_from_db()
    assert segments["static"].last_used_at is not None


@pytest.fixture
def viewer_without_segments(viewer):
    viewer.role.permissions.remove(Permission.objects.get(codename="view_segments"))
    return viewer


def test_a_role_without_view_segments_gets_no_segment_filter(ws, segments, viewer_without_segments):
    lead(ws, "ada@one.lead")
    client = login(viewer_without_segments)

    html = client.get(URL, {"view": "all"}).content.decode()
    response = search(client, '-segment:"Big scores"')

    assert viewer_without_segments.role.name == VIEWER
    assert 'name="segment"' not in html
    assert "cannot search by them" in problem(response)[0]
