"""Custom fields (PRODUCT W5): the services, attributes_clean() and the purge task."""

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils.timezone import now
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts import tasks
from contacts.custom_fields import (
    attributes_clean,
    custom_field_create,
    custom_field_delete,
    custom_field_move,
    custom_field_restore,
    custom_field_retire,
    custom_field_update,
    leads_with_attribute_value,
)
from contacts.models import CustomField, CustomFieldType, Lead
from contacts.tasks import custom_field_purge
from leadcrm.models import AuditLog
from tests.contacts.factories import CustomFieldFactory

T = CustomFieldType


def create(ws, actor=None, **kwargs) -> CustomField:
    kwargs = {"key": "industry", "label": "Industry", "type": T.TEXT} | kwargs
    return custom_field_create(workspace=ws, actor=actor, **kwargs)


def lead(ws, email="jane@prospect.test", **attributes) -> Lead:
    return Lead.objects.create(workspace=ws, email=email, attributes=attributes)


def errors_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


def audit(action: str) -> AuditLog:
    return AuditLog.objects.get(action=action)


@pytest.fixture
def industry(ws):
    return CustomFieldFactory(
        workspace=ws, key="industry", label="Industry", type=T.CHOICE, choices=["SaaS", "Retail"]
    )


# Create ------------------------------------------------------------------------------------


def test_created_field_has_the_given_definition(ws, owner):
    field = create(ws, owner.user, key="vip", label=" VIP ", type=T.BOOLEAN, required=True)

    field.refresh_from_db()
    assert (field.key, field.label, field.type, field.required) == ("vip", "VIP", T.BOOLEAN, True)
    assert field.choices == []
    assert field.retired_at is None and not field.deleting


def test_created_field_goes_after_the_last_one(ws):
    CustomFieldFactory(workspace=ws, position=7)

    assert create(ws).position == 8


def test_first_field_of_a_workspace_gets_position_one(ws):
    assert create(ws).position == 1


@pytest.mark.parametrize(
    "key", ["Industry", "1st_contact", "_private", "annual-budget", "two words", "é", "", "a" * 51]
)
def test_create_refuses_a_key_that_is_not_a_lowercase_slug(ws, key):
    with pytest.raises(ValidationError) as excinfo:
        create(ws, key=key)

    assert "lowercase letters, digits and underscores" in errors_of(excinfo)["key"][0]
    assert not CustomField.objects.exists()


@pytest.mark.parametrize("key", ["a", "annual_budget_2", "a" * 50])
def test_create_accepts_a_slug_key_of_one_to_fifty_characters(ws, key):
    assert create(ws, key=key).key == key


def test_create_refuses_a_key_already_used_in_the_workspace(ws):
    create(ws, label="Sector")

    with pytest.raises(ValidationError) as excinfo:
        create(ws)

    assert errors_of(excinfo)["key"] == ["The field “Sector” already has the key “industry”."]


def test_create_refuses_the_key_of_a_retired_field_and_says_so(ws):
    CustomFieldFactory(workspace=ws, key="industry", label="Sector", retired_at=now())

    with pytest.raises(ValidationError) as excinfo:
        create(ws)

    assert "retired" in errors_of(excinfo)["key"][0]


def test_create_refuses_the_key_of_a_field_being_deleted_and_says_so(ws):
    CustomFieldFactory(workspace=ws, key="industry", deleting=True)

    with pytest.raises(ValidationError) as excinfo:
        create(ws)

    message = errors_of(excinfo)["key"][0]
    assert "being deleted" in message
    assert "reserved" in message


def test_the_same_key_may_exist_in_another_workspace(ws, other_ws):
    CustomFieldFactory(workspace=other_ws, key="industry")

    assert create(ws).workspace == ws


def test_create_refuses_an_empty_label(ws):
    with pytest.raises(ValidationError) as excinfo:
        create(ws, label="   ")

    assert errors_of(excinfo)["label"] == ["Give the field a label."]


def test_create_refuses_an_unknown_type(ws):
    with pytest.raises(ValidationError) as excinfo:
        create(ws, type="colour")

    assert "type" in errors_of(excinfo)


def test_create_reports_every_problem_at_once(ws):
    with pytest.raises(ValidationError) as excinfo:
        create(ws, key="Bad Key", label="", type=T.CHOICE, choices=[])

    assert set(errors_of(excinfo)) == {"key", "label", "choices"}


def test_choice_field_needs_at_least_one_non_empty_choice(ws):
    with pytest.raises(ValidationError) as excinfo:
        create(ws, type=T.CHOICE, choices=["", "  "])

    assert errors_of(excinfo)["choices"] == ["A choice field needs at least one choice."]


def test_choice_field_refuses_a_choice_listed_twice_in_any_case(ws):
    with pytest.raises(ValidationError) as excinfo:
        create(ws, type=T.CHOICE, choices=["SaaS", "saas"])

    assert "“saas” is listed twice" in errors_of(excinfo)["choices"][0]


def test_choice_field_keeps_its_choices_stripped_in_order_without_blanks(ws):
    field = create(ws, type=T.CHOICE, choices=[" SaaS ", "", "Retail"])

    assert field.choices == ["SaaS", "Retail"]


def test_choices_are_dropped_for_a_field_that_is_not_a_choice(ws):
    assert create(ws, type=T.TEXT, choices=["SaaS"]).choices == []


def test_create_writes_an_audit_entry(ws, owner):
    field = create(ws, owner.user, type=T.CHOICE, choices=["SaaS"])

    entry = audit("custom_field.create")
    assert entry.workspace == ws
    assert entry.actor == owner.user
    assert entry.object_id == str(field.pk)
    assert entry.changes["key"] == [None, "industry"]
    assert entry.changes["choices"] == [None, ["SaaS"]]


# Update ------------------------------------------------------------------------------------


def update(field, **kwargs) -> CustomField:
    kwargs = {"label": field.label, "choices": field.choices, "required": field.required} | kwargs
    return custom_field_update(field=field, actor=None, **kwargs)


def test_update_changes_label_choices_and_required(industry):
    update(industry, label="Sector", choices=["SaaS", "Retail", "Energy"], required=True)

    industry.refresh_from_db()
    assert industry.label == "Sector"
    assert industry.choices == ["SaaS", "Retail", "Energy"]
    assert industry.required is True


def test_update_has_no_way_to_change_the_key_or_the_type(industry):
    with pytest.raises(TypeError):
        update(industry, key="sector")
    with pytest.raises(TypeError):
        update(industry, type=T.TEXT)


def test_update_refuses_to_remove_a_choice_that_leads_use_and_counts_them(ws, industry):
    lead(ws, "a@x.test", industry="Retail")
    lead(ws, "b@x.test", industry="Retail")
    lead(ws, "c@x.test", industry="SaaS")

    with pytest.raises(ValidationError) as excinfo:
        update(industry, choices=["SaaS"])

    assert errors_of(excinfo)["choices"] == ["“Retail” cannot be removed: 2 leads use it."]
    industry.refresh_from_db()
    assert industry.choices == ["SaaS", "Retail"]


def test_update_removes_a_choice_no_live_lead_uses(ws, other_ws, industry):
    lead(ws, industry="SaaS")
    Lead.objects.create(
        workspace=ws, email="gone@x.test", attributes={"industry": "Retail"}, deleted_at=now()
    )
    lead(other_ws, industry="Retail")

    update(industry, choices=["SaaS"])

    industry.refresh_from_db()
    assert industry.choices == ["SaaS"]


def test_update_refuses_an_empty_choice_list(industry):
    with pytest.raises(ValidationError) as excinfo:
        update(industry, choices=[])

    assert "at least one choice" in errors_of(excinfo)["choices"][0]


def test_making_a_field_required_is_allowed_while_leads_lack_a_value(ws):
    field = CustomFieldFactory(workspace=ws, key="budget", type=T.NUMBER)
    lead(ws)

    update(field, required=True)

    field.refresh_from_db()
    assert field.required is True


def test_update_writes_an_audit_entry_with_old_and_new_values(industry):
    update(industry, label="Sector", required=True)

    assert audit("custom_field.update").changes == {
        "label": ["Industry", "Sector"],
        "required": [False, True],
    }


def test_update_that_changes_nothing_writes_no_audit_entry(industry):
    update(industry)

    assert not AuditLog.objects.filter(action="custom_field.update").exists()


def test_update_refuses_a_field_being_deleted(ws):
    field = CustomFieldFactory(workspace=ws, deleting=True)

    with pytest.raises(ValidationError):
        update(field, label="New")


# Retire, restore ---------------------------------------------------------------------------


def test_retiring_a_field_hides_it_from_active_fields_and_keeps_values(ws, industry):
    kept = lead(ws, industry="SaaS")

    custom_field_retire(field=industry, actor=None)

    assert industry.is_retired
    assert list(CustomField.objects.for_workspace(ws).active()) == []
    kept.refresh_from_db()
    assert kept.attributes == {"industry": "SaaS"}


def test_restoring_a_retired_field_makes_it_active_again(ws, industry):
    custom_field_retire(field=industry, actor=None)

    custom_field_restore(field=industry, actor=None)

    industry.refresh_from_db()
    assert industry.retired_at is None
    assert list(CustomField.objects.for_workspace(ws).active()) == [industry]


def test_retire_and_restore_write_audit_entries(industry, owner):
    custom_field_retire(field=industry, actor=owner.user)
    custom_field_restore(field=industry, actor=owner.user)

    assert audit("custom_field.retire").changes["retired_at"][0] is None
    assert audit("custom_field.restore").changes["retired_at"][1] is None


def test_retiring_a_retired_field_changes_nothing(industry):
    custom_field_retire(field=industry, actor=None)
    retired_at = industry.retired_at

    custom_field_retire(field=industry, actor=None)

    assert industry.retired_at == retired_at
    assert AuditLog.objects.filter(action="custom_field.retire").count() == 1


# Move --------------------------------------------------------------------------------------


def keys(ws) -> list[str]:
    return list(CustomField.objects.for_workspace(ws).live().values_list("key", flat=True))


@pytest.fixture
def abc(ws):
    return [CustomFieldFactory(workspace=ws, key=k, position=i) for i, k in enumerate("abc", 1)]


def test_moving_a_field_up_swaps_it_with_the_one_above(ws, abc):
    custom_field_move(field=abc[2], actor=None, direction="up")

    assert keys(ws) == ["a", "c", "b"]


def test_moving_a_field_down_swaps_it_with_the_one_below(ws, abc):
    custom_field_move(field=abc[0], actor=None, direction="down")

    assert keys(ws) == ["b", "a", "c"]


def test_moving_the_first_field_up_changes_nothing(ws, abc):
    custom_field_move(field=abc[0], actor=None, direction="up")

    assert keys(ws) == ["a", "b", "c"]
    assert not AuditLog.objects.filter(action="custom_field.reorder").exists()


def test_moving_skips_retired_fields_and_fields_being_deleted(ws, abc):
    abc[1].retired_at = now()
    abc[1].save()
    CustomFieldFactory(workspace=ws, key="gone", position=3, deleting=True)

    custom_field_move(field=abc[2], actor=None, direction="up")

    active = CustomField.objects.for_workspace(ws).active().values_list("key", flat=True)
    assert list(active) == ["c", "a"]


def test_moving_works_when_fields_share_a_position(ws):
    a, b = (CustomFieldFactory(workspace=ws, key=k, position=0) for k in "ab")

    custom_field_move(field=b, actor=None, direction="up")

    assert keys(ws) == ["b", "a"]


def test_moving_writes_a_reorder_audit_entry(abc):
    custom_field_move(field=abc[2], actor=None, direction="up")

    assert audit("custom_field.reorder").changes == {"position": [3, 2]}


# Delete and purge --------------------------------------------------------------------------


def test_deleting_a_field_hides_it_at_once(ws, industry, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        custom_field_delete(field=industry, actor=None)

    industry.refresh_from_db()
    assert industry.deleting
    assert not CustomField.objects.for_workspace(ws).live().exists()


def test_deleting_queues_the_purge_only_when_the_transaction_commits(
    ws, industry, django_capture_on_commit_callbacks
):
    lead(ws, industry="SaaS")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        custom_field_delete(field=industry, actor=None)

    assert len(callbacks) == 1
    assert Lead.objects.get().attributes == {"industry": "SaaS"}


def test_deleting_purges_the_values_and_then_the_field(
    ws, industry, django_capture_on_commit_callbacks
):
    kept = lead(ws, industry="SaaS", budget=10)

    with django_capture_on_commit_callbacks(execute=True):
        custom_field_delete(field=industry, actor=None)

    kept.refresh_from_db()
    assert kept.attributes == {"budget": 10}
    assert not CustomField.objects.filter(pk=industry.pk).exists()


def test_deleting_writes_an_audit_entry(industry, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        custom_field_delete(field=industry, actor=owner.user)

    entry = audit("custom_field.delete")
    assert entry.actor == owner.user
    assert entry.object_repr == "Industry"


def test_key_stays_reserved_while_the_field_is_being_deleted(
    ws, industry, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        custom_field_delete(field=industry, actor=None)

    with pytest.raises(ValidationError):
        create(ws)


def test_key_is_free_again_once_the_purge_is_done(ws, industry, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        custom_field_delete(field=industry, actor=None)

    assert create(ws, type=T.NUMBER).type == T.NUMBER


@pytest.fixture
def doomed(ws):
    return CustomFieldFactory(workspace=ws, key="annual_budget_2", type=T.NUMBER, deleting=True)


def test_purge_removes_the_key_from_every_lead_of_the_workspace_trash_included(ws, doomed):
    live = lead(ws, "a@x.test", annual_budget_2=5, vip=True)
    trashed = Lead.objects.create(
        workspace=ws, email="b@x.test", attributes={"annual_budget_2": 7}, deleted_at=now()
    )
    empty = lead(ws, "c@x.test", annual_budget_2=None)

    custom_field_purge.call(doomed.pk)

    for each in (live, trashed, empty):
        each.refresh_from_db()
    assert live.attributes == {"vip": True}
    assert trashed.attributes == {}
    assert empty.attributes == {}


def test_purge_leaves_other_workspaces_and_values_equal_to_the_key_alone(ws, other_ws, doomed):
    theirs = lead(other_ws, annual_budget_2=5)
    ours = lead(ws, note="annual_budget_2")

    custom_field_purge.call(doomed.pk)

    theirs.refresh_from_db()
    ours.refresh_from_db()
    assert theirs.attributes == {"annual_budget_2": 5}
    assert ours.attributes == {"note": "annual_budget_2"}


def test_purge_works_through_several_batches(ws, doomed, monkeypatch):
    monkeypatch.setattr(tasks, "PURGE_BATCH_SIZE", 2)
    for n in range(5):
        lead(ws, f"lead{n}@x.test", annual_budget_2=n)

    assert custom_field_purge.call(doomed.pk) == 5

    assert list(Lead.objects.values_list("attributes", flat=True)) == [{}] * 5


def test_purge_deletes_the_field(doomed):
    custom_field_purge.call(doomed.pk)

    assert not CustomField.objects.filter(pk=doomed.pk).exists()


def test_purge_is_safe_to_run_twice(ws, doomed):
    lead(ws, annual_budget_2=5)
    custom_field_purge.call(doomed.pk)

    assert custom_field_purge.call(doomed.pk) == 0


def test_purge_leaves_a_field_that_is_not_being_deleted_alone(ws, industry):
    kept = lead(ws, industry="SaaS")

    custom_field_purge.call(industry.pk)

    kept.refresh_from_db()
    assert kept.attributes == {"industry": "SaaS"}
    assert CustomField.objects.filter(pk=industry.pk).exists()


def test_purge_of_a_workspace_without_leads_deletes_the_field(doomed):
    assert custom_field_purge.call(doomed.pk) == 0
    assert not CustomField.objects.filter(pk=doomed.pk).exists()


# leads_with_attribute_value ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["SaaS", 42, 2.5, True, "2025-03-31"])
def test_leads_with_attribute_value_finds_live_leads_of_the_workspace_holding_it(
    ws, other_ws, value
):
    match = lead(ws, "a@x.test", thing=value)
    lead(ws, "b@x.test", thing="something else")
    lead(ws, "c@x.test", other=value)
    Lead.objects.create(
        workspace=ws, email="d@x.test", attributes={"thing": value}, deleted_at=now()
    )
    lead(other_ws, "a@x.test", thing=value)

    assert list(leads_with_attribute_value(ws, "thing", value)) == [match]


def test_leads_with_attribute_value_treats_a_key_named_like_a_lookup_as_a_key(ws):
    match = lead(ws, contains="x")

    assert list(leads_with_attribute_value(ws, "contains", "x")) == [match]


# attributes_clean --------------------------------------------------------------------------


@pytest.fixture
def fields(ws):
    """One field per type, none required."""
    return {
        t: CustomFieldFactory(workspace=ws, key=t.value, label=t.label, type=t, choices=choices)
        for t, choices in [
            (T.TEXT, []),
            (T.NUMBER, []),
            (T.DATE, []),
            (T.BOOLEAN, []),
            (T.CHOICE, ["SaaS", "Retail"]),
        ]
    }


def clean(ws, values, partial=True, existing=None) -> dict:
    return attributes_clean(workspace=ws, values=values, partial=partial, existing=existing)


def clean_one(ws, key, value):
    return clean(ws, {key: value})[key]


def error_of(ws, key, value) -> str:
    with pytest.raises(ValidationError) as excinfo:
        clean(ws, {key: value})
    [message] = errors_of(excinfo)[key]
    return message


@pytest.mark.parametrize(
    "raw, cleaned", [("  Acme Corp  ", "Acme Corp"), ("x" * 1000, "x" * 1000), (42, "42")]
)
def test_text_values_are_stripped_strings(ws, fields, raw, cleaned):
    assert clean_one(ws, "text", raw) == cleaned


@pytest.mark.parametrize("raw", ["x" * 1001, "nul\x00byte", ["a"], {"a": 1}])
def test_text_refuses_long_text_null_characters_and_non_text(ws, fields, raw):
    assert error_of(ws, "text", raw)


def test_text_error_says_how_long_it_may_be(ws, fields):
    assert error_of(ws, "text", "x" * 1001) == "Use at most 1,000 characters (this has 1,001)."


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("1234.5", 1234.5),
        ("-3", -3),
        (" 42 ", 42),
        ("+7", 7),
        ("3.0", 3),
        (".5", 0.5),
        ("1e-05", 0.00001),
        (5, 5),
        (2.5, 2.5),
        (4.0, 4),
        (Decimal("1.50"), 1.5),
    ],
)
def test_numbers_become_ints_when_integral_else_floats(ws, fields, raw, cleaned):
    value = clean_one(ws, "number", raw)

    assert value == cleaned
    assert type(value) is type(cleaned)


@pytest.mark.parametrize(
    "raw",
    ["1,234.5", "12 000", "abc", "NaN", "inf", "0x1F", "1.2.3", True, False, [1]],
)
def test_number_refuses_what_is_not_a_plain_number(ws, fields, raw):
    assert "Enter a number" in error_of(ws, "number", raw)


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), float("-inf"), Decimal("NaN")])
def test_number_refuses_nan_and_infinity(ws, fields, raw):
    assert "Enter a number" in error_of(ws, "number", raw)


@pytest.mark.parametrize("raw", ["1000000000000000", -(10**15), "1e300"])
def test_number_refuses_numbers_too_large_to_stay_exact(ws, fields, raw):
    assert "between" in error_of(ws, "number", raw)


@pytest.mark.parametrize(
    "raw",
    ["2025-03-31", " 2025-03-31 ", date(2025, 3, 31), datetime(2025, 3, 31)],
)
def test_dates_become_iso_strings(ws, fields, raw):
    assert clean_one(ws, "date", raw) == "2025-03-31"


@pytest.mark.parametrize(
    "raw", ["31/03/2025", "20250331", "2025-W13-1", "2025-03-31T10:00", datetime(2025, 3, 31, 9)]
)
def test_date_refuses_anything_but_a_calendar_date(ws, fields, raw):
    assert error_of(ws, "date", raw) == "Enter a date as YYYY-MM-DD, like 2025-03-31."


def test_date_refuses_a_day_that_is_not_in_the_calendar(ws, fields):
    assert error_of(ws, "date", "2025-02-30") == "2025-02-30 is not a date in the calendar."


@pytest.mark.parametrize("raw", [True, "true", "YES", "y", "1", 1, " Yes "])
def test_booleans_accept_yes_words(ws, fields, raw):
    assert clean_one(ws, "boolean", raw) is True


@pytest.mark.parametrize("raw", [False, "False", "no", "N", "0", 0])
def test_booleans_accept_no_words(ws, fields, raw):
    assert clean_one(ws, "boolean", raw) is False


@pytest.mark.parametrize("raw", ["maybe", "2", 2, 0.5])
def test_boolean_refuses_other_words(ws, fields, raw):
    assert "Enter yes or no" in error_of(ws, "boolean", raw)


@pytest.mark.parametrize("raw", ["SaaS", "saas", " SAAS "])
def test_choice_matches_case_insensitively_and_stores_the_canonical_choice(ws, fields, raw):
    assert clean_one(ws, "choice", raw) == "SaaS"


def test_choice_refuses_other_values_listing_the_allowed_ones(ws, fields):
    assert error_of(ws, "choice", "Energy") == "“Energy” is not one of the choices: SaaS, Retail."


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_value_clears_the_key(ws, fields, blank):
    existing = {"text": "old", "number": 5}

    assert clean(ws, {"text": blank}, existing=existing) == {"number": 5}


def test_clean_merges_into_existing_values_without_changing_them(ws, fields):
    existing = {"text": "old", "number": 5}

    assert clean(ws, {"number": "6"}, existing=existing) == {"text": "old", "number": 6}
    assert existing == {"text": "old", "number": 5}


def test_clean_refuses_an_unknown_key(ws, fields):
    assert error_of(ws, "colour", "red") == "There is no custom field “colour” in this workspace."


def test_clean_refuses_a_key_of_another_workspace(ws, other_ws, fields):
    CustomFieldFactory(workspace=other_ws, key="colour")

    assert "no custom field" in error_of(ws, "colour", "red")


def test_clean_refuses_a_retired_field_and_says_it_is_retired(ws, fields):
    CustomFieldFactory(workspace=ws, key="region", label="Region", retired_at=now())

    assert (
        error_of(ws, "region", "EMEA") == "The field “Region” is retired; its values cannot change."
    )


def test_clean_refuses_a_field_being_deleted(ws, fields):
    CustomFieldFactory(workspace=ws, key="region", label="Region", deleting=True)

    assert "being deleted" in error_of(ws, "region", "EMEA")


def test_clean_keeps_existing_values_of_retired_fields(ws, fields):
    CustomFieldFactory(workspace=ws, key="region", retired_at=now())

    assert clean(ws, {"text": "x"}, existing={"region": "EMEA"}) == {"region": "EMEA", "text": "x"}


def test_clean_drops_existing_values_of_fields_deleted_or_being_deleted(ws, fields):
    CustomFieldFactory(workspace=ws, key="region", deleting=True)

    result = clean(ws, {"text": "x"}, existing={"region": "EMEA", "purged_long_ago": 1})

    assert result == {"text": "x"}


def test_clean_collects_every_problem_in_one_error(ws, fields):
    with pytest.raises(ValidationError) as excinfo:
        clean(ws, {"number": "many", "date": "soon", "choice": "Energy", "colour": "red"})

    assert set(errors_of(excinfo)) == {"number", "date", "choice", "colour"}


def test_cleaned_values_are_json_serialisable(ws, fields):
    values = {
        "text": "a",
        "number": Decimal("2.5"),
        "date": date(2025, 1, 2),
        "boolean": "yes",
        "choice": "retail",
    }

    result = clean(ws, values)

    assert json.loads(json.dumps(result)) == {
        "text": "a",
        "number": 2.5,
        "date": "2025-01-02",
        "boolean": True,
        "choice": "Retail",
    }


def test_clean_with_definitions_loaded_by_the_caller_runs_no_query(
    ws, fields, django_assert_num_queries
):
    definitions = list(CustomField.objects.for_workspace(ws))

    with django_assert_num_queries(0):
        result = attributes_clean(
            workspace=ws, values={"number": "3"}, partial=False, definitions=definitions
        )

    assert result == {"number": 3}


@pytest.fixture
def required_budget(ws):
    return CustomFieldFactory(
        workspace=ws, key="budget", label="Budget", type=T.NUMBER, required=True
    )


def test_a_full_save_needs_every_required_field(ws, fields, required_budget):
    with pytest.raises(ValidationError) as excinfo:
        clean(ws, {"text": "x"}, partial=False)

    assert errors_of(excinfo) == {"budget": ["“Budget” is required."]}


def test_a_full_save_accepts_a_required_value_already_held(ws, required_budget):
    assert clean(ws, {}, partial=False, existing={"budget": 3}) == {"budget": 3}


def test_a_partial_save_does_not_need_required_fields_it_leaves_alone(ws, fields, required_budget):
    assert clean(ws, {"text": "x"}, partial=True) == {"text": "x"}


def test_a_partial_save_cannot_clear_a_required_field(ws, required_budget):
    with pytest.raises(ValidationError) as excinfo:
        clean(ws, {"budget": ""}, partial=True, existing={"budget": 3})

    assert errors_of(excinfo) == {"budget": ["“Budget” is required."]}


def test_a_retired_required_field_is_not_required(ws, required_budget):
    required_budget.retired_at = now()
    required_budget.save()

    assert clean(ws, {}, partial=False) == {}


def test_an_invalid_required_value_reports_the_value_problem_only(ws, required_budget):
    with pytest.raises(ValidationError) as excinfo:
        clean(ws, {"budget": "lots"}, partial=False)

    [message] = errors_of(excinfo)["budget"]
    assert "Enter a number" in message


# A number that survives storage and export (str()) comes back unchanged.

NUMBER_SETTINGS = hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@NUMBER_SETTINGS
@given(n=st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_an_integer_string_cleans_to_that_integer(ws, fields, n):
    value = clean_one(ws, "number", str(n))

    assert value == n and type(value) is int


@NUMBER_SETTINGS
@given(x=st.floats(min_value=-(10**15), max_value=10**15, exclude_min=True, exclude_max=True))
def test_a_number_string_round_trips_through_clean_and_str(ws, fields, x):
    value = clean_one(ws, "number", repr(x))

    assert value == x
    assert clean_one(ws, "number", str(value)) == value


@NUMBER_SETTINGS
@given(
    d=st.decimals(
        min_value=-(10**14), max_value=10**14, places=6, allow_nan=False, allow_infinity=False
    )
)
def test_a_plain_decimal_string_cleans_to_the_nearest_float(ws, fields, d):
    value = clean_one(ws, "number", format(d, "f"))

    assert value == float(d)
