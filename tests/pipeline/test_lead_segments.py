"""The lead page's Segments panel: add the lead to a static segment, remove it (PRODUCT G1)."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from segments.models import SegmentKind, SegmentMembership, SegmentState
from tests.conftest import login
from tests.contacts.factories import LeadFactory, SegmentFactory, SegmentMembershipFactory

HTMX = {"headers": {"HX-Request": "true"}}


@pytest.fixture
def lead(ws):
    return LeadFactory(workspace=ws, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def fair(ws):
    return SegmentFactory(workspace=ws, name="Berlin fair", kind=SegmentKind.STATIC)


def page(lead) -> str:
    return reverse("pipeline:lead-detail", args=[lead.pk])


def add_url(lead) -> str:
    return reverse("pipeline:lead-segment-add", args=[lead.pk])


def remove_url(lead, segment) -> str:
    return reverse("pipeline:lead-segment-remove", args=[lead.pk, segment.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def in_segment(lead, segment) -> bool:
    return SegmentMembership.objects.filter(lead=lead, segment=segment).exists()


# What the panel offers -----------------------------------------------------------------------


def test_the_panel_offers_the_static_segments_the_lead_is_not_in(ws, lead, fair, rep):
    member_of = SegmentFactory(workspace=ws, name="Already in", kind=SegmentKind.STATIC)
    SegmentMembershipFactory(segment=member_of, lead=lead)
    SegmentFactory(workspace=ws, name="Old list", state=SegmentState.RETIRED)
    SegmentFactory(workspace=ws, name="Rules based", kind=SegmentKind.DYNAMIC)

    content = login(rep).get(page(lead)).content.decode()

    assert f'<option value="{fair.pk}">Berlin fair</option>' in content
    for name in ("Already in", "Old list", "Rules based"):
        assert f">{name}</option>" not in content
    assert remove_url(lead, member_of) in content


def test_segment_names_link_to_the_segment(lead, fair, rep):
    SegmentMembershipFactory(segment=fair, lead=lead)

    content = login(rep).get(page(lead)).content.decode()

    assert reverse("segments:segment-detail", args=[fair.pk]) in content


def test_a_viewer_gets_neither_add_nor_remove(lead, fair, viewer):
    SegmentMembershipFactory(segment=fair, lead=lead)

    content = login(viewer).get(page(lead)).content.decode()

    assert add_url(lead) not in content
    assert remove_url(lead, fair) not in content
    assert "Berlin fair" in content


def test_a_retired_membership_has_no_remove_button(lead, fair, rep):
    SegmentMembershipFactory(segment=fair, lead=lead)
    fair.state = SegmentState.RETIRED
    fair.save()

    content = login(rep).get(page(lead)).content.decode()

    assert "Berlin fair" in content
    assert remove_url(lead, fair) not in content


# Adding --------------------------------------------------------------------------------------


def test_a_rep_adds_the_lead_to_a_static_segment(lead, fair, rep):
    response = login(rep).post(add_url(lead), {"segment": fair.pk})

    assert in_segment(lead, fair)
    assert response["Location"] == page(lead) + "#segments"
    assert messages_of(response) == ["Ada Lovelace added to “Berlin fair”."]


def test_htmx_add_returns_the_refreshed_panel_and_a_toast(lead, fair, rep):
    response = login(rep).post(add_url(lead), {"segment": fair.pk}, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.strip().startswith('<section class="card mb-3" id="segments"')
    assert remove_url(lead, fair) in content
    toasts = json.loads(response["HX-Trigger"])["messages"]
    assert toasts == [{"level": "success", "text": "Ada Lovelace added to “Berlin fair”."}]


def test_adding_to_a_retired_segment_is_refused(lead, fair, rep):
    fair.state = SegmentState.RETIRED
    fair.save()

    response = login(rep).post(add_url(lead), {"segment": fair.pk})

    assert not in_segment(lead, fair)
    assert messages_of(response) == ["That segment is not available: it may be retired or gone."]


def test_adding_to_a_dynamic_segment_is_refused(ws, lead, rep):
    dynamic = SegmentFactory(workspace=ws, kind=SegmentKind.DYNAMIC)

    login(rep).post(add_url(lead), {"segment": dynamic.pk})

    assert not in_segment(lead, dynamic)


def test_adding_to_another_workspaces_segment_is_refused(other_ws, lead, rep):
    theirs = SegmentFactory(workspace=other_ws, kind=SegmentKind.STATIC)

    login(rep).post(add_url(lead), {"segment": theirs.pk})

    assert not in_segment(lead, theirs)


def test_adding_without_a_segment_says_to_choose_one(lead, rep):
    response = login(rep).post(add_url(lead), {"segment": ""})

    assert messages_of(response) == ["Choose a static segment."]


def test_a_viewer_cannot_add(lead, fair, viewer):
    response = login(viewer).post(add_url(lead), {"segment": fair.pk})

    assert response.status_code == 403
    assert not in_segment(lead, fair)


def test_adding_another_workspaces_lead_is_a_404(other_ws, fair, rep):
    theirs = LeadFactory(workspace=other_ws)

    assert login(rep).post(add_url(theirs), {"segment": fair.pk}).status_code == 404


def test_get_on_add_is_a_405(lead, rep):
    assert login(rep).get(add_url(lead)).status_code == 405


# Removing ------------------------------------------------------------------------------------


def test_a_rep_removes_the_lead_from_a_segment(lead, fair, rep):
    SegmentMembershipFactory(segment=fair, lead=lead)

    response = login(rep).post(remove_url(lead, fair))

    assert not in_segment(lead, fair)
    assert messages_of(response) == ["Ada Lovelace removed from “Berlin fair”."]


def test_htmx_remove_returns_the_panel_offering_the_segment_again(lead, fair, rep):
    SegmentMembershipFactory(segment=fair, lead=lead)

    response = login(rep).post(remove_url(lead, fair), **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert f'<option value="{fair.pk}">Berlin fair</option>' in content


def test_removing_from_a_retired_segment_is_refused(lead, fair, rep):
    SegmentMembershipFactory(segment=fair, lead=lead)
    fair.state = SegmentState.RETIRED
    fair.save()

    response = login(rep).post(remove_url(lead, fair))

    assert in_segment(lead, fair)
    assert "read-only" in messages_of(response)[0]


def test_removing_a_lead_not_in_the_segment_says_so(lead, fair, rep):
    response = login(rep).post(remove_url(lead, fair))

    assert messages_of(response) == ["Ada Lovelace was not in “Berlin fair”."]


def test_a_viewer_cannot_remove(lead, fair, viewer):
    SegmentMembershipFactory(segment=fair, lead=lead)

    assert login(viewer).post(remove_url(lead, fair)).status_code == 403
    assert in_segment(lead, fair)


def test_removing_from_another_workspaces_segment_is_a_404(other_ws, lead, rep):
    theirs = SegmentFactory(workspace=other_ws)

    assert login(rep).post(remove_url(lead, theirs)).status_code == 404


def test_get_on_remove_is_a_405(lead, fair, rep):
    assert login(rep).get(remove_url(lead, fair)).status_code == 405
