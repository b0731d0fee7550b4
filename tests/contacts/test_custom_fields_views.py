"""Settings → Custom fields (PRODUCT W5): the page, its actions, and who may use them (W3)."""

import json

import pytest
from django.urls import reverse
from django.utils.timezone import now

from contacts.models import CustomField, CustomFieldType, Lead
from leadcrm.models import AuditLog
from tests.contacts.factories import CustomFieldFactory

PAGE = reverse("custom-fields")
CREATE = reverse("custom-field-create")
HTMX = {"headers": {"HX-Request": "true"}}


def url(name: str, field: CustomField) -> str:
    return reverse(name, args=[field.pk])


def page_order(content: str, *keys: str) -> list[int]:
    return [content.index(f'data-field="{key}"') for key in keys]


@pytest.fixture
def industry(ws):
    return CustomFieldFactory(
        workspace=ws, key="industry", label="Industry", type="choice", choices=["SaaS", "Retail"]
    )


@pytest.fixture
def theirs(other_ws):
    return CustomFieldFactory(workspace=other_ws, key="region", label="Region")


# (method, url name, data) of every endpoint that takes a field
FIELD_ENDPOINTS = [
    ("get", "custom-field-edit", {}),
    ("post", "custom-field-edit", {"label": "X"}),
    ("post", "custom-field-move", {"direction": "up"}),
    ("post", "custom-field-retire", {}),
    ("post", "custom-field-restore", {}),
    ("get", "custom-field-delete", {}),
    ("post", "custom-field-delete", {"confirm_key": "industry"}),
]


# Who may use it ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "admin", "marketer"])
def test_owner_admin_and_marketer_see_the_custom_fields_page(
    persona, team, industry, as_member, request
):
    response = as_member(request.getfixturevalue(persona)).get(PAGE)

    assert response.status_code == 200
    assert 'data-field="industry"' in response.content.decode()


@pytest.mark.parametrize("persona", ["rep", "viewer"])
@pytest.mark.parametrize("method, path", [("get", PAGE), ("post", CREATE)])
def test_rep_and_viewer_get_403_on_the_page_and_create(
    persona, method, path, team, as_member, request
):
    client = as_member(request.getfixturevalue(persona))

    response = getattr(client, method)(path, {"key": "x", "label": "X", "type": "text"})

    assert response.status_code == 403
    assert not CustomField.objects.filter(key="x").exists()


@pytest.mark.parametrize("persona", ["rep", "viewer"])
@pytest.mark.parametrize("method, name, data", FIELD_ENDPOINTS)
def test_rep_and_viewer_get_403_on_every_field_endpoint(
    persona, method, name, data, team, industry, as_member, request
):
    client = as_member(request.getfixturevalue(persona))

    response = getattr(client, method)(url(name, industry), data)

    assert response.status_code == 403
    industry.refresh_from_db()
    assert (industry.label, industry.retired_at, industry.deleting) == ("Industry", None, False)


@pytest.mark.parametrize("method, name, data", FIELD_ENDPOINTS)
def test_a_field_of_another_workspace_is_404(method, name, data, owner, theirs, as_member):
    response = getattr(as_member(owner), method)(
        url(name, theirs), data | {"confirm_key": "region"}
    )

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.label, theirs.retired_at, theirs.deleting) == ("Region", None, False)


@pytest.mark.parametrize("method, name, data", FIELD_ENDPOINTS)
def test_a_field_being_deleted_is_404(method, name, data, ws, owner, as_member):
    field = CustomFieldFactory(workspace=ws, key="industry", deleting=True)

    response = getattr(as_member(owner), method)(url(name, field), data)

    assert response.status_code == 404


def test_anonymous_visitor_is_sent_to_login(client, ws):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_post_to_the_page_is_405(owner, as_member):
    assert as_member(owner).post(PAGE).status_code == 405


@pytest.mark.parametrize(
    "name", ["custom-field-move", "custom-field-retire", "custom-field-restore"]
)
def test_get_on_a_post_only_endpoint_is_405(name, owner, industry, as_member):
    assert as_member(owner).get(url(name, industry)).status_code == 405


def test_get_on_create_is_405(owner, as_member):
    assert as_member(owner).get(CREATE).status_code == 405


def test_settings_menu_offers_custom_fields_to_a_marketer(marketer, as_member):
    content = as_member(marketer).get(PAGE).content.decode()

    assert f'href="{PAGE}"' in content
    assert reverse("settings-members") not in content


def test_settings_sends_a_marketer_to_custom_fields(marketer, as_member):
    response = as_member(marketer).get(reverse("settings"))

    assert response.status_code == 302
    assert response.url == PAGE


# The page ----------------------------------------------------------------------------------


def test_page_shows_each_field_with_its_key_type_required_choices_and_state(
    owner, industry, as_member
):
    industry.required = True
    industry.save()

    content = as_member(owner).get(PAGE).content.decode()

    for text in ("Industry", '<code class="small">industry</code>', "Choice", "Required"):
        assert text in content
    assert "SaaS, Retail" in content
    assert "Active" in content


def test_page_lists_retired_fields_below_active_ones(ws, owner, as_member):
    CustomFieldFactory(workspace=ws, key="old", position=1, retired_at=now())
    CustomFieldFactory(workspace=ws, key="new", position=2)

    content = as_member(owner).get(PAGE).content.decode()

    new, old = page_order(content, "new", "old")
    assert new < old
    assert "Retired" in content


def test_page_hides_fields_being_deleted_and_other_workspaces_fields(ws, owner, theirs, as_member):
    CustomFieldFactory(workspace=ws, key="gone", deleting=True)

    content = as_member(owner).get(PAGE).content.decode()

    assert 'data-field="gone"' not in content
    assert 'data-field="region"' not in content


def test_page_with_no_fields_says_so(owner, as_member):
    assert "No custom fields yet" in as_member(owner).get(PAGE).content.decode()


def test_page_runs_a_constant_number_of_queries(
    ws, owner, as_member, django_assert_max_num_queries
):
    for n in range(20):
        CustomFieldFactory(workspace=ws, key=f"f{n}", retired_at=now() if n % 2 else None)
    client = as_member(owner)

    with django_assert_max_num_queries(8):
        client.get(PAGE)


def test_htmx_request_for_the_page_gets_only_the_field_list(owner, industry, as_member):
    response = as_member(owner).get(PAGE, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert 'id="field-list"' in content
    assert 'data-field="industry"' in content


# Create ------------------------------------------------------------------------------------


def test_creating_a_field_adds_it_and_goes_back_to_the_page(ws, owner, as_member):
    response = as_member(owner).post(
        CREATE,
        {"label": "Industry", "key": "industry", "type": "choice", "choices": "SaaS\r\nRetail\r\n"},
        follow=True,
    )

    assert response.redirect_chain == [(PAGE, 302)]
    field = CustomField.objects.get(workspace=ws)
    assert (field.key, field.type, field.choices) == ("industry", "choice", ["SaaS", "Retail"])
    assert "Field “Industry” added to every lead." in response.content.decode()
    assert AuditLog.objects.get(action="custom_field.create").actor == owner.user


def test_creating_a_required_field_stores_it_as_required(ws, owner, as_member):
    as_member(owner).post(
        CREATE, {"label": "Budget", "key": "budget", "type": "number", "required": "on"}
    )

    assert CustomField.objects.get(workspace=ws).required is True


def test_create_with_an_invalid_key_shows_the_error_and_creates_nothing(owner, as_member):
    response = as_member(owner).post(
        CREATE, {"label": "Industry", "key": "Big Industry", "type": "text"}
    )

    assert response.status_code == 400
    assert "lowercase letters, digits and underscores" in response.content.decode()
    assert "<html" in response.content.decode()
    assert not CustomField.objects.exists()


def test_create_with_a_taken_key_names_the_field_that_has_it(owner, industry, as_member):
    response = as_member(owner).post(CREATE, {"label": "Sector", "key": "industry", "type": "text"})

    assert response.status_code == 400
    assert "The field “Industry” already has the key “industry”." in response.content.decode()
    assert CustomField.objects.count() == 1


def test_create_of_a_choice_field_without_choices_is_refused(owner, as_member):
    response = as_member(owner).post(CREATE, {"label": "Tier", "key": "tier", "type": "choice"})

    assert response.status_code == 400
    assert "A choice field needs at least one choice." in response.content.decode()
    assert not CustomField.objects.exists()


def test_create_with_an_unknown_type_is_refused(owner, as_member):
    response = as_member(owner).post(CREATE, {"label": "X", "key": "x", "type": "colour"})

    assert response.status_code == 400
    assert not CustomField.objects.exists()


# Edit --------------------------------------------------------------------------------------


def test_edit_page_shows_key_and_type_without_inputs_for_them(owner, industry, as_member):
    response = as_member(owner).get(url("custom-field-edit", industry))

    content = response.content.decode()
    assert response.status_code == 200
    assert "<code>industry</code>" in content
    assert 'name="key"' not in content
    assert 'name="type"' not in content
    assert "SaaS\nRetail" in content


def test_edit_page_of_a_text_field_has_no_choices(ws, owner, as_member):
    field = CustomFieldFactory(workspace=ws, type=CustomFieldType.TEXT)

    content = as_member(owner).get(url("custom-field-edit", field)).content.decode()

    assert 'name="choices"' not in content


def test_editing_saves_label_choices_and_required(owner, industry, as_member):
    response = as_member(owner).post(
        url("custom-field-edit", industry),
        {"label": "Sector", "choices": "SaaS\nRetail\nEnergy", "required": "on"},
    )

    assert response.status_code == 302
    assert response.url == PAGE
    industry.refresh_from_db()
    assert (industry.label, industry.choices, industry.required) == (
        "Sector",
        ["SaaS", "Retail", "Energy"],
        True,
    )


def test_edit_ignores_an_attempt_to_change_the_key_or_type(owner, industry, as_member):
    as_member(owner).post(
        url("custom-field-edit", industry),
        {"label": "Industry", "choices": "SaaS\nRetail", "key": "sector", "type": "text"},
    )

    industry.refresh_from_db()
    assert (industry.key, industry.type) == ("industry", "choice")


def test_removing_a_choice_in_use_is_refused_with_the_count(ws, owner, industry, as_member):
    Lead.objects.create(workspace=ws, email="a@x.test", attributes={"industry": "Retail"})

    response = as_member(owner).post(
        url("custom-field-edit", industry), {"label": "Industry", "choices": "SaaS"}
    )

    assert response.status_code == 400
    assert "“Retail” cannot be removed: 1 lead uses it." in response.content.decode()
    industry.refresh_from_db()
    assert industry.choices == ["SaaS", "Retail"]


def test_edit_with_an_empty_label_is_refused(owner, industry, as_member):
    response = as_member(owner).post(
        url("custom-field-edit", industry), {"label": "", "choices": "SaaS\nRetail"}
    )

    assert response.status_code == 400
    industry.refresh_from_db()
    assert industry.label == "Industry"


# Move, retire, restore ---------------------------------------------------------------------


@pytest.fixture
def ab(ws):
    return [CustomFieldFactory(workspace=ws, key=k, position=i) for i, k in enumerate("ab", 1)]


def test_moving_a_field_up_reorders_the_page(owner, ab, as_member):
    client = as_member(owner)

    response = client.post(url("custom-field-move", ab[1]), {"direction": "up"})

    assert response.status_code == 302
    b, a = page_order(client.get(PAGE).content.decode(), "b", "a")
    assert b < a


def test_moving_by_htmx_returns_the_reordered_list_only(owner, ab, as_member):
    response = as_member(owner).post(url("custom-field-move", ab[0]), {"direction": "down"}, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    b, a = page_order(content, "b", "a")
    assert b < a


@pytest.mark.parametrize("direction", ["", "left"])
def test_moving_without_a_direction_is_400(direction, owner, ab, as_member):
    response = as_member(owner).post(url("custom-field-move", ab[1]), {"direction": direction})

    assert response.status_code == 400
    assert CustomField.objects.get(key="b").position == 2


def test_retiring_a_field_keeps_its_values_and_says_so(ws, owner, industry, as_member):
    Lead.objects.create(workspace=ws, email="a@x.test", attributes={"industry": "SaaS"})

    response = as_member(owner).post(url("custom-field-retire", industry), follow=True)

    assert "Field “Industry” retired; its values are kept." in response.content.decode()
    industry.refresh_from_db()
    assert industry.is_retired
    assert Lead.objects.get().attributes == {"industry": "SaaS"}


def test_retiring_by_htmx_returns_the_list_with_the_field_retired(owner, industry, as_member):
    response = as_member(owner).post(url("custom-field-retire", industry), **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert "Retired" in content
    [message] = json.loads(response["HX-Trigger"])["messages"]
    assert message["text"] == "Field “Industry” retired; its values are kept."


def test_restoring_a_field_makes_it_active_again(owner, industry, as_member):
    industry.retired_at = now()
    industry.save()

    response = as_member(owner).post(url("custom-field-restore", industry), follow=True)

    assert "Field “Industry” restored" in response.content.decode()
    industry.refresh_from_db()
    assert industry.retired_at is None


def test_restoring_by_htmx_returns_the_list_only(owner, industry, as_member):
    industry.retired_at = now()
    industry.save()

    response = as_member(owner).post(url("custom-field-restore", industry), **HTMX)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()


# Delete ------------------------------------------------------------------------------------


def test_delete_page_asks_for_the_key_and_explains_the_background_removal(
    owner, industry, as_member
):
    response = as_member(owner).get(url("custom-field-delete", industry))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'name="confirm_key"' in content
    assert "in the background" in content
    assert "retire it instead" in content


@pytest.mark.parametrize("typed", ["", "Industry", "industr"])
def test_delete_without_the_exact_key_is_refused(typed, owner, industry, as_member):
    response = as_member(owner).post(url("custom-field-delete", industry), {"confirm_key": typed})

    assert response.status_code == 400
    industry.refresh_from_db()
    assert not industry.deleting


def test_delete_with_the_key_typed_removes_the_field_and_its_values(
    ws, owner, industry, as_member, django_capture_on_commit_callbacks
):
    lead = Lead.objects.create(
        workspace=ws, email="a@x.test", attributes={"industry": "SaaS", "vip": True}
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = as_member(owner).post(
            url("custom-field-delete", industry), {"confirm_key": "industry"}
        )

    assert response.status_code == 302
    assert response.url == PAGE
    assert not CustomField.objects.filter(pk=industry.pk).exists()
    lead.refresh_from_db()
    assert lead.attributes == {"vip": True}


def test_delete_says_the_values_go_in_the_background(
    owner, industry, as_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = as_member(owner).post(
            url("custom-field-delete", industry), {"confirm_key": "industry"}, follow=True
        )

    content = response.content.decode()
    assert "Field “Industry” deleted." in content
    assert "in the background" in content
    assert 'data-field="industry"' not in content
