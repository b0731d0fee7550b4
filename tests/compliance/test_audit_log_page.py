"""Settings → Audit log (PRODUCT C7): owners and admins browse and filter the workspace's log."""

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from compliance.audit_filters import ACTION_LABELS
from leadcrm.models import AuditLog
from leadcrm.pagination import BoundedPaginator
from leadcrm.roles import MARKETER, SALES_REP, VIEWER
from tests.contacts.factories import LeadFactory
from tests.factories import UserFactory

AUDIT = reverse("audit-log")
HTMX = {"headers": {"HX-Request": "true"}}
NOW = timezone.now()


def entry(ws, action="lead.update", *, actor=None, obj=None, at=None, **fields) -> AuditLog:
    """An entry as audit_record() writes it, at a chosen time."""
    if obj is not None:
        fields.setdefault("object_type", obj._meta.label_lower)
        fields.setdefault("object_id", str(obj.pk))
        fields.setdefault("object_repr", str(obj))
    return AuditLog.objects.create(
        workspace=ws,
        actor=actor,
        actor_label=actor.email if actor else fields.pop("actor_label", ""),
        action=action,
        created_at=at or timezone.now(),
        **fields,
    )


def shown(response) -> list[int]:
    return [row.entry.pk for row in response.context["rows"]]


def at(day: str, clock: str = "12:00") -> datetime:
    return timezone.make_aware(datetime.fromisoformat(f"{day}T{clock}"))


# Access ---------------------------------------------------------------------------------------


def test_owner_sees_the_workspace_entries_newest_first(owner, ws, as_member):
    older = entry(ws, "lead.create", actor=owner.user, at=NOW - timedelta(hours=2))
    newer = entry(ws, "lead.update", actor=owner.user, at=NOW - timedelta(hours=1))

    response = as_member(owner).get(AUDIT)

    assert response.status_code == 200
    assert shown(response) == [newer.pk, older.pk]
    content = response.content.decode()
    assert "Lead updated" in content and "Lead created" in content


def test_admin_sees_the_audit_log(admin, ws, as_member):
    made = entry(ws, "segment.create", actor=admin.user)

    response = as_member(admin).get(AUDIT)

    assert response.status_code == 200
    assert shown(response) == [made.pk]


@pytest.mark.parametrize("role", [SALES_REP, MARKETER, VIEWER])
def test_other_roles_cannot_see_the_audit_log(team, ws, as_member, role):
    entry(ws, "lead.create")

    assert as_member(team[role]).get(AUDIT).status_code == 403


def test_the_settings_menu_lists_the_audit_log_for_an_owner(owner, as_member):
    content = as_member(owner).get(reverse("settings-general")).content.decode()

    assert f'href="{AUDIT}"><i class="bi bi-journal-text' in content


def test_a_visitor_is_sent_to_log_in(client):
    response = client.get(AUDIT)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_audit_log_rejects_a_post(owner, as_member):
    assert as_member(owner).post(AUDIT).status_code == 405


def test_another_workspaces_entries_never_appear(owner, ws, other_ws, outsider, as_member):
    ours = entry(ws, "lead.create", actor=owner.user)
    theirs = entry(other_ws, "lead.create", actor=outsider.user, object_repr="globex-secret")
    entry(None, "workspace.delete", object_repr="installation-level")

    response = as_member(owner).get(AUDIT)

    assert shown(response) == [ours.pk]
    assert "globex-secret" not in response.content.decode()
    assert "installation-level" not in response.content.decode()
    assert shown(as_member(outsider).get(AUDIT)) == [theirs.pk]


def test_filtering_by_an_outsiders_id_shows_nothing_of_theirs(
    owner, ws, other_ws, outsider, as_member
):
    lead = LeadFactory(workspace=other_ws)
    entry(other_ws, "lead.update", actor=outsider.user, obj=lead)

    response = as_member(owner).get(AUDIT, {"object_type": "contacts.lead", "object_id": lead.pk})

    assert shown(response) == []
    assert "No entries match these filters." in response.content.decode()


def test_htmx_gets_the_results_fragment_only(owner, ws, as_member):
    entry(ws, "lead.create", actor=owner.user)

    response = as_member(owner).get(AUDIT, {"action": "lead.create"}, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert 'id="audit-results"' in content
    assert 'id="audit-filters"' not in content
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_the_filter_form_works_without_javascript_and_pushes_its_url(owner, as_member):
    content = as_member(owner).get(AUDIT).content.decode()

    form = re.search(r'<form method="get" action="/settings/audit/"[^>]*>', content).group(0)
    assert 'hx-push-url="true"' in form
    assert 'hx-target="#audit-results"' in form
    assert '<button type="submit"' in content


def test_an_empty_log_says_so(owner, as_member):
    assert "Nothing has been recorded" in as_member(owner).get(AUDIT).content.decode()


# Filters --------------------------------------------------------------------------------------


def test_it_filters_by_a_member(owner, admin, ws, as_member):
    mine = entry(ws, actor=owner.user)
    entry(ws, actor=admin.user)
    entry(ws)

    response = as_member(owner).get(AUDIT, {"actor": owner.user_id})

    assert shown(response) == [mine.pk]


def test_the_actor_filter_offers_system_and_every_member(owner, admin, as_member):
    form = as_member(owner).get(AUDIT).context["filterset"].form

    choices = dict(form.fields["actor"].choices)
    assert choices["system"] == "System"
    assert str(owner.user_id) in choices and str(admin.user_id) in choices


def test_it_filters_by_the_system(owner, ws, as_member):
    task = entry(ws, "lead.purge", object_repr="3 leads older than 30 days in the trash")
    entry(ws, actor=owner.user)
    entry(ws, actor_label="gone@acme.test")  # a deleted user: not the system

    response = as_member(owner).get(AUDIT, {"actor": "system"})

    assert shown(response) == [task.pk]
    assert "System" in response.content.decode()


def test_a_deleted_users_entries_still_name_them(owner, ws, as_member):
    entry(ws, actor_label="gone@acme.test")

    content = as_member(owner).get(AUDIT).content.decode()

    assert "gone@acme.test" in content
    assert "former user" in content


def test_it_filters_by_action(owner, ws, as_member):
    consent = entry(ws, "lead.consent", actor=owner.user)
    entry(ws, "lead.update", actor=owner.user)

    response = as_member(owner).get(AUDIT, {"action": "lead.consent"})

    assert shown(response) == [consent.pk]


def test_the_action_filter_offers_actions_grouped(owner, as_member):
    content = as_member(owner).get(AUDIT).content.decode()

    for group in ("Leads", "Consent", "Imports", "Segments", "Sequences", "Members", "Settings"):
        assert f'<optgroup label="{group}">' in content
    assert '<option value="lead.create">Lead created</option>' in content
    assert 'value="workspace.delete"' not in content  # never in a workspace's own log


ACTION_EITHER = r'action="([a-z_]+\.[a-z_]+)" if [^"\n]+ else "([a-z_]+\.[a-z_]+)"'


def test_the_action_filter_offers_exactly_the_actions_the_code_writes():
    root = Path(settings.BASE_DIR)
    written = set()
    for app in ("contacts", "segments", "pipeline", "compliance", "leadcrm"):
        for path in (root / app).rglob("*.py"):
            text = path.read_text()
            if "audit_record" not in text and "_ACTION =" not in text:
                continue
            written.update(re.findall(r'action="([a-z_]+\.[a-z_]+)"', text))
            for pair in re.findall(ACTION_EITHER, text):  # action="a" if … else "b"
                written.update(pair)
            written.update(re.findall(r'_ACTION = "([a-z_]+\.[a-z_]+)"', text))

    assert written - set(ACTION_LABELS) == set(), "give these actions a label and a group"
    assert set(ACTION_LABELS) - written == set(), "no code writes these actions any more"


def test_it_filters_by_object_type_and_id(owner, ws, as_member):
    lead = LeadFactory(workspace=ws)
    other = LeadFactory(workspace=ws)
    about = entry(ws, "lead.update", actor=owner.user, obj=lead)
    entry(ws, "lead.update", actor=owner.user, obj=other)
    entry(
        ws,
        "segment.create",
        actor=owner.user,
        object_type="segments.segment",
        object_id=str(lead.pk),
    )

    response = as_member(owner).get(AUDIT, {"object_type": "contacts.lead", "object_id": lead.pk})

    assert shown(response) == [about.pk]


def test_it_filters_by_object_type_alone(owner, ws, as_member):
    lead = LeadFactory(workspace=ws)
    about = entry(ws, "lead.update", actor=owner.user, obj=lead)
    entry(ws, "segment.create", actor=owner.user, object_type="segments.segment", object_id="1")

    response = as_member(owner).get(AUDIT, {"object_type": "contacts.lead"})

    assert shown(response) == [about.pk]


def test_it_filters_by_date_range_whole_days(owner, ws, as_member):
    entry(ws, at=at("2024-03-09", "23:59"))
    first = entry(ws, at=at("2024-03-10", "00:00"))
    last = entry(ws, at=at("2024-03-12", "23:59:59"))
    entry(ws, at=at("2024-03-13", "00:00"))

    response = as_member(owner).get(AUDIT, {"date_from": "2024-03-10", "date_to": "2024-03-12"})

    assert shown(response) == [last.pk, first.pk]


def test_it_filters_from_a_date_only(owner, ws, as_member):
    entry(ws, at=at("2024-03-09"))
    later = entry(ws, at=at("2024-03-10"))

    assert shown(as_member(owner).get(AUDIT, {"date_from": "2024-03-10"})) == [later.pk]


def test_it_filters_to_a_date_only(owner, ws, as_member):
    earlier = entry(ws, at=at("2024-03-09"))
    entry(ws, at=at("2024-03-10"))

    assert shown(as_member(owner).get(AUDIT, {"date_to": "2024-03-09"})) == [earlier.pk]


def test_it_combines_filters(owner, admin, ws, as_member):
    lead = LeadFactory(workspace=ws)
    wanted = entry(ws, "lead.update", actor=owner.user, obj=lead, at=at("2024-05-02"))
    entry(ws, "lead.update", actor=admin.user, obj=lead, at=at("2024-05-02"))  # someone else
    entry(ws, "lead.consent", actor=owner.user, obj=lead, at=at("2024-05-02"))  # another action
    entry(ws, "lead.update", actor=owner.user, obj=lead, at=at("2024-04-02"))  # before
    entry(ws, "lead.update", actor=owner.user, at=at("2024-05-02"))  # another object

    response = as_member(owner).get(
        AUDIT,
        {
            "actor": owner.user_id,
            "action": "lead.update",
            "object_type": "contacts.lead",
            "object_id": lead.pk,
            "date_from": "2024-05-01",
            "date_to": "2024-05-31",
        },
    )

    assert shown(response) == [wanted.pk]


def test_the_filters_survive_in_the_pager_links(owner, ws, as_member):
    for n in range(51):
        entry(ws, "lead.create", at=NOW - timedelta(minutes=n))

    content = as_member(owner).get(AUDIT, {"action": "lead.create"}).content.decode()

    assert "?action=lead.create&amp;page=2" in content


# Malformed input: a clear message, the rest still applies, never a 500 ------------------------


@pytest.mark.parametrize(
    "params, message",
    [
        ({"date_from": "2024-13-45"}, "From: Enter a valid date."),
        ({"date_to": "yesterday"}, "To: Enter a valid date."),
        ({"date_from": "0001-01-01"}, "From: Choose a date from 2000 on."),
        ({"date_to": "9999-12-31"}, "To: Choose a date before the year 9999 ends."),
        (
            {"date_from": "2024-05-02", "date_to": "2024-05-01"},
            "To: The end date is before the start date.",
        ),
        (
            {"object_type": "contacts.lead", "object_id": "abc"},
            "Object id: The object id must be a whole number, like 42.",
        ),
        (
            {"object_type": "contacts.lead", "object_id": "99999999999999999999999"},
            "Object id: The object id must be a whole number, like 42.",
        ),
        ({"object_id": "42"}, "Object id: Choose the object&#x27;s type to look up an id."),
        ({"action": "lead.explode"}, "Action: Select a valid choice."),
        ({"actor": "nobody"}, "Who: Select a valid choice."),
        ({"object_type": "auth.user"}, "Object: Select a valid choice."),
    ],
)
def test_a_filter_that_cannot_be_read_is_named_and_ignored(owner, ws, as_member, params, message):
    made = entry(ws, "lead.create", actor=owner.user, obj=LeadFactory(workspace=ws))

    response = as_member(owner).get(AUDIT, params)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert shown(response) == [made.pk]


def test_a_bad_filter_does_not_drop_the_good_ones(owner, ws, as_member):
    wanted = entry(ws, "lead.consent", actor=owner.user)
    entry(ws, "lead.update", actor=owner.user)

    response = as_member(owner).get(AUDIT, {"action": "lead.consent", "date_from": "nope"})

    assert shown(response) == [wanted.pk]
    assert "From: Enter a valid date." in response.content.decode()


def test_a_member_from_another_workspace_is_not_an_actor_choice(owner, ws, outsider, as_member):
    entry(ws, actor=outsider.user)  # cannot happen, but the filter must not offer them

    response = as_member(owner).get(AUDIT, {"actor": outsider.user_id})

    assert "Who: Select a valid choice." in response.content.decode()


@pytest.mark.parametrize("page", ["abc", "0", "-3", "99999999999999999999999999", ""])
def test_a_page_number_that_cannot_be_read_still_shows_a_page(owner, ws, as_member, page):
    entry(ws, "lead.create")

    response = as_member(owner).get(AUDIT, {"page": page})

    assert response.status_code == 200


# Rows -----------------------------------------------------------------------------------------


def test_a_live_lead_is_linked(owner, ws, as_member):
    lead = LeadFactory(workspace=ws, first_name="Ann", last_name="Lee")
    entry(ws, "lead.update", actor=owner.user, obj=lead)

    content = as_member(owner).get(AUDIT).content.decode()

    assert f'href="{reverse("pipeline:lead-detail", args=[lead.pk])}"' in content


def test_a_lead_no_longer_there_is_not_linked(owner, ws, as_member):
    lead = LeadFactory(workspace=ws)
    pk, url = lead.pk, reverse("pipeline:lead-detail", args=[lead.pk])
    entry(ws, "lead.erase", actor=owner.user, obj=lead, object_repr=f"Erased lead #{pk}")
    lead.delete()

    content = as_member(owner).get(AUDIT).content.decode()

    assert f"Erased lead #{pk}" in content
    assert f'href="{url}"' not in content


def test_a_lead_in_the_trash_is_marked_not_linked(owner, ws, as_member):
    lead = LeadFactory(workspace=ws, deleted_at=timezone.now())
    entry(ws, "lead.delete", actor=owner.user, obj=lead)

    content = as_member(owner).get(AUDIT).content.decode()

    assert "in the trash" in content
    assert f'href="{reverse("pipeline:lead-detail", args=[lead.pk])}"' not in content


def test_another_workspaces_lead_with_the_same_id_is_not_linked(owner, ws, other_ws, as_member):
    theirs = LeadFactory(workspace=other_ws)
    entry(ws, "lead.erase", object_type="contacts.lead", object_id=str(theirs.pk))

    content = as_member(owner).get(AUDIT).content.decode()

    assert f'href="{reverse("pipeline:lead-detail", args=[theirs.pk])}"' not in content


def test_an_entry_links_to_the_history_of_its_object(owner, ws, as_member):
    lead = LeadFactory(workspace=ws)
    entry(ws, "lead.update", obj=lead)

    content = as_member(owner).get(AUDIT).content.decode()

    assert f'href="?object_type=contacts.lead&amp;object_id={lead.pk}"' in content


def test_changes_show_as_old_to_new(owner, ws, as_member):
    entry(ws, "lead.update", changes={"first_name": ["Ann", "Anna"], "phone": [None, "+4420"]})

    rows = as_member(owner).get(AUDIT).context["rows"]

    assert rows[0].changes == [("first name", "Ann → Anna"), ("phone", "— → +4420")]


def test_long_values_are_cut_and_json_is_compact(owner, ws, as_member):
    entry(
        ws,
        "segment.rules",
        changes={
            "description": ["x" * 300, "short"],
            "rules": [None, {"match": "all", "children": [{"field": "status"}]}],
            "tags": [["a", "b"], ["a"]],
        },
    )

    changes = dict(as_member(owner).get(AUDIT).context["rows"][0].changes)

    assert changes["description"].startswith("x" * 79 + "… →")
    assert changes["rules"] == '— → {"match":"all","children":[{"field":"status"}]}'
    assert changes["tags"] == '["a","b"] → ["a"]'


def test_a_bulk_entry_shows_its_counts(owner, ws, as_member):
    entry(
        ws,
        "lead.bulk_update",
        actor=owner.user,
        object_repr="3 leads",
        changes={"status": "qualified", "count": 3, "skipped": {}, "lead_ids": [4, 5]},
    )

    response = as_member(owner).get(AUDIT)

    assert response.context["rows"][0].changes == [
        ("count", "3"),
        ("status", "qualified"),
        ("lead ids", "4, 5"),
    ]
    content = response.content.decode()
    assert "Leads updated in bulk" in content and "3 leads" in content


def test_an_unknown_action_still_reads(owner, ws, as_member):
    entry(ws, "widget.spin_up")

    assert "Widget spin up" in as_member(owner).get(AUDIT).content.decode()


def test_personal_data_in_values_is_escaped(owner, ws, as_member):
    entry(ws, "lead.update", changes={"first_name": ["<script>x</script>", "Ann"]})

    content = as_member(owner).get(AUDIT).content.decode()

    assert "<script>x</script>" not in content
    assert "&lt;script&gt;" in content


# Scale ----------------------------------------------------------------------------------------


def test_a_page_of_50_mixed_entries_runs_a_bounded_number_of_queries(
    owner, admin, ws, as_member, django_assert_max_num_queries
):
    users = [owner.user, admin.user, *(UserFactory() for _ in range(3)), None]
    for n in range(60):
        kind = n % 4
        if kind == 0:
            lead = LeadFactory(workspace=ws, deleted_at=timezone.now() if n % 8 == 0 else None)
            entry(ws, "lead.update", actor=users[n % 6], obj=lead, changes={"x": [1, 2]})
        elif kind == 1:
            entry(ws, "lead.erase", object_type="contacts.lead", object_id=str(10_000 + n))
        elif kind == 2:
            entry(
                ws,
                "segment.create",
                actor=users[n % 6],
                object_type="segments.segment",
                object_id="7",
            )
        else:
            entry(ws, "lead.bulk_update", actor=users[n % 6], changes={"count": n, "lead_ids": [1]})
    client = as_member(owner)
    client.get(AUDIT)  # session and the like warmed up

    # session, user, memberships, role, members (Who), bounded count, entries, their leads
    with django_assert_max_num_queries(8):
        response = client.get(AUDIT)

    assert len(response.context["rows"]) == 50


def test_it_pages_by_50(owner, ws, as_member):
    made = [entry(ws, at=NOW - timedelta(minutes=n)) for n in range(120)]
    client = as_member(owner)

    third = client.get(AUDIT, {"page": 3})

    assert shown(third) == [e.pk for e in made[100:]]
    assert "101–120 of 120" in third.content.decode()


def test_entries_made_at_the_same_moment_never_repeat_across_pages(owner, ws, as_member):
    for _ in range(60):
        entry(ws, at=NOW)
    client = as_member(owner)

    pages = shown(client.get(AUDIT)) + shown(client.get(AUDIT, {"page": 2}))

    assert len(pages) == len(set(pages)) == 60


def test_deep_pages_past_the_count_bound_still_work(owner, ws, as_member, monkeypatch):
    monkeypatch.setattr(BoundedPaginator, "bound", 30)
    made = [entry(ws, at=NOW - timedelta(minutes=n)) for n in range(130)]
    client = as_member(owner)

    response = client.get(AUDIT, {"page": 3})

    assert shown(response) == [e.pk for e in made[100:]]
    content = response.content.decode()
    assert "of 30+" in content
    assert "page=2" in content  # previous
    assert "page=4" not in content  # a short page: no next


def test_a_page_beyond_the_end_past_the_bound_is_empty_not_an_error(
    owner, ws, as_member, monkeypatch
):
    monkeypatch.setattr(BoundedPaginator, "bound", 30)
    for n in range(40):
        entry(ws, at=NOW - timedelta(minutes=n))

    response = as_member(owner).get(AUDIT, {"page": 500})

    assert response.status_code == 200
    assert shown(response) == []
