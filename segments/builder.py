"""The rule builder of dynamic segments (PRODUCT G2): a rule tree as form rows, and back.

The builder is one <form> with no client-side model. Each node's inputs are named by its path
("n" is the root group, "n.1.0" the first child of the root's second child: `n.1.0:field`,
`n.1.0:op`, `n.1.0:value`, `n.1.0:value2`, activity `:type/:url/:days/:count`, group
`:match`), and the repeated `node` input lists the paths in document order.
tree_from_post() rebuilds the raw tree from that, edit_apply() makes a structural edit on it,
builder_rows() turns any tree into rows ready to render, and segment_preview() validates it
with rules_clean() and counts what it matches. Paths are positional, so a RuleIssue's path is
the key of the row it belongs to.
"""

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db.models.functions import Lower
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone

from contacts.models import ActivityType, Lead, Tag
from contacts.queries import leads_for
from leadcrm.models import Membership, Workspace
from leadcrm.permissions import member_can
from segments.models import Segment, SegmentKind, SegmentState
from segments.query import query_text
from segments.rules import (
    EMPTINESS,
    EMPTY_TREE,
    MATCHES,
    MAX_ACTIVITY_COUNT,
    MAX_CONDITIONS,
    MAX_DAYS,
    MAX_DEPTH,
    FieldRegistry,
    FieldSpec,
    Kind,
    RuleIssue,
    RulesInvalid,
    field_registry,
    is_group,
    op_label,
    rules_clean,
    rules_condition,
    rules_count,
)

ROOT = "n"
PREVIEW_SIZE = 10
MAX_NODES = MAX_CONDITIONS + 100  # conditions plus the groups around them; more is not a form
_KEY = re.compile(rf"n(?:\.\d{{1,3}}){{1,{MAX_DEPTH + 1}}}")


class BuilderInvalid(ValueError):
    """The POST is not something the builder's form could have sent."""


def node_key(path: tuple[int, ...]) -> str:
    return ROOT + "".join(f".{index}" for index in path)


def _path(key: str) -> tuple[int, ...]:
    return tuple(int(part) for part in key.split(".")[1:])


# Widgets --------------------------------------------------------------------------------------


def widget_for(spec: FieldSpec | None, op: str) -> str:
    """Which value input a condition shows for its field and operator."""
    if spec is None or op not in spec.ops or op in EMPTINESS:
        return "none"
    kind = spec.kind
    if kind in (Kind.TEXT, Kind.SEARCH):
        return "text"
    if kind == Kind.CHOICE:
        return "multi" if op in ("in", "not_in") else "select"
    if kind == Kind.NUMBER:
        return "number-range" if op == "between" else "number"
    if kind in (Kind.DATE, Kind.DATETIME):
        if op in ("less_than_days_ago", "more_than_days_ago"):
            return "days"
        return "date-range" if op == "between" else "date"
    if kind == Kind.BOOLEAN:
        return "boolean"
    if kind in (Kind.OWNER, Kind.TAGS, Kind.SEGMENT):
        return "select"
    return "activity"


def default_value(widget: str) -> Any:
    """A new condition's value for its input, before the person types anything."""
    return {
        "none": None,
        "multi": [],
        "number-range": ["", ""],
        "date-range": ["", ""],
        "boolean": "true",
        "activity": {"type": "", "url": "", "days": None, "count": 1},
    }.get(widget, "")


# An operator change between these inputs keeps what was typed: "is 5" → "is between 5 and …".
_WIDENED = {"select": "multi", "number": "number-range", "date": "date-range"}


def _convert_value(old: str, new: str, value: Any) -> Any:
    if old == new:
        return value
    if _WIDENED.get(old) == new:
        if value in ("", None):
            return default_value(new)
        return [value] if new == "multi" else [value, ""]
    if _WIDENED.get(new) == old:
        return value[0] if isinstance(value, list) and value else default_value(new)
    return default_value(new)


# POST → tree ---------------------------------------------------------------------------------


def tree_from_post(data: QueryDict, registry: FieldRegistry) -> dict:
    """The raw (unvalidated) tree the builder's form describes; values stay as typed."""
    keys = data.getlist("node")
    if len(keys) > MAX_NODES:
        raise BuilderInvalid(f"A segment can have at most {MAX_CONDITIONS} conditions.")
    root = {"match": data.get(f"{ROOT}:match", "all"), "children": []}
    groups = {ROOT: root}
    for key in keys:
        if key.count(".") > MAX_DEPTH:  # n.0 is a root child; deeper forms can't come from us
            raise BuilderInvalid(f"Groups can nest at most {MAX_DEPTH} levels deep.")
        parent_key = key.rpartition(".")[0]
        parent = groups.get(parent_key)
        # Keys are positional, in document order: a RuleIssue's path names its row.
        if parent is None or key != f"{parent_key}.{len(parent['children'])}":
            raise BuilderInvalid("The rules form was not understood. Reload the page.")
        if f"{key}:match" in data:
            node = {"match": data[f"{key}:match"], "children": []}
            groups[key] = node
        else:
            node = _condition_from_post(data, key, registry)
        parent["children"].append(node)
    return root


def _condition_from_post(data: QueryDict, key: str, registry: FieldRegistry) -> dict:
    name, op = data.get(f"{key}:field", ""), data.get(f"{key}:op", "")
    node: dict[str, Any] = {"field": name, "op": op}
    widget = widget_for(registry.get(name), op)
    if widget == "none":
        return node
    value = data.get(f"{key}:value", "")
    if widget == "multi":
        node["value"] = data.getlist(f"{key}:value")
    elif widget in ("number-range", "date-range"):
        node["value"] = [value, data.get(f"{key}:value2", "")]
    elif widget == "activity":
        node["value"] = {
            "type": data.get(f"{key}:type", ""),
            "url": data.get(f"{key}:url", ""),
            "days": data.get(f"{key}:days", "") or None,
            "count": data.get(f"{key}:count", "1") if op == "at_least" else 1,
        }
    else:
        node["value"] = value
    return node


# Structural edits ----------------------------------------------------------------------------


def blank_condition() -> dict:
    return {"field": "", "op": ""}


def edit_apply(tree: dict, edit: str, registry: FieldRegistry) -> dict:
    """The tree after one edit: `add-condition:<group>`, `add-group:<group>`, `remove:<node>`,
    `field:<condition>` (the field changed: first operator, empty value) or
    `op:<condition>:<previous op>` (keeps the value where the new input can show it).
    Anything else (or a path that is not there) re-renders the tree as it is."""
    tree = copy.deepcopy(tree)
    action, _, rest = edit.partition(":")
    key, _, previous_op = rest.partition(":")
    if not (key == ROOT or _KEY.fullmatch(key)):
        return tree
    path = _path(key)
    node = _node_at(tree, path)
    if node is None:
        return tree
    if action == "add-condition" and is_group(node):
        node["children"].append(blank_condition())
    elif action == "add-group" and is_group(node) and len(path) + 1 < MAX_DEPTH:
        node["children"].append({"match": "all", "children": [blank_condition()]})
    elif action == "remove" and path:
        del _node_at(tree, path[:-1])["children"][path[-1]]
    elif action == "field" and not is_group(node):
        spec = registry.get(node.get("field", ""))
        node["op"] = spec.ops[0] if spec else ""
        node.pop("value", None)
        value = default_value(widget_for(spec, node["op"]))
        if value is not None:
            node["value"] = value
    elif action == "op" and not is_group(node):
        spec = registry.get(node.get("field", ""))
        old, new = widget_for(spec, previous_op), widget_for(spec, node.get("op", ""))
        value = _convert_value(old, new, node.pop("value", default_value(old)))
        if new != "none":
            node["value"] = value
    return tree


def _node_at(tree: dict, path: tuple[int, ...]) -> dict | None:
    node = tree
    for index in path:
        children = node.get("children") if is_group(node) else None
        if not children or index >= len(children):
            return None
        node = children[index]
    return node


# Tree → rows ---------------------------------------------------------------------------------


@dataclass
class Option:
    value: str
    label: str
    selected: bool = False


@dataclass
class ConditionRow:
    key: str
    depth: int
    field: str
    op: str
    field_groups: list[tuple[str, list[Option]]]
    op_options: list[Option]
    widget: str
    value: str = ""
    value2: str = ""
    options: list[Option] = field(default_factory=list)  # select / multi / boolean
    activity: dict = field(default_factory=dict)
    activity_types: list[Option] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    is_group = False

    @property
    def dom(self) -> str:
        return self.key.replace(".", "-")

    @property
    def counted(self) -> bool:
        return self.op == "at_least"

    @property
    def multi_size(self) -> int:
        return min(max(len(self.options), 2), 6)


@dataclass
class GroupRow:
    key: str
    depth: int
    match: str
    match_options: list[Option]
    children: list["GroupRow | ConditionRow"]
    can_add_group: bool
    issues: list[str] = field(default_factory=list)
    is_group = True

    @property
    def dom(self) -> str:
        return self.key.replace(".", "-")

    @property
    def is_root(self) -> bool:
        return self.key == ROOT

    @property
    def empty_text(self) -> str:
        if self.match == "any":
            return "No conditions yet: no lead matches an empty “any” group."
        return "No conditions yet: every lead matches."


class Lookups:
    """The workspace's rows a condition can name, read once per render and only when needed."""

    def __init__(self, workspace: Workspace | int, segment: Segment | None):
        self.workspace, self.segment = workspace, segment

    @cached_property
    def members(self) -> list[tuple[str, str]]:
        memberships = (
            Membership.objects.filter(workspace=self.workspace)
            .select_related("user")
            .order_by(Lower("user__full_name"), "user__email")
        )
        return [(str(m.user_id), m.user.display_name) for m in memberships]

    @cached_property
    def tags(self) -> list[tuple[str, str]]:
        tags = Tag.objects.for_workspace(self.workspace).order_by(Lower("name"))
        return [(str(pk), name) for pk, name in tags.values_list("pk", "name")]

    @cached_property
    def segments(self) -> list[tuple[str, str]]:
        others = Segment.objects.filter(workspace=self.workspace).order_by(Lower("name"), "pk")
        if self.segment is not None:
            others = others.exclude(pk=self.segment.pk)
        rows = others.values_list("pk", "name", "kind", "state")
        return [(str(pk), _segment_label(name, kind, state)) for pk, name, kind, state in rows]

    def for_spec(self, spec: FieldSpec) -> list[tuple[str, str]]:
        if spec.kind == Kind.OWNER:
            return self.members
        if spec.kind == Kind.TAGS:
            return self.tags
        if spec.kind == Kind.SEGMENT:
            return self.segments
        if spec.kind == Kind.BOOLEAN:
            return [("true", "yes"), ("false", "no")]
        return list(spec.choices)


def _segment_label(name: str, kind: str, state: str) -> str:
    details = [SegmentKind(kind).label.lower()]
    if state == SegmentState.RETIRED:
        details.append("retired")
    return f"{name} ({', '.join(details)})"


def _text(value: Any) -> str:
    """A stored value as an input shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _options(pairs: list[tuple[str, str]], chosen: set[str]) -> list[Option]:
    options = [Option(value, label, value in chosen) for value, label in pairs]
    known = {value for value, _ in pairs}
    # A value that is no longer offered (a removed choice, a deleted tag) stays visible.
    missing = [Option(value, f"{value} (no longer available)", True) for value in chosen - known]
    return options + sorted(missing, key=lambda option: option.value)


class RowBuilder:
    def __init__(self, registry: FieldRegistry, lookups: Lookups, issues: dict[str, list[str]]):
        self.registry, self.lookups, self.issues = registry, lookups, issues

    def field_groups(self, name: str, spec: FieldSpec | None) -> list[tuple[str, list[Option]]]:
        groups = [
            (group, [Option(s.name, s.label, s.name == name) for s in specs])
            for group, specs in self.registry.groups()
        ]
        if name and spec is None:  # e.g. a custom field deleted since: shown, never swapped
            groups.insert(0, ("Missing", [Option(name, f"{name} (no longer exists)", True)]))
        return groups

    def group(self, node: dict, path: tuple[int, ...]) -> GroupRow:
        key = node_key(path)
        match = node.get("match") if node.get("match") in MATCHES else "all"
        children = node.get("children") if isinstance(node.get("children"), list) else []
        return GroupRow(
            key=key,
            depth=len(path),
            match=match,
            match_options=[Option(m, m, m == match) for m in MATCHES],  # "all/any/none of"
            children=[
                self.group(child, (*path, i))
                if is_group(child)
                else self.condition(child, (*path, i))
                for i, child in enumerate(children)
            ],
            can_add_group=len(path) + 1 < MAX_DEPTH,
            issues=self.issues.get(key, []),
        )

    def condition(self, node: Any, path: tuple[int, ...]) -> ConditionRow:
        node = node if isinstance(node, dict) else {}
        key = node_key(path)
        name, op = _text(node.get("field")), _text(node.get("op"))
        spec = self.registry.get(name)
        widget = widget_for(spec, op)
        row = ConditionRow(
            key=key,
            depth=len(path),
            field=name,
            op=op,
            field_groups=self.field_groups(name, spec),
            op_options=[Option(o, op_label(spec.kind, o), o == op) for o in spec.ops]
            if spec
            else [],
            widget=widget,
            issues=self.issues.get(key, []),
        )
        value = node.get("value")
        if widget in ("number-range", "date-range"):
            pair = value if isinstance(value, list | tuple) else [value, ""]
            row.value, row.value2 = _text(pair[0] if pair else ""), _text(pair[1:2] and pair[1])
        elif widget == "activity":
            value = value if isinstance(value, dict) else {}
            row.activity = {
                "type": _text(value.get("type")),
                "url": _text(value.get("url")),
                "days": _text(value.get("days")),
                "count": _text(value.get("count", 1)) or "1",
            }
            row.activity_types = _options(
                [("", "Any activity"), *ActivityType.choices], {row.activity["type"]}
            )
        elif widget != "none":
            row.value = _text(value) if not isinstance(value, list | tuple) else ""
        if widget in ("select", "multi", "boolean"):
            chosen = (
                {_text(v) for v in value} if isinstance(value, list | tuple) else {row.value}
            ) - {""}
            row.options = _options(self.lookups.for_spec(spec), chosen)
            if widget == "multi":  # what is chosen shows without scrolling a long list
                row.options.sort(key=lambda option: not option.selected)
        return row


def is_unfilled(node: Any) -> bool:
    """A condition nobody has filled in yet: no field, or a value still empty."""
    if not isinstance(node, dict) or is_group(node):
        return False
    value = node.get("value")
    if isinstance(value, list):
        return all(item in ("", None) for item in value)
    return not node.get("field") or ("value" in node and value in ("", None))


def issues_by_key(issues: list[RuleIssue], tree: dict, *, blanks: bool) -> dict[str, list[str]]:
    """Each issue under its row's key. Without `blanks` (all but Save), a condition nobody has
    filled in yet is not marked: it is unfinished, not wrong."""
    found: dict[str, list[str]] = {}
    for issue in issues:
        if not blanks and is_unfilled(_node_at(tree, issue.path)):
            continue
        found.setdefault(node_key(issue.path), []).append(issue.message)
    return found


def node_keys(tree: dict, path: tuple[int, ...] = ()) -> list[str]:
    """Every node's key, root first (the issue slots a preview refreshes)."""
    keys = [node_key(path)]
    for index, child in enumerate(tree.get("children") or []):
        if is_group(child):
            keys.extend(node_keys(child, (*path, index)))
        else:
            keys.append(node_key((*path, index)))
    return keys


def _canonical(node: Any) -> Any:
    if is_group(node):
        return {**node, "children": [_canonical(child) for child in node.get("children", [])]}
    listed = isinstance(node, dict) and isinstance(node.get("value"), list)
    if listed and node.get("op") in ("in", "not_in"):  # not "between": its order counts
        return {**node, "value": sorted(node["value"], key=str)}
    return node


def same_rules(a: dict, b: dict) -> bool:
    """The same rules, whatever the order of an "is any of" list (a multi-select sends its
    options in their own order)."""
    return _canonical(a or EMPTY_TREE) == _canonical(b or EMPTY_TREE)


# Preview -------------------------------------------------------------------------------------


@dataclass
class Preview:
    valid: bool
    count: int = 0
    leads: list[Lead] = field(default_factory=list)
    query: str | None = None
    issues: list[RuleIssue] = field(default_factory=list)
    clean: dict | None = None

    @property
    def summary(self) -> str:
        if not self.valid:
            return "The rules are incomplete: finish each condition to see how many leads match."
        if self.count == 0:
            return "No leads match"
        if self.count == 1:
            return "1 lead matches"
        return f"{self.count:,} leads match"


def segment_preview(
    segment: Segment,
    tree: dict,
    *,
    workspace: Workspace,
    registry: FieldRegistry | None = None,
    now: datetime | None = None,
) -> Preview:
    """Validate the tree; when valid, how many live leads match and the newest PREVIEW_SIZE."""
    registry = registry or field_registry(workspace)
    try:
        clean = rules_clean(tree, workspace=workspace, segment=segment, registry=registry)
    except RulesInvalid as error:
        return Preview(valid=False, issues=error.issues)
    now = now or timezone.now()  # one "now" for the count and the leads shown
    condition = rules_condition(clean, workspace=workspace, now=now, registry=registry)
    matching = leads_for(workspace).filter(condition)
    first = matching.select_related("company").order_by("-created_at", "-pk")[:PREVIEW_SIZE]
    return Preview(
        valid=True,
        count=rules_count(clean, workspace=workspace, now=now, registry=registry),
        leads=list(first),
        query=query_text(clean, workspace=workspace, registry=registry),
        clean=clean,
    )


# Context for templates/segments/_rules.html --------------------------------------------------


@dataclass
class Builder:
    segment: Segment
    root: GroupRow
    editable: bool
    read_only_reason: str
    dirty: bool
    urls: dict[str, str]
    preview_size: int = PREVIEW_SIZE
    max_days: int = MAX_DAYS
    max_count: int = MAX_ACTIVITY_COUNT


@dataclass
class IssueSlot:
    dom: str
    issues: list[str]


def builder_urls(segment: Segment) -> dict[str, str]:
    names = {"builder": "rules", "preview": "rules-preview", "edit": "rules-edit"}
    names["save"] = "rules-save"
    return {key: reverse(f"segments:{name}", args=[segment.pk]) for key, name in names.items()}


def rules_editable(request: HttpRequest, segment: Segment) -> tuple[bool, str]:
    """May this member change these rules now? (False, why not) when not."""
    if not member_can(request.membership, "leadcrm.manage_segments"):
        return False, "Your role can view these rules but not change them."
    if segment.is_retired:
        return False, "This segment is retired, so its rules are read-only."
    return True, ""


def builder_context(
    request: HttpRequest,
    segment: Segment,
    *,
    tree: dict | None = None,
    preview: Preview | None = None,
    dirty: bool = False,
    blanks: bool = False,
    registry: FieldRegistry | None = None,
) -> dict:
    """Context for templates/segments/_rules.html on a dynamic segment's page.

    Without a tree it shows the saved rules; without a preview, the preview loads after the
    page. `blanks` marks the issues of conditions nobody has filled in yet (on Save).
    """
    tree = tree if tree is not None else (segment.rules or EMPTY_TREE)
    issues = issues_by_key(preview.issues, tree, blanks=blanks) if preview else {}
    registry = registry or field_registry(request.workspace)
    rows = RowBuilder(registry, Lookups(request.workspace, segment), issues)
    editable, reason = rules_editable(request, segment)
    builder = Builder(
        segment=segment,
        root=rows.group(tree, ()),
        editable=editable,
        read_only_reason=reason,
        dirty=dirty,
        urls=builder_urls(segment),
    )
    return {"rules_builder": builder, "rules_preview": preview, "rules_dirty": dirty}


def preview_context(tree: dict, preview: Preview, *, dirty: bool, show_leads: bool) -> dict:
    """Context for the preview's out-of-band parts: count, leads, query, dirty, issue slots.

    Without `show_leads`, incomplete rules leave the last valid leads on the page."""
    issues = issues_by_key(preview.issues, tree, blanks=False)
    slots = [IssueSlot(key.replace(".", "-"), issues.get(key, [])) for key in node_keys(tree)]
    return {
        "rules_preview": preview,
        "rules_dirty": dirty,
        "rules_slots": slots,
        "rules_show_leads": show_leads,
    }
