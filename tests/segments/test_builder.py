"""The rule builder's form (segments/builder.py): a tree renders as rows whose inputs, posted back
as a browser would, give the same tree; structural edits; issues at their rows."""

from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.http import QueryDict
from django.template.loader import render_to_string
from django.test import RequestFactory, override_settings
from hypothesis import HealthCheck, given, reject, settings

from contacts.models import CustomFieldType
from leadcrm.models import Membership
from segments.builder import (
    MAX_NODES,
    BuilderInvalid,
    builder_context,
    edit_apply,
    issues_by_key,
    same_rules,
    tree_from_post,
)
from segments.models import Segment, SegmentKind
from segments.rules import MAX_DEPTH, RuleIssue, RulesInvalid, field_registry, rules_clean
from tests.contacts.factories import CustomFieldFactory, SegmentFactory, TagFactory
from tests.segments.strategies import resolve, world_build, worlds_and_trees

# What a browser submits ----------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The (name, value) pairs a browser submits for one form: enabled controls only, the
    selected options of each select (the first when none is), no buttons."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fieldsets: list[bool] = []
        self.select: dict | None = None
        self.option: dict | None = None
        self.textarea: dict | None = None
        self.pairs: list[tuple[str, str]] = []

    def _disabled(self, attrs: dict) -> bool:
        return "disabled" in attrs or any(self.fieldsets)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "fieldset":
            self.fieldsets.append("disabled" in attrs)
        elif tag == "input" and attrs.get("name") and not self._disabled(attrs):
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.pairs.append(
                (attrs["name"], attrs.get("value", "on" if kind == "checkbox" else ""))
            )
        elif tag == "select":
            self.select = {
                "name": attrs.get("name"),
                "multiple": "multiple" in attrs,
                "off": self._disabled(attrs),
                "options": [],
            }
        elif tag == "option" and self.select is not None:
            self.option = {"value": attrs.get("value"), "selected": "selected" in attrs, "text": ""}
        elif tag == "textarea" and attrs.get("name") and not self._disabled(attrs):
            self.textarea = {"name": attrs["name"], "text": ""}

    def handle_data(self, data):
        if self.option is not None:
            self.option["text"] += data
        if self.textarea is not None:
            self.textarea["text"] += data

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "form":
            self.inside = False
        elif tag == "fieldset" and self.fieldsets:
            self.fieldsets.pop()
        elif tag == "option" and self.option is not None:
            option = self.option
            value = option["value"] if option["value"] is not None else option["text"].strip()
            self.select["options"].append((value, option["selected"]))
            self.option = None
        elif tag == "select" and self.select is not None:
            select, self.select = self.select, None
            if select["off"] or not select["name"]:
                return
            chosen = [value for value, selected in select["options"] if selected]
            if not select["multiple"]:
                chosen = chosen[-1:] or [value for value, _ in select["options"][:1]]
            self.pairs.extend((select["name"], value) for value in chosen)
        elif tag == "textarea" and self.textarea is not None:
            self.pairs.append((self.textarea["name"], self.textarea["text"]))
            self.textarea = None


def form_data(html: str, form_id: str = "segment-rules") -> QueryDict:
    """What submitting the form with this id sends, as the view would receive it."""
    reader = _FormReader(form_id)
    reader.feed(html)
    data = QueryDict(mutable=True)
    for name, value in reader.pairs:
        data.appendlist(name, value)
    return data


def post_dict(data: QueryDict) -> dict[str, list[str]]:
    """A QueryDict as the test client's `data` (lists for repeated names)."""
    return {key: data.getlist(key) for key in data}


def render_builder(membership, segment: Segment, tree: dict | None = None) -> str:
    request = RequestFactory().get("/")
    request.user = membership.user
    request.workspace = membership.workspace
    request.membership = membership
    context = builder_context(request, segment, tree=tree)
    return render_to_string("segments/_rules.html#rules-form", context, request=request)


# The round trip ------------------------------------------------------------------------------


@pytest.fixture
def world(ws, marketer, rep):
    for key, kind, choices in [
        ("industry", CustomFieldType.CHOICE, ["SaaS", "Retail"]),
        ("size", CustomFieldType.NUMBER, []),
        ("renewal", CustomFieldType.DATE, []),
        ("vip", CustomFieldType.BOOLEAN, []),
        ("notes", CustomFieldType.TEXT, []),
    ]:
        CustomFieldFactory(workspace=ws, key=key, type=kind, choices=choices)
    return {
        "tag": TagFactory(workspace=ws, name="vip"),
        "other": SegmentFactory(workspace=ws, name="Customers"),
        "segment": SegmentFactory(workspace=ws, kind=SegmentKind.DYNAMIC, rules={}),
    }


def rich_tree(world, rep) -> dict:
    """One condition for every kind of input the builder shows, in nested groups."""
    return {
        "match": "all",
        "children": [
            {"field": "first_name", "op": "starts_with", "value": 'Ann <b>"&'},
            {"field": "search", "op": "contains", "value": "jane doe"},
            {"field": "country", "op": "is", "value": "US"},
            {"field": "status", "op": "in", "value": ["new", "qualified"]},
            {"field": "score", "op": "between", "value": [10, 20.5]},
            {"field": "quality_score", "op": "gte", "value": 3},
            {"field": "created", "op": "less_than_days_ago", "value": 30},
            {"field": "birthday", "op": "between", "value": ["2000-01-01", "2000-12-31"]},
            {"field": "updated", "op": "on", "value": "2025-03-31"},
            {"field": "do_not_contact", "op": "is", "value": False},
            {"field": "owner", "op": "is_not", "value": rep.user_id},
            {"field": "owner", "op": "empty"},
            {"field": "tag", "op": "lacks", "value": world["tag"].pk},
            {"field": "segment", "op": "in", "value": world["other"].pk},
            {
                "match": "none",
                "children": [
                    {
                        "field": "activity",
                        "op": "at_least",
                        "value": {
                            "type": "page_visited",
                            "url": "/pricing",
                            "days": 30,
                            "count": 2,
                        },
                    },
                    {
                        "field": "activity",
                        "op": "none",
                        "value": {"type": "", "url": "", "days": None, "count": 1},
                    },
                    {"match": "any", "children": []},
                ],
            },
            {"field": "cf.industry", "op": "not_in", "value": ["SaaS"]},
            {"field": "cf.size", "op": "lt", "value": 50},
            {"field": "cf.renewal", "op": "after", "value": "2025-01-01"},
            {"field": "cf.vip", "op": "is", "value": True},
            {"field": "cf.notes", "op": "not_empty"},
        ],
    }


def test_every_kind_of_condition_survives_the_form_round_trip(ws, marketer, rep, world):
    tree = rich_tree(world, rep)
    segment = world["segment"]
    assert rules_clean(tree, workspace=ws, segment=segment) == tree  # the tree is clean

    data = form_data(render_builder(marketer, segment, tree))
    parsed = tree_from_post(data, field_registry(ws))

    assert rules_clean(parsed, workspace=ws, segment=segment) == tree


def test_the_form_names_inputs_by_path_and_lists_the_nodes_in_order(ws, marketer, rep, world):
    data = form_data(render_builder(marketer, world["segment"], rich_tree(world, rep)))

    assert data.getlist("node")[13:18] == ["n.13", "n.14", "n.14.0", "n.14.1", "n.14.2"]
    assert data["n.14:match"] == "none"
    assert (data["n.4:value"], data["n.4:value2"]) == ("10", "20.5")
    assert data.getlist("n.3:value") == ["new", "qualified"]
    assert (data["n.14.0:type"], data["n.14.0:url"], data["n.14.0:days"]) == (
        "page_visited",
        "/pricing",
        "30",
    )
    assert data["n.14.0:count"] == "2"
    assert "n.14.1:count" not in data  # "never happened" has no count
    assert "n.11:value" not in data  # "is empty" has no value


def test_a_read_only_builder_submits_nothing(ws, viewer, rep, world):
    html = render_builder(viewer, world["segment"], rich_tree(world, rep))

    assert "Your role can view these rules but not change them." in html
    assert list(form_data(html)) == ["csrfmiddlewaretoken"]
    assert "Save rules" not in html and "Add condition" not in html


def test_a_condition_on_a_deleted_field_keeps_its_name(ws, marketer, world):
    tree = {"match": "all", "children": [{"field": "cf.gone", "op": "is", "value": "x"}]}

    data = form_data(render_builder(marketer, world["segment"], tree))

    assert data["n.0:field"] == "cf.gone"
    with pytest.raises(RulesInvalid) as error:
        rules_clean(tree_from_post(data, field_registry(ws)), workspace=ws)
    assert error.value.issues == [RuleIssue((0,), "There is no field “cf.gone”.")]


ROUND_TRIP = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@ROUND_TRIP
@given(case=worlds_and_trees(max_leads=0))
def test_any_valid_tree_survives_the_form_round_trip(roles, case):
    world, tree, _ = case  # (the probes are test_rules_property's)
    with override_settings(TIME_ZONE=world.time_zone), transaction.atomic():
        try:
            built = world_build(world)
            segment = Segment.objects.create(
                workspace=built.workspace, name="Edited", kind=SegmentKind.DYNAMIC
            )
            raw = resolve(tree, built.ids)
            clean = rules_clean(raw, workspace=built.workspace, segment=segment)
        except RulesInvalid:  # the strategies' business (test_rules_property), not the builder's
            reject()
        membership = Membership.objects.filter(workspace=built.workspace).first()

        data = form_data(render_builder(membership, segment, clean))
        parsed = tree_from_post(data, field_registry(built.workspace))

        again = rules_clean(parsed, workspace=built.workspace, segment=segment)
        assert same_rules(again, clean), (again, clean)  # "in" lists come in the options' order
        transaction.set_rollback(True)


# Reading the POST ----------------------------------------------------------------------------


def test_values_stay_as_typed_for_rules_clean_to_judge(ws):
    data = QueryDict(mutable=True)
    data.setlist("node", ["n.0", "n.1"])
    data.update({"n.0:field": "score", "n.0:op": "gt", "n.0:value": " 5x "})
    data.update({"n.1:field": "score", "n.1:op": "empty", "n.1:value": "ignored"})

    tree = tree_from_post(data, field_registry(ws))

    assert tree == {
        "match": "all",
        "children": [
            {"field": "score", "op": "gt", "value": " 5x "},
            {"field": "score", "op": "empty"},
        ],
    }


def test_an_operator_the_field_lacks_keeps_no_value(ws):
    data = QueryDict(mutable=True)
    data.update({"node": "n.0", "n.0:field": "score", "n.0:op": "contains", "n.0:value": "5"})

    assert tree_from_post(data, field_registry(ws))["children"] == [
        {"field": "score", "op": "contains"}
    ]


@pytest.mark.parametrize(
    "nodes",
    [
        ["n.1"],  # not positional
        ["n.0", "n.0"],  # twice
        ["n.0.0"],  # no parent
        ["n.0", "n.0.0"],  # a condition is not a parent
        ["x"],
    ],
)
def test_a_form_the_builder_could_not_have_sent_is_refused(ws, nodes):
    data = QueryDict(mutable=True)
    data.setlist("node", nodes)
    for node in nodes:
        data[f"{node}:field"] = "email"

    with pytest.raises(BuilderInvalid):
        tree_from_post(data, field_registry(ws))


def test_too_many_nodes_are_refused(ws):
    data = QueryDict(mutable=True)
    data.setlist("node", [f"n.{i}" for i in range(MAX_NODES + 1)])

    with pytest.raises(BuilderInvalid, match="at most 200 conditions"):
        tree_from_post(data, field_registry(ws))


# Structural edits ----------------------------------------------------------------------------

SCORE = {"field": "score", "op": "gt", "value": "50"}
NESTED = {"match": "all", "children": [SCORE, {"match": "any", "children": [dict(SCORE)]}]}


def test_add_condition_appends_a_blank_condition_to_that_group(ws):
    tree = edit_apply(NESTED, "add-condition:n.1", field_registry(ws))

    assert tree["children"][1]["children"] == [SCORE, {"field": "", "op": ""}]
    assert NESTED["children"][1]["children"] == [SCORE]  # the input is not changed


def test_add_group_nests_a_group_with_one_blank_condition(ws):
    tree = edit_apply(NESTED, "add-group:n.1", field_registry(ws))

    assert tree["children"][1]["children"][1] == {
        "match": "all",
        "children": [{"field": "", "op": ""}],
    }


def _depth(group: dict) -> int:
    return 1 + max((_depth(c) for c in group["children"] if "children" in c), default=0)


def test_groups_nest_no_deeper_than_the_limit(ws):
    registry = field_registry(ws)
    tree, path = {"match": "all", "children": []}, []
    for _ in range(MAX_DEPTH + 2):  # always into the newest, deepest group
        tree = edit_apply(tree, "add-group:" + ".".join(["n", *map(str, path)]), registry)
        group = tree
        for index in path:
            group = group["children"][index]
        if "children" not in group["children"][-1]:
            break  # refused: the newest group is as deep as groups go
        path.append(len(group["children"]) - 1)

    assert _depth(tree) == MAX_DEPTH


def test_remove_takes_out_a_nested_group_with_its_children(ws):
    tree = edit_apply(NESTED, "remove:n.1", field_registry(ws))

    assert tree == {"match": "all", "children": [SCORE]}


def test_remove_takes_out_one_condition(ws):
    tree = edit_apply(NESTED, "remove:n.1.0", field_registry(ws))

    assert tree["children"][1] == {"match": "any", "children": []}


def test_the_root_cannot_be_removed(ws):
    assert edit_apply(NESTED, "remove:n", field_registry(ws)) == NESTED


def test_changing_the_field_resets_the_operator_and_value(ws):
    tree = {"match": "all", "children": [{"field": "status", "op": "contains", "value": "abc"}]}

    tree = edit_apply(tree, "field:n.0", field_registry(ws))

    assert tree["children"] == [{"field": "status", "op": "is", "value": ""}]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("do_not_contact", "true"),
        ("activity", {"type": "", "url": "", "days": None, "count": 1}),
        ("created", ""),
        ("", None),
    ],
)
def test_a_new_field_gets_the_value_its_input_starts_with(ws, field, value):
    tree = {"match": "all", "children": [{"field": field, "op": "is", "value": "x"}]}

    condition = edit_apply(tree, "field:n.0", field_registry(ws))["children"][0]

    assert condition.get("value") == value


@pytest.mark.parametrize(
    ("field", "old", "new", "value", "expected"),
    [
        ("score", "gt", "between", "5", ["5", ""]),
        ("score", "between", "lt", ["5", "9"], "5"),
        ("status", "is", "in", "new", ["new"]),
        ("status", "in", "is_not", ["new", "lost"], "new"),
        ("score", "gt", "lt", "5", "5"),
        ("created", "on", "less_than_days_ago", "2025-01-01", ""),
        ("created", "less_than_days_ago", "more_than_days_ago", "30", "30"),
        ("first_name", "is", "empty", "x", None),
    ],
)
def test_changing_the_operator_keeps_the_value_where_it_fits(ws, field, old, new, value, expected):
    tree = {"match": "all", "children": [{"field": field, "op": new, "value": value}]}

    condition = edit_apply(tree, f"op:n.0:{old}", field_registry(ws))["children"][0]

    assert condition.get("value") == expected


@pytest.mark.parametrize("edit", ["", "refresh", "remove:n.7", "add-group:n.0", "drop:n", "x:y"])
def test_an_unknown_edit_changes_nothing(ws, edit):
    assert edit_apply(NESTED, edit, field_registry(ws)) == NESTED


# Issues --------------------------------------------------------------------------------------


def test_issues_are_filed_under_their_rows_key():
    issues = [RuleIssue((), "Root."), RuleIssue((1, 0), "Lead score: Enter a number.")]

    assert issues_by_key(issues, NESTED, blanks=False) == {
        "n": ["Root."],
        "n.1.0": ["Lead score: Enter a number."],
    }


def test_unfilled_conditions_are_marked_only_on_save():
    tree = {
        "match": "all",
        "children": [
            {"field": "", "op": ""},
            {"field": "score", "op": "gt", "value": ""},
            {"field": "score", "op": "between", "value": ["", ""]},
            {"field": "score", "op": "gt", "value": "x"},
        ],
    }
    issues = [RuleIssue((i,), f"Issue {i}") for i in range(4)]

    assert issues_by_key(issues, tree, blanks=False) == {"n.3": ["Issue 3"]}
    assert len(issues_by_key(issues, tree, blanks=True)) == 4


def test_the_order_of_an_any_of_list_does_not_make_rules_differ():
    a = {"match": "all", "children": [{"field": "status", "op": "in", "value": ["new", "lost"]}]}
    b = {"match": "all", "children": [{"field": "status", "op": "in", "value": ["lost", "new"]}]}

    assert same_rules(a, b)
    assert not same_rules(a, {"match": "any", "children": b["children"]})
    assert same_rules({}, {"match": "all", "children": []})
