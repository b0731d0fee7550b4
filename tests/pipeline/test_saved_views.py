"""Saved views of the leads list: personal or shared (PRODUCT L4, W3)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from leadcrm.models import AuditLog
from pipeline.models import LeadListPreference, SavedView
from tests.conftest import login

LIST_URL = reverse("pipeline:lead-list")
SAVE_URL = reverse("pipeline:saved-view-save")


def delete_url(view: SavedView) -> str:
    return reverse("pipeline:saved-view-delete", args=[view.pk])


@pytest.fixture
def alice(owner):
    return login(owner)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def saved(ws, owner, name: str, *, shared: bool = False, query: str = "status=new"):
    return SavedView.objects.create(
        workspace=ws, owner=owner.user, name=name, query=query, shared=shared
    )


# Saving --------------------------------------------------------------------------------------


def test_it_saves_a_personal_view_of_the_current_filters(ws, owner, alice):
    response = alice.post(SAVE_URL, {"name": " Hot leads ", "query": "status=new&sort=-score"})

    view = SavedView.objects.get()
    assert (view.workspace, view.owner, view.name) == (ws, owner.user, "Hot leads")
    assert view.query == "status=new&sort=-score"
    assert view.shared is False
    assert messages_of(response) == ["View “Hot leads” saved."]
    assert response["Location"] == f"{LIST_URL}?status=new&sort=-score"


def test_it_saves_a_shared_view(alice):
    response = alice.post(SAVE_URL, {"name": "Team", "query": "tier=hot", "shared": "on"})

    assert SavedView.objects.get().shared is True
    assert messages_of(response) == ["View “Team” saved and shared."]


def test_saved_view_keeps_the_members_columns(ws, owner, alice):
    LeadListPreference.objects.create(workspace=ws, user=owner.user, columns=["email", "score"])

    alice.post(SAVE_URL, {"name": "Scores", "query": ""})

    assert SavedView.objects.get().columns == ["email", "score"]


def test_saving_a_view_is_audit_logged(owner, alice):
    alice.post(SAVE_URL, {"name": "Hot leads", "query": ""})

    entry = AuditLog.objects.get(action="saved_view.create")
    assert entry.actor_id == owner.user_id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101], ids=["empty", "blank", "too long"])
def test_a_view_needs_a_short_name(alice, name):
    response = alice.post(SAVE_URL, {"name": name, "query": "status=new"})

    assert not SavedView.objects.exists()
    assert messages_of(response) == ["Give the view a name of at most 100 characters."]


def test_viewer_may_save_a_view(viewer):
    response = login(viewer).post(SAVE_URL, {"name": "Mine", "query": ""})

    assert response.status_code == 302
    assert SavedView.objects.get().owner == viewer.user


@pytest.mark.parametrize(
    "query",
    ["\x00", "<script>alert(1)</script>", "x" * 10_000, "a=%ZZ&&==", "😀=\u202e"],
    ids=["nul", "script", "long", "bad escapes", "emoji and rtl"],
)
def test_naughty_queries_never_break_saving_a_view(alice, query):
    response = alice.post(SAVE_URL, {"name": "Odd", "query": query})

    assert response.status_code == 302
    assert SavedView.objects.get().name == "Odd"


def test_saving_rejects_get(alice):
    assert alice.get(SAVE_URL).status_code == 405


# Seeing ----------------------------------------------------------------------------------------


def test_the_list_links_to_the_members_saved_views(ws, owner, alice):
    view = saved(ws, owner, "Hot leads", query="tier=hot")

    html = alice.get(LIST_URL).content.decode()

    assert f'href="{reverse("pipeline:saved-view-open", args=[view.pk])}"' in html
    assert "Hot leads" in html


def test_others_see_shared_views_but_not_personal_ones(ws, owner, rep):
    saved(ws, owner, "Alices private view")
    saved(ws, owner, "Team pipeline", shared=True)

    html = login(rep).get(LIST_URL, {"view": "all"}).content.decode()

    assert "Team pipeline" in html
    assert "Alices private view" not in html


def test_another_workspaces_shared_views_are_not_listed(ws, other_ws, outsider, alice):
    SavedView.objects.create(workspace=other_ws, owner=outsider.user, name="Globex", shared=True)

    html = alice.get(LIST_URL).content.decode()

    assert "Globex" not in html


def test_the_list_offers_my_leads_and_all_leads(alice):
    html = alice.get(LIST_URL).content.decode()

    assert f'href="{LIST_URL}?owner=me"' in html
    assert f'href="{LIST_URL}?view=all"' in html


def test_saved_view_names_are_escaped(ws, owner, alice):
    saved(ws, owner, "<b>bold</b>")

    html = alice.get(LIST_URL).content.decode()

    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


# Deleting --------------------------------------------------------------------------------------


def test_owner_of_a_view_deletes_it(ws, owner, alice):
    view = saved(ws, owner, "Hot leads")

    response = alice.post(delete_url(view))

    assert response.status_code == 302
    assert not SavedView.objects.exists()
    assert messages_of(response) == ["View “Hot leads” deleted."]


def test_others_cannot_delete_a_shared_view(ws, owner, admin):
    view = saved(ws, owner, "Team pipeline", shared=True)

    response = login(admin).post(delete_url(view))

    assert response.status_code == 403
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_others_cannot_find_a_personal_view(ws, owner, admin):
    view = saved(ws, owner, "Mine")

    response = login(admin).post(delete_url(view))

    assert response.status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_another_workspaces_view_is_not_found(ws, other_ws, owner, outsider, alice):
    view = SavedView.objects.create(
        workspace=other_ws, owner=outsider.user, name="Globex", shared=True
    )

    response = alice.post(delete_url(view))

    assert response.status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_outsider_cannot_delete_an_acme_view(ws, owner, outsider):
    view = saved(ws, owner, "Team pipeline", shared=True)

    response = login(outsider).post(delete_url(view))

    assert response.status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_own_view_saved_in_another_workspace_is_not_found_here(ws, other_ws, owner, alice):
    view = SavedView.objects.create(workspace=other_ws, owner=owner.user, name="Elsewhere")

    assert alice.post(delete_url(view)).status_code == 404


def test_viewer_may_delete_their_own_view(ws, viewer):
    view = saved(ws, viewer, "Mine")

    response = login(viewer).post(delete_url(view))

    assert response.status_code == 302
    assert not SavedView.objects.exists()


def test_deleting_rejects_get(ws, owner, alice):
    view = saved(ws, owner, "Hot leads")

    assert alice.get(delete_url(view)).status_code == 405
    assert SavedView.objects.exists()


def test_deleting_sends_anonymous_visitors_to_log_in(ws, owner, client):
    view = saved(ws, owner, "Hot leads")

    assert client.post(delete_url(view)).status_code == 302
    assert SavedView.objects.exists()


def test_opening_a_view_applies_its_filters_and_its_columns(ws, owner, alice):
    view = saved(ws, owner, "Qualified", query="status=qualified")
    view.columns = ["name", "score"]
    view.save()

    response = alice.get(reverse("pipeline:saved-view-open", args=[view.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("pipeline:lead-list") + "?status=qualified"
    preference = LeadListPreference.objects.get(workspace=ws, user=owner.user)
    assert preference.columns == ["name", "score"]


def test_someone_elses_personal_view_cannot_be_opened(ws, owner, rep, as_member):
    view = saved(ws, owner, "Mine only")

    response = as_member(rep).get(reverse("pipeline:saved-view-open", args=[view.pk]))

    assert response.status_code == 404


def test_the_chosen_page_size_is_remembered(ws, owner, alice):
    alice.get(reverse("pipeline:lead-list") + "?view=all&per_page=100")

    response = alice.get(reverse("pipeline:lead-list") + "?view=all")

    assert response.context["per_page"] == 100
