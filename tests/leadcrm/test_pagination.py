"""BoundedPaginator: numbered pages without counting a whole table (PRODUCT L1)."""

import pytest
from django.core.paginator import EmptyPage, PageNotAnInteger

from contacts.models import Lead
from leadcrm.pagination import MAX_OFFSET, BoundedPaginator
from tests.contacts.factories import LeadFactory


@pytest.fixture
def leads(ws):
    def make(count: int):
        LeadFactory.create_batch(count, workspace=ws)
        return Lead.objects.filter(workspace=ws).order_by("-id").order_by("pk")

    return make


@pytest.fixture
def bound_of_30(monkeypatch):
    # The class copies BOUND when it is defined; its `bound` is what counts.
    monkeypatch.setattr(BoundedPaginator, "bound", 30)


# Below the bound: an exact count -------------------------------------------------------------


def test_small_set_has_its_exact_count(leads):
    paginator = BoundedPaginator(leads(12), 5)

    assert paginator.count == 12
    assert paginator.count_label == "12"
    assert not paginator.is_capped


def test_first_page_range_reads_like_a_sentence(leads):
    page = BoundedPaginator(leads(12), 5).page(1)

    assert page.range_label == "1–5 of 12"


def test_last_page_range_ends_at_the_count(leads):
    page = BoundedPaginator(leads(12), 5).page(3)

    assert page.range_label == "11–12 of 12"
    assert not page.has_next()


def test_empty_set_says_zero(ws):
    page = BoundedPaginator(Lead.objects.filter(workspace=ws).order_by("-id"), 5).page(1)

    assert page.range_label == "0 of 0"


def test_page_past_the_end_of_a_small_set_is_an_empty_page_error(leads):
    with pytest.raises(EmptyPage):
        BoundedPaginator(leads(12), 5).page(4)


def test_thousands_are_separated(ws, monkeypatch):
    monkeypatch.setattr(BoundedPaginator, "count", 9_999)
    paginator = BoundedPaginator(Lead.objects.filter(workspace=ws).order_by("-id"), 50)

    assert paginator.count_label == "9,999"


@pytest.mark.parametrize("number", ["x", None, "1.5", ""])
def test_a_page_number_that_is_not_a_whole_number_is_refused(leads, number):
    with pytest.raises(PageNotAnInteger):
        BoundedPaginator(leads(3), 5).validate_number(number)


@pytest.mark.parametrize("number", [0, -1])
def test_a_page_number_below_one_is_refused(leads, number):
    with pytest.raises(EmptyPage):
        BoundedPaginator(leads(3), 5).validate_number(number)


# Past the bound: "10,000+" -------------------------------------------------------------------


def test_count_stops_just_past_the_bound(bound_of_30, leads):
    paginator = BoundedPaginator(leads(45), 10)

    assert paginator.count == 31
    assert paginator.is_capped
    assert paginator.count_label == "30+"


def test_the_default_bound_is_shown_as_10000_plus(ws, monkeypatch):
    monkeypatch.setattr(BoundedPaginator, "count", 10_001)
    paginator = BoundedPaginator(Lead.objects.filter(workspace=ws).order_by("-id"), 50)

    assert paginator.count_label == "10,000+"


def test_count_is_one_bounded_query(bound_of_30, leads, django_assert_num_queries):
    paginator = BoundedPaginator(leads(45), 10)

    with django_assert_num_queries(1) as captured:
        assert paginator.count == 31
        assert paginator.count == 31

    assert "LIMIT 31" in captured.captured_queries[0]["sql"]


def test_range_past_the_bound_says_bound_plus(bound_of_30, leads):
    page = BoundedPaginator(leads(45), 10).page(1)

    assert page.range_label == "1–10 of 30+"


def test_pages_past_the_bound_still_hold_their_leads(bound_of_30, leads):
    queryset = leads(45)

    page = BoundedPaginator(queryset, 10).page(5)

    assert [x.pk for x in page.object_list] == [x.pk for x in queryset[40:45]]
    assert page.range_label == "41–45 of 30+"


def test_full_page_past_the_bound_has_a_next_page(bound_of_30, leads):
    page = BoundedPaginator(leads(45), 10).page(4)

    assert page.has_next()


def test_short_page_past_the_bound_is_the_last(bound_of_30, leads):
    page = BoundedPaginator(leads(45), 10).page(5)

    assert not page.has_next()


def test_page_beyond_every_lead_past_the_bound_is_empty(bound_of_30, leads):
    page = BoundedPaginator(leads(45), 10).page(9)

    assert list(page.object_list) == []
    assert page.range_label == "0 of 30+"


def test_absurd_page_number_past_the_bound_is_refused_before_the_database(bound_of_30, leads):
    paginator = BoundedPaginator(leads(45), 10)

    with pytest.raises(EmptyPage):
        paginator.page(MAX_OFFSET)


# Page links ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1, [1, 2, 3, None, 10]),
        (5, [1, None, 3, 4, 5, 6, 7, None, 10]),
        (10, [1, None, 8, 9, 10]),
        (4, [1, 2, 3, 4, 5, 6, None, 10]),
    ],
)
def test_page_links_show_neighbours_first_and_last(leads, number, expected):
    paginator = BoundedPaginator(leads(50), 5)

    assert paginator.page_range_around(number) == expected


def test_single_page_links_to_itself(leads):
    assert BoundedPaginator(leads(3), 5).page_range_around(1) == [1]


def test_page_links_past_the_bound_have_no_last_page(bound_of_30, leads):
    paginator = BoundedPaginator(leads(45), 5)

    assert paginator.page_range_around(5) == [1, None, 3, 4, 5, 6, 7]
