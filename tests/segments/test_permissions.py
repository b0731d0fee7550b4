"""Who may use which segment endpoint (PRODUCT W2/W3), checked on the server for every one.

view_segments: every role. add_to_static_segment: sales rep and up. manage_segments and
export_leads: marketer, admin, owner. Another workspace's segment is a 404; a GET on a POST
endpoint is a 405.
"""

import pytest
from django.urls import reverse

from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP, VIEWER
from segments.models import Segment, SegmentKind
from tests.conftest import login
from tests.contacts.factories import LeadFactory, SegmentFactory, SegmentMembershipFactory
from tests.factories import MembershipFactory

EVERYONE = {OWNER, ADMIN, MARKETER, SALES_REP, VIEWER}
WORKERS = {OWNER, ADMIN, MARKETER, SALES_REP}
MANAGERS = {OWNER, ADMIN, MARKETER}

# (url name, method, kind of segment it acts on, POST data, roles allowed)
ENDPOINTS = [
    ("segment-detail", "get", "static", {}, EVERYONE),
    ("segment-detail", "get", "dynamic", {}, EVERYONE),
    ("segment-count", "get", "static", {}, EVERYONE),
    ("segment-edit", "get", "static", {}, MANAGERS),
    ("segment-edit", "post", "static", {"name": "Renamed", "description": ""}, MANAGERS),
    ("segment-duplicate", "post", "static", {}, MANAGERS),
    ("segment-state", "post", "static", {"state": "retired"}, MANAGERS),
    ("segment-freeze", "post", "dynamic", {}, MANAGERS),
    ("segment-delete", "get", "static", {}, MANAGERS),
    ("segment-delete", "post", "static", {}, MANAGERS),
    ("segment-export", "get", "static", {"format": "csv"}, MANAGERS),
    ("members-remove", "post", "static", {"lead": "member"}, WORKERS),
]
POST_ONLY = sorted(
    {name for name, method, *_ in ENDPOINTS if method == "post"}
    - {name for name, method, *_ in ENDPOINTS if method == "get"}
)
ROLES = [OWNER, ADMIN, MARKETER, SALES_REP, VIEWER]


@pytest.fixture
def segments(ws):
    static = SegmentFactory(workspace=ws, name="Static one", kind=SegmentKind.STATIC)
    member = LeadFactory(workspace=ws)
    SegmentMembershipFactory(segment=static, lead=member)
    dynamic = SegmentFactory(workspace=ws, name="Dynamic one", kind=SegmentKind.DYNAMIC)
    return {"static": static, "dynamic": dynamic, "member": member}


def request(client, name, method, segment, data, member):
    data = {key: (member.pk if value == "member" else value) for key, value in data.items()}
    path = reverse(f"segments:{name}", args=[segment.pk])
    return getattr(client, method)(path, data)


def _id(endpoint) -> str:
    return f"{endpoint[1].upper()} {endpoint[0]} ({endpoint[2]})"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_each_endpoint_answers_each_role_as_the_matrix_says(team, segments, role, endpoint):
    name, method, kind, data, allowed = endpoint

    response = request(login(team[role]), name, method, segments[kind], data, segments["member"])

    if role in allowed:
        assert response.status_code in (200, 302), response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_another_workspaces_segment_is_a_404(outsider, segments, endpoint):
    name, method, kind, data, _ = endpoint

    response = request(login(outsider), name, method, segments[kind], data, segments["member"])

    assert response.status_code == 404
    assert Segment.objects.filter(pk=segments[kind].pk).exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_a_member_of_both_workspaces_gets_a_404_for_the_other_one(ws, other_ws, owner, endpoint):
    """W1: an object of another workspace is a 404 even to someone who belongs to it too."""
    name, method, kind, data, _ = endpoint
    MembershipFactory(workspace=other_ws, user=owner.user, role_name=OWNER)
    theirs = SegmentFactory(workspace=other_ws, kind=kind)
    lead = LeadFactory(workspace=other_ws)

    response = request(login(owner), name, method, theirs, data, lead)

    assert response.status_code == 404
    assert Segment.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("name", POST_ONLY)
def test_get_on_a_post_endpoint_is_a_405(owner, segments, name):
    kind = "dynamic" if name == "segment-freeze" else "static"

    response = login(owner).get(reverse(f"segments:{name}", args=[segments[kind].pk]))

    assert response.status_code == 405


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_list(team, role):
    assert login(team[role]).get(reverse("segments:segment-list")).status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_only_managers_open_and_post_the_new_segment_form(team, role):
    client = login(team[role])
    new = reverse("segments:segment-new")

    get = client.get(new)
    post = client.post(new, {"name": f"By {role}", "kind": "static", "state": "draft"})

    expected = (200, 302) if role in MANAGERS else (403, 403)
    assert (get.status_code, post.status_code) == expected
    assert Segment.objects.filter(name=f"By {role}").exists() == (role in MANAGERS)


def test_a_viewer_cannot_remove_members(viewer, segments):
    login(viewer).post(
        reverse("segments:members-remove", args=[segments["static"].pk]),
        {"lead": segments["member"].pk},
    )

    assert segments["static"].memberships.count() == 1


def test_a_rep_cannot_delete_a_segment(rep, segments):
    login(rep).post(reverse("segments:segment-delete", args=[segments["static"].pk]))

    assert Segment.objects.filter(pk=segments["static"].pk).exists()


def test_a_rep_cannot_export_a_segment(rep, segments):
    response = login(rep).get(
        reverse("segments:segment-export", args=[segments["static"].pk]), {"format": "csv"}
    )

    assert response.status_code == 403


def test_someone_logged_out_is_sent_to_log_in(client, segments):
    response = client.get(reverse("segments:segment-detail", args=[segments["static"].pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_menu_shows_segments_to_every_role(viewer):
    content = login(viewer).get(reverse("home")).content.decode()

    assert f'href="{reverse("segments:segment-list")}"' in content
