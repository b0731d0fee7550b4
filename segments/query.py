"""The query language (PRODUCT 10): search-box text ⇄ the rule tree of docs/segment-rules.md.

    industry:SaaS country:"United States" score:>50 tag:vip -tag:churned last_opened:<30d jane

A small hand-written lexer and recursive-descent parser rather than a parsing library: the
grammar is five rules (OR of ANDs of optionally negated terms or parenthesised groups), every
error must point at the token that caused it, and values are read by the field's kind, which a
grammar file could not know. Names resolve through segments.rules' field registry: standard
names (and a few aliases) first, then custom field keys, then `cf.key`.

query_parse() returns a clean tree (rules_clean has run); query_text() writes a tree back as
text, so that parse(query_text(parse(s))) == parse(s).
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from contacts.models import Tag
from leadcrm.models import Membership, User, Workspace
from segments.models import Segment
from segments.rules import (
    CUSTOM_PREFIX,
    EMPTY_TREE,
    MAX_DEPTH,
    NEGATIVE,
    POSITIVE,
    STANDARD_BY_NAME,
    FieldRegistry,
    FieldSpec,
    Kind,
    RulesInvalid,
    field_registry,
    is_group,
    rules_clean,
)

MAX_QUERY_LENGTH = 1000
MAX_NESTING = 2 * MAX_DEPTH  # "(" and "-" together; a tree nests groups at most MAX_DEPTH
ALIASES = {
    "tags": "tag",
    "consent": "consent_status",
    "dnc": "do_not_contact",
    "name": "search",
    "created_at": "created",
    "updated_at": "updated",
    "segments": "segment",
    "quality": "quality_score",
}
# The field name of each alias-free standard field, for query_text.
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[a-z][a-z0-9_]*)?\Z")
_DAYS_RE = re.compile(r"(\d{1,6})([dw])\Z", re.ASCII)
_SPECIAL = set(' \t\r\n"()\\')


class QueryError(ValueError):
    """A query that cannot be read; `start`/`end` index the bad part of the text."""

    def __init__(self, message: str, start: int, end: int):
        super().__init__(message)
        self.message, self.start, self.end = message, start, max(end, start + 1)


# Lexing --------------------------------------------------------------------------------------


@dataclass
class Piece:
    text: str
    quoted: bool


@dataclass
class Token:
    kind: str  # "(", ")", "-", "OR", "term"
    start: int
    end: int
    name: str = ""  # a term's field name ("" for a search word)
    name_end: int = 0
    pieces: list[Piece] = field(default_factory=list)  # a term's value (or search word)


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(ch, i, i + 1))
            i += 1
        elif ch == "-" and i + 1 < n and not text[i + 1].isspace():
            tokens.append(Token("-", i, i + 1))
            i += 1
        else:
            token = _term(text, i)
            if token.name == "" and _plain(token) == "OR" and not token.pieces[0].quoted:
                token = Token("OR", token.start, token.end)
            tokens.append(token)
            i = token.end
    return tokens


def _term(text: str, start: int) -> Token:
    """One term: `name:value` or a search word; quoted parts may hold spaces and parentheses."""
    pieces: list[Piece] = []
    i, n = start, len(text)
    buffer: list[str] = []
    name, name_end = "", 0
    while i < n and not text[i].isspace() and text[i] not in "()":
        ch = text[i]
        if ch == '"':
            if buffer:
                pieces.append(Piece("".join(buffer), False))
                buffer = []
            quoted, i = _quoted(text, i)
            pieces.append(Piece(quoted, True))
            continue
        if ch == ":" and not name and not pieces and _NAME_RE.match("".join(buffer)):
            name, name_end = "".join(buffer), i
            buffer = []
            i += 1
            continue
        buffer.append(ch)
        i += 1
    if buffer:
        pieces.append(Piece("".join(buffer), False))
    return Token("term", start, i, name=name, name_end=name_end, pieces=pieces)


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The text of a quoted part starting at `start` and the index after its closing quote."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise QueryError("This quote is never closed.", start, len(text))


def _plain(token: Token) -> str:
    return "".join(p.text for p in token.pieces)


# Parsing -------------------------------------------------------------------------------------


@dataclass
class Node:
    """A parsed node with the span of text it came from (to place rules_clean's messages)."""

    start: int
    end: int
    condition: dict | None = None
    match: str = ""
    children: list["Node"] = field(default_factory=list)
    search_words: list[str] = field(default_factory=list)  # a bare search, merged later
    value_start: int = -1  # where a condition's value starts (its problems are there)


class Parser:
    def __init__(self, text: str, *, workspace: Workspace, user: User | None, registry):
        self.text, self.workspace, self.user, self.registry = text, workspace, user, registry
        self.tokens = _tokens(text)
        self.at = 0
        self.depth = 0  # open "(" and "-": recursion, bounded well below Python's limit

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.any_of()
        extra = self.peek()
        if extra is not None:  # only a stray ")" stops any_of() early
            raise QueryError("This parenthesis closes nothing.", extra.start, extra.end)
        return node

    def any_of(self) -> Node:
        first = self.peek()
        if first is not None and first.kind == "OR":
            raise QueryError("OR needs a condition on each side.", first.start, first.end)
        parts = [self.all_of()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            following = self.peek()
            if following is None or following.kind in ("OR", ")"):
                raise QueryError("OR needs a condition on each side.", token.start, token.end)
            parts.append(self.all_of())
        if len(parts) == 1:
            return parts[0]
        return Node(parts[0].start, parts[-1].end, match="any", children=parts)

    def all_of(self) -> Node:
        parts: list[Node] = []
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            parts.append(self.unary())
        if not parts:  # the next token is a ")" that opened nothing
            token = self.take()
            raise QueryError("This parenthesis closes nothing.", token.start, token.end)
        parts = _merge_search(parts)
        if len(parts) == 1:
            return parts[0]
        return Node(parts[0].start, parts[-1].end, match="all", children=parts)

    def unary(self) -> Node:
        token = self.take()
        if token.kind in ("-", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                message = f"Parentheses and “-” nest at most {MAX_NESTING} deep here."
                raise QueryError(message, token.start, token.end)
            try:
                return self.nested(token)
            finally:
                self.depth -= 1
        if token.kind == ")":  # pragma: no cover - all_of() stops at ")"
            raise QueryError("This parenthesis closes nothing.", token.start, token.end)
        return self.term(token)

    def nested(self, token: Token) -> Node:
        if token.kind == "-":
            following = self.peek()
            if following is None or following.kind in ("OR", ")", "-"):
                message = "Put the condition to exclude right after “-”."
                raise QueryError(message, token.start, token.end)
            node = self.unary()
            return self.negate(_finish_search(node), token.start)
        if token.kind == "(":
            following = self.peek()
            if following is None:
                raise QueryError("This parenthesis is never closed.", token.start, token.end)
            if following.kind == ")":
                raise QueryError("Empty parentheses.", token.start, following.end)
            node = _finish_search(self.any_of())
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError("This parenthesis is never closed.", token.start, token.end)
            self.take()
            if node.condition is not None:  # "(a)" is just a
                return node
            return Node(token.start, closing.end, match=node.match, children=node.children)

    def negate(self, node: Node, start: int) -> Node:
        if node.condition is not None:
            op = node.condition["op"]
            twin = NEGATIVE.get(op) or POSITIVE.get(op)
            if twin in self.registry.get(node.condition["field"]).ops:
                return Node(start, node.end, condition={**node.condition, "op": twin})
            return Node(start, node.end, match="none", children=[node])
        if node.match == "any":
            return Node(start, node.end, match="none", children=node.children)
        if node.match == "none":  # NOT NOT x is x
            if len(node.children) == 1:
                return node.children[0]
            return Node(start, node.end, match="any", children=node.children)
        return Node(start, node.end, match="none", children=[node])

    def term(self, token: Token) -> Node:
        if not token.name:
            words = _plain(token)
            return Node(token.start, token.end, search_words=[words])
        spec = self.resolve(token)
        if not token.pieces:
            message = f"Give a value after “{token.name}:”."
            raise QueryError(message, token.start, token.end)
        try:
            condition = self.condition(spec, token)
        except ValidationError as error:
            value_start = token.name_end + 1
            raise QueryError(" ".join(error.messages), value_start, token.end) from None
        return Node(token.start, token.end, condition=condition, value_start=token.name_end + 1)

    def resolve(self, token: Token) -> FieldSpec:
        name = token.name.lower()
        name = ALIASES.get(name, name)
        spec = (
            STANDARD_BY_NAME.get(name)
            or self.registry.get(CUSTOM_PREFIX + name)
            or (self.registry.get(name) if name.startswith(CUSTOM_PREFIX) else None)
        )
        if spec is None or spec.kind == Kind.ACTIVITY:
            if spec is not None:
                message = "Activity conditions are built in a segment's rule editor."
            else:
                message = (
                    f"There is no field “{token.name}”. Use a field such as status, score, "
                    "tag or a custom field key, or put text with a colon in quotes."
                )
            raise QueryError(message, token.start, token.name_end)
        return spec

    # Values by kind ------------------------------------------------------------------------

    def condition(self, spec: FieldSpec, token: Token) -> dict:
        pieces = token.pieces
        raw = _plain(token)
        literal = len(pieces) == 1 and pieces[0].quoted
        if raw == "*" and not literal:
            if "not_empty" not in spec.ops:
                raise ValidationError(f"{spec.label} always has a value.")
            return {"field": spec.name, "op": "not_empty"}
        if literal and raw == "" and "empty" in spec.ops:
            return {"field": spec.name, "op": "empty"}
        kind = spec.kind
        if kind == Kind.TEXT:
            return self.text_condition(spec, pieces)
        if kind == Kind.SEARCH:
            return {"field": spec.name, "op": "contains", "value": raw}
        if kind == Kind.CHOICE:
            items = _items(pieces)
            if len(items) > 1:
                return {"field": spec.name, "op": "in", "value": items}
            return {"field": spec.name, "op": "is", "value": items[0]}
        if kind == Kind.NUMBER:
            return self.number_condition(spec, raw, literal)
        if kind in (Kind.DATETIME, Kind.DATE):
            return self.date_condition(spec, raw, literal)
        if kind == Kind.BOOLEAN:
            return {"field": spec.name, "op": "is", "value": raw}
        if kind == Kind.OWNER:
            return self.owner_condition(spec, raw)
        if kind == Kind.TAGS:
            return {"field": spec.name, "op": "has", "value": self.tag_id(raw)}
        if kind == Kind.SEGMENT:
            return {"field": spec.name, "op": "in", "value": self.segment_id(raw)}
        raise ValidationError(f"{spec.label} cannot be searched here.")  # pragma: no cover

    def text_condition(self, spec: FieldSpec, pieces: list[Piece]) -> dict:
        first, last = pieces[0], pieces[-1]
        star_start = not first.quoted and first.text.startswith("*")
        star_end = (
            not last.quoted and last.text.endswith("*") and (len(pieces) > 1 or len(first.text) > 1)
        )
        value = "".join(p.text for p in pieces)
        if star_start:
            value = value[1:]
        if star_end:
            value = value[:-1]
        if star_start and star_end:
            op = "contains"
        elif star_end:
            op = "starts_with"
        elif star_start:
            raise ValidationError("Use *text* for “contains” or text* for “starts with”.")
        else:
            op = "is"
        return {"field": spec.name, "op": op, "value": value}

    def number_condition(self, spec: FieldSpec, raw: str, literal: bool) -> dict:
        if not literal:
            for prefix, op in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
                if raw.startswith(prefix):
                    return {"field": spec.name, "op": op, "value": raw[len(prefix) :]}
            if ".." in raw:
                low, _, high = raw.partition("..")
                return {"field": spec.name, "op": "between", "value": [low, high]}
        return {"field": spec.name, "op": "is", "value": raw}

    def date_condition(self, spec: FieldSpec, raw: str, literal: bool) -> dict:
        if not literal:
            if raw.startswith((">=", "<=")):
                raise ValidationError("Use > or < with dates (after, before), or a range a..b.")
            for prefix, op, days_op in (
                (">", "after", "more_than_days_ago"),
                ("<", "before", "less_than_days_ago"),
            ):
                if raw.startswith(prefix):
                    rest = raw[1:]
                    days = _DAYS_RE.match(rest)
                    if days:
                        count = int(days.group(1)) * (7 if days.group(2) == "w" else 1)
                        return {"field": spec.name, "op": days_op, "value": count}
                    return {"field": spec.name, "op": op, "value": rest}
            if ".." in raw:
                low, _, high = raw.partition("..")
                return {"field": spec.name, "op": "between", "value": [low, high]}
        return {"field": spec.name, "op": "on", "value": raw}

    def owner_condition(self, spec: FieldSpec, raw: str) -> dict:
        word = raw.strip().lower()
        if word == "none":
            return {"field": spec.name, "op": "empty"}
        members = Membership.objects.filter(workspace=self.workspace)
        if word == "me":
            if self.user is None or not members.filter(user=self.user).exists():
                raise ValidationError("“me” means the person searching; there is nobody here.")
            return {"field": spec.name, "op": "is", "value": self.user.pk}
        user_id = (
            members.annotate(email=Lower("user__email"))
            .filter(email=word)
            .values_list("user_id", flat=True)
            .first()
        )
        if user_id is None:
            raise ValidationError(
                f"No member has the email “{raw[:80]}”; use me, none or an email."
            )
        return {"field": spec.name, "op": "is", "value": user_id}

    def tag_id(self, raw: str) -> int:
        wanted = raw.strip().lower()
        tags = Tag.objects.filter(workspace=self.workspace).annotate(lower=Lower("name"))
        pk = tags.filter(lower=wanted).values_list("pk", flat=True).first()
        if pk is None:
            raise ValidationError(f"There is no tag “{raw[:60]}”.")
        return pk

    def segment_id(self, raw: str) -> int:
        segments = Segment.objects.filter(workspace=self.workspace)
        by_name = list(
            segments.annotate(lower=Lower("name"))
            .filter(lower=raw.strip().lower())
            .values_list("pk", flat=True)[:2]
        )
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            raise ValidationError(f"Several segments are named “{raw[:60]}”; use its number.")
        number = raw.isascii() and raw.isdecimal() and len(raw) < 19
        if number and segments.filter(pk=int(raw)).exists():
            return int(raw)
        raise ValidationError(f"There is no segment “{raw[:60]}”.")


def _items(pieces: list[Piece]) -> list[str]:
    """Values split on unquoted commas: a,"b, c",d → [a, b, c, d]."""
    items, current = [], ""
    for piece in pieces:
        if piece.quoted:
            current += piece.text
            continue
        parts = piece.text.split(",")
        current += parts[0]
        for part in parts[1:]:
            items.append(current)
            current = part
    items.append(current)
    return [item for item in items if item != ""] or [""]


def _merge_search(parts: list[Node]) -> list[Node]:
    """Consecutive bare words form one search condition."""
    merged: list[Node] = []
    for part in parts:
        if part.search_words and merged and merged[-1].search_words:
            merged[-1].search_words.extend(part.search_words)
            merged[-1].end = part.end
        else:
            merged.append(part)
    return [_finish_search(part) for part in merged]


def _finish_search(node: Node) -> Node:
    if node.search_words:
        value = " ".join(" ".join(node.search_words).split())
        return Node(
            node.start, node.end, condition={"field": "search", "op": "contains", "value": value}
        )
    return node


def _as_tree(node: Node | None, spans: dict, path: tuple = ()) -> dict:
    if node is None:
        spans[()] = (0, 0)
        return dict(EMPTY_TREE)
    start = node.value_start if node.value_start >= 0 else node.start
    spans[path] = (start, node.end)
    if node.condition is not None:
        if path == ():
            spans[(0,)] = (start, node.end)
            return {"match": "all", "children": [node.condition]}
        return node.condition
    children = [_as_tree(child, spans, (*path, i)) for i, child in enumerate(node.children)]
    return {"match": node.match, "children": children}


def query_parse(
    text: str,
    *,
    workspace: Workspace,
    user: User | None = None,
    registry: FieldRegistry | None = None,
) -> dict:
    """The clean rule tree a query means, or QueryError pointing at the bad part."""
    text = text or ""
    if len(text) > MAX_QUERY_LENGTH:
        message = f"A search can be at most {MAX_QUERY_LENGTH:,} characters long."
        raise QueryError(message, MAX_QUERY_LENGTH, len(text))
    registry = registry or field_registry(workspace)
    node = Parser(text, workspace=workspace, user=user, registry=registry).parse()
    spans: dict[tuple, tuple[int, int]] = {}
    tree = _as_tree(node, spans)
    try:
        return rules_clean(tree, workspace=workspace, registry=registry)
    except RulesInvalid as invalid:
        issue = invalid.issues[0]
        start, end = _span_for(issue.path, spans, len(text))
        raise QueryError(issue.message, start, end) from None


def _span_for(path: tuple, spans: dict, length: int) -> tuple[int, int]:
    while path not in spans and path:
        path = path[:-1]
    start, end = spans.get(path, (0, length))
    return start, end if end > start else length


def is_plain_search(tree: dict) -> bool:
    """True for the empty tree and for a tree that is just a name/email/company search."""
    children = tree.get("children", [])
    if tree.get("match", "all") != "all":
        return False
    return not children or (
        len(children) == 1 and not is_group(children[0]) and children[0].get("field") == "search"
    )


# Writing back --------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bare_ok(value: str) -> bool:
    return (
        value != ""
        and not (_SPECIAL & set(value))
        and not value.startswith(("*", "-", ">", "<"))
        and not value.endswith("*")
        and "," not in value
        and ".." not in value
        and ":" not in value
        and value != "OR"
    )


def _value(value: str) -> str:
    return value if _bare_ok(value) else _quote(value)


class _Writer:
    def __init__(self, workspace: Workspace, registry: FieldRegistry):
        self.workspace, self.registry = workspace, registry
        self._names: dict[str, dict[int, str]] = {}

    def names(self, what: str) -> dict[int, str]:
        if what not in self._names:
            ws = self.workspace
            if what == "tag":
                rows = Tag.objects.filter(workspace=ws).values_list("pk", "name")
            elif what == "owner":
                rows = Membership.objects.filter(workspace=ws).values_list("user_id", "user__email")
            else:
                rows = Segment.objects.filter(workspace=ws).values_list("pk", "name")
            self._names[what] = dict(rows)
        return self._names[what]

    def node(self, node: dict, *, nested: bool) -> str | None:
        if not is_group(node):
            return self.condition(node)
        parts = [self.node(child, nested=True) for child in node["children"]]
        if any(part is None for part in parts) or not parts:
            return None if parts else ("" if not nested else None)
        match, children = node["match"], node["children"]
        if match == "none":
            if len(parts) > 1:
                return "-(" + " OR ".join(parts) + ")"
            child = children[0]
            if not is_group(child):
                twin = NEGATIVE.get(child["op"]) or POSITIVE.get(child["op"])
                spec = self.registry.get(child["field"])
                if twin in spec.ops:  # NOT(city is not x) is city is x
                    return self.condition({**child, "op": twin})
                if spec.kind == Kind.SEARCH and len(child["value"].split()) > 1:
                    return f"-({parts[0]})"
            return "-" + parts[0]
        if match == "all":  # side-by-side searches would merge into one when read back
            for i in range(1, len(parts)):
                if _is_search(children[i]) and _is_search(children[i - 1]):
                    parts[i] = f"({parts[i]})"
        joined = (" OR " if match == "any" else " ").join(parts)
        return f"({joined})" if nested and len(parts) > 1 else joined

    def field_name(self, spec: FieldSpec) -> str:
        if not spec.is_custom:
            return spec.name
        key = spec.name[len(CUSTOM_PREFIX) :]
        clash = key in STANDARD_BY_NAME or key in ALIASES
        return spec.name if clash else key

    def condition(self, condition: dict) -> str | None:
        spec = self.registry.get(condition["field"])
        if spec is None or spec.kind == Kind.ACTIVITY:
            return None
        op, value = condition["op"], condition.get("value")
        sign = ""
        if op in NEGATIVE and op != "not_empty":
            sign, op = "-", NEGATIVE[op]
        name = self.field_name(spec)
        if op == "empty":
            return f"-{name}:*"
        if op == "not_empty":
            return f"{name}:*"
        text = self.value_text(spec, op, value)
        if text is None:
            return None
        if spec.kind == Kind.SEARCH and not sign:
            return text
        return f"{sign}{name}:{text}"

    def value_text(self, spec: FieldSpec, op: str, value: Any) -> str | None:
        kind = spec.kind
        if kind == Kind.SEARCH:
            return " ".join(_value(word) for word in value.split())
        if kind == Kind.TEXT:
            quoted = _value(value)
            return {"is": quoted, "contains": f"*{quoted}*", "starts_with": f"{quoted}*"}[op]
        if kind == Kind.CHOICE:
            values = value if op == "in" else [value]
            return ",".join(_value(v) for v in values)
        if kind == Kind.NUMBER:
            if op == "between":
                return f"{value[0]}..{value[1]}"
            return {"is": "", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op] + str(value)
        if kind in (Kind.DATETIME, Kind.DATE):
            return {
                "on": lambda: value,
                "before": lambda: f"<{value}",
                "after": lambda: f">{value}",
                "between": lambda: f"{value[0]}..{value[1]}",
                "less_than_days_ago": lambda: f"<{value}d",
                "more_than_days_ago": lambda: f">{value}d",
            }[op]()
        if kind == Kind.BOOLEAN:
            return "yes" if value else "no"
        what = {Kind.OWNER: "owner", Kind.TAGS: "tag", Kind.SEGMENT: "segment"}[kind]
        name = self.names(what).get(value)
        if name is None:
            return None
        if what == "segment":
            same = [pk for pk, n in self.names(what).items() if n.lower() == name.lower()]
            if len(same) > 1 or name.isdecimal():
                return str(value)
        return _value(name)


def _is_search(node: dict) -> bool:
    return not is_group(node) and node.get("field") == "search"


def query_text(
    tree: dict, *, workspace: Workspace, registry: FieldRegistry | None = None
) -> str | None:
    """The tree as query text, or None when the language cannot express it (activities)."""
    writer = _Writer(workspace, registry or field_registry(workspace))
    return writer.node(tree or EMPTY_TREE, nested=False)
