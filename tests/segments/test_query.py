"""The query language (PRODUCT 10): what each text means, where errors point, and round trips."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments.query import QueryError, is_plain_search, query_parse, query_text
from tests.contacts.factories import CustomFieldFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(ws, owner, rep):
    CustomFieldFactory(
        workspace=ws, key="industry", type="choice", choices=["SaaS", "Technology", "Real Estate"]
    )
    CustomFieldFactory(workspace=ws, key="budget", type="number")
    CustomFieldFactory(workspace=ws, key="renewal", type="date")
    CustomFieldFactory(workspace=ws, key="vip", type="boolean")
    CustomFieldFactory(workspace=ws, key="notes", type="text")
    CustomFieldFactory(workspace=ws, key="status", type="text")  # clashes with a standard name
    tags = {name: TagFactory(workspace=ws, name=name) for name in ["vip", "churned", "Big Deal"]}
    segments = {
        "Newsletter": SegmentFactory(workspace=ws, name="Newsletter", kind="static"),
        "Hot": SegmentFactory(workspace=ws, name="Hot", kind="dynamic"),
    }
    return {"ws": ws, "owner": owner, "rep": rep, "tags": tags, "segments": segments}


def parse(world, text, user=None):
    return query_parse(text, workspace=world["ws"], user=user or world["owner"].user)


def conditions(tree):
    return tree["children"]


def test_the_product_example_means_what_it_says(world):
    tags = world["tags"]
    tree = parse(
        world,
        'industry:SaaS country:"United States" score:>50 status:qualified tag:vip '
        "-tag:churned last_opened:<30d created:2025-01-01..2025-06-30 jane",
    )
    assert tree == {
        "match": "all",
        "children": [
            {"field": "cf.industry", "op": "is", "value": "SaaS"},
            {"field": "country", "op": "is", "value": "US"},
            {"field": "score", "op": "gt", "value": 50},
            {"field": "status", "op": "is", "value": "qualified"},
            {"field": "tag", "op": "has", "value": tags["vip"].pk},
            {"field": "tag", "op": "lacks", "value": tags["churned"].pk},
            {"field": "last_opened", "op": "less_than_days_ago", "value": 30},
            {"field": "created", "op": "between", "value": ["2025-01-01", "2025-06-30"]},
            {"field": "search", "op": "contains", "value": "jane"},
        ],
    }


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("city:berlin", {"field": "city", "op": "is", "value": "berlin"}),
        ('city:"New York"', {"field": "city", "op": "is", "value": "New York"}),
        ("city:ber*", {"field": "city", "op": "starts_with", "value": "ber"}),
        ("city:*erl*", {"field": "city", "op": "contains", "value": "erl"}),
        ('city:*"new york"*', {"field": "city", "op": "contains", "value": "new york"}),
        ('city:"a*"', {"field": "city", "op": "is", "value": "a*"}),
        ("city:*", {"field": "city", "op": "not_empty"}),
        ("-city:*", {"field": "city", "op": "empty"}),
        ('city:""', {"field": "city", "op": "empty"}),
        ("-city:berlin", {"field": "city", "op": "is_not", "value": "berlin"}),
        ("-city:*erl*", {"field": "city", "op": "not_contains", "value": "erl"}),
        ("status:Qualified", {"field": "status", "op": "is", "value": "qualified"}),
        ("status:new,contacted", {"field": "status", "op": "in", "value": ["new", "contacted"]}),
        (
            "-status:new,contacted",
            {"field": "status", "op": "not_in", "value": ["new", "contacted"]},
        ),
        ("country:usa", {"field": "country", "op": "is", "value": "US"}),
        ("score:50", {"field": "score", "op": "is", "value": 50}),
        ("score:>=50", {"field": "score", "op": "gte", "value": 50}),
        ("score:<=5", {"field": "score", "op": "lte", "value": 5}),
        ("score:<5", {"field": "score", "op": "lt", "value": 5}),
        ("score:10..20", {"field": "score", "op": "between", "value": [10, 20]}),
        ("budget:>1000.5", {"field": "cf.budget", "op": "gt", "value": 1000.5}),
        ("budget:*", {"field": "cf.budget", "op": "not_empty"}),
        ("created:2025-03-01", {"field": "created", "op": "on", "value": "2025-03-01"}),
        ("created:>2025-03-01", {"field": "created", "op": "after", "value": "2025-03-01"}),
        ("created:<2025-03-01", {"field": "created", "op": "before", "value": "2025-03-01"}),
        ("created:>90d", {"field": "created", "op": "more_than_days_ago", "value": 90}),
        ("last_activity:<2w", {"field": "last_activity", "op": "less_than_days_ago", "value": 14}),
        ("renewal:<2026-01-01", {"field": "cf.renewal", "op": "before", "value": "2026-01-01"}),
        ("vip:yes", {"field": "cf.vip", "op": "is", "value": True}),
        ("dnc:no", {"field": "do_not_contact", "op": "is", "value": False}),
        ("consent:opted_in", {"field": "consent_status", "op": "is", "value": "opted_in"}),
        ("owner:none", {"field": "owner", "op": "empty"}),
        ("owner:*", {"field": "owner", "op": "not_empty"}),
        ("cf.status:open", {"field": "cf.status", "op": "is", "value": "open"}),
        (
            'industry:"Real Estate",saas',
            {"field": "cf.industry", "op": "in", "value": ["Real Estate", "SaaS"]},
        ),
        ("STATUS:new", {"field": "status", "op": "is", "value": "new"}),
    ],
)
def test_values_by_kind(world, text, condition):
    assert conditions(parse(world, text)) == [condition]


def test_names_resolve_to_ids(world):
    owner, rep, tags, segments = world["owner"], world["rep"], world["tags"], world["segments"]
    assert conditions(parse(world, "owner:me")) == [
        {"field": "owner", "op": "is", "value": owner.user_id}
    ]
    assert conditions(parse(world, "owner:BOB@acme.test")) == [
        {"field": "owner", "op": "is", "value": rep.user_id}
    ]
    assert conditions(parse(world, 'tag:"big deal"')) == [
        {"field": "tag", "op": "has", "value": tags["Big Deal"].pk}
    ]
    assert conditions(parse(world, "segment:newsletter -segment:Hot")) == [
        {"field": "segment", "op": "in", "value": segments["Newsletter"].pk},
        {"field": "segment", "op": "not_in", "value": segments["Hot"].pk},
    ]
    assert conditions(parse(world, f"segment:{segments['Hot'].pk}")) == [
        {"field": "segment", "op": "in", "value": segments["Hot"].pk}
    ]


def test_bare_words_and_phrases_form_one_search(world):
    tree = parse(world, 'jane "van der" score:>1 smith')
    assert conditions(tree) == [
        {"field": "search", "op": "contains", "value": "jane van der"},
        {"field": "score", "op": "gt", "value": 1},
        {"field": "search", "op": "contains", "value": "smith"},
    ]
    assert is_plain_search(parse(world, "jane doe"))
    assert is_plain_search(parse(world, "   "))
    assert not is_plain_search(tree)
    assert parse(world, "") == {"match": "all", "children": []}


def test_words_that_only_look_like_syntax_are_search_words(world):
    assert conditions(parse(world, "e-mail 10:30 :x a-")) == [
        {"field": "search", "op": "contains", "value": "e-mail 10:30 :x a-"}
    ]
    assert conditions(parse(world, '"a:b" "OR"')) == [
        {"field": "search", "op": "contains", "value": "a:b OR"}
    ]


def test_or_binds_looser_than_and_and_parentheses_group(world):
    tree = parse(world, "status:new score:>50 OR tier:hot")
    assert tree == {
        "match": "any",
        "children": [
            {
                "match": "all",
                "children": [
                    {"field": "status", "op": "is", "value": "new"},
                    {"field": "score", "op": "gt", "value": 50},
                ],
            },
            {"field": "tier", "op": "is", "value": "hot"},
        ],
    }
    tree = parse(world, "status:new (score:>50 OR tier:hot)")
    assert tree["match"] == "all"
    assert tree["children"][1]["match"] == "any"


def test_negation_uses_the_twin_operator_or_a_none_group(world):
    # The root itself becomes the "none" group.
    assert parse(world, "-score:>50") == {
        "match": "none",
        "children": [{"field": "score", "op": "gt", "value": 50}],
    }
    assert parse(world, "-vip:yes") == {
        "match": "none",
        "children": [{"field": "cf.vip", "op": "is", "value": True}],
    }
    assert conditions(parse(world, "status:new -jane")) == [
        {"field": "status", "op": "is", "value": "new"},
        {"match": "none", "children": [{"field": "search", "op": "contains", "value": "jane"}]},
    ]
    none_of = parse(world, "-(status:new OR tier:hot)")
    assert none_of["match"] == "none" and len(none_of["children"]) == 2
    not_all = parse(world, "-(status:new tier:hot)")
    assert not_all["match"] == "none" and not_all["children"][0]["match"] == "all"
    assert parse(world, "-(-(status:new OR tier:hot))")["match"] == "any"


@pytest.mark.parametrize(
    ("text", "bad", "message"),
    [
        ("status:new colour:red", "colour", "There is no field “colour”"),
        ("score:>fifty", ">fifty", "Enter a number"),
        ("score:", "score:", "Give a value after “score:”"),
        ('city:"berlin', '"berlin', "never closed"),
        ("(status:new", "(", "never closed"),
        ("status:new)", ")", "closes nothing"),
        (")", ")", "closes nothing"),
        ("OR status:new", "OR", "OR needs a condition on each side"),
        ("status:new OR", "OR", "OR needs a condition on each side"),
        ("a OR OR b", "OR", "OR needs a condition on each side"),
        ("status:new - ", "- ", ""),  # a lone dash is a search word, not an error
        ("( )", "( )", "Empty parentheses"),
        ("tag:unknown", "unknown", "There is no tag “unknown”"),
        ("segment:nope", "nope", "There is no segment “nope”"),
        ("owner:who@else.test", "who@else.test", "No member has the email"),
        ("status:lost", "lost", "“lost” is not one of the choices"),
        ("created:>=2025-01-01", ">=2025-01-01", "Use > or < with dates"),
        ("created:2025-02-30", "2025-02-30", "Enter a date as YYYY-MM-DD"),
        ("score:20..10", "20..10", "must not be larger"),
        ("activity:x", "activity", "rule editor"),
        ("city:*lin", "*lin", "Use *text*"),
        ("--status:new", "-", "Put the condition to exclude right after"),
    ],
)
def test_errors_point_at_the_bad_token(world, text, bad, message):
    if not message:
        parse(world, text)  # parses
        return
    with pytest.raises(QueryError) as caught:
        parse(world, text)
    error = caught.value
    assert message in error.message
    assert text[error.start : error.end].strip() == bad.strip()


def test_an_ambiguous_segment_name_asks_for_its_number(world):
    SegmentFactory(workspace=world["ws"], name="Hot", kind="static")
    with pytest.raises(QueryError, match="Several segments are named"):
        parse(world, "segment:hot")


def test_other_workspaces_names_are_unknown(world, outsider):
    from tests.contacts.factories import TagFactory as Tags

    Tags(workspace=outsider.workspace, name="theirs")
    with pytest.raises(QueryError, match="There is no tag"):
        parse(world, "tag:theirs")


def test_a_too_long_query_is_refused_where_it_becomes_too_long(world):
    with pytest.raises(QueryError) as caught:
        parse(world, "a " * 600)
    assert caught.value.start == 1000


def test_nesting_deeper_than_the_limit_points_at_the_group(world):
    text = "tier:hot"
    for _ in range(10):
        text = f"status:new OR (score:>1 {text})"
    with pytest.raises(QueryError, match="at most 10 levels"):
        parse(world, text)


# Round trips -----------------------------------------------------------------------------

ROUND_TRIPS = [
    "",
    "jane",
    "jane doe",
    'industry:"Real Estate"',
    'industry:"Real Estate",SaaS',
    'city:*"new york"*',
    'city:"new york"*',
    "city:ber* -city:berlin",
    '-(status:new OR tier:hot) score:>=10 "a:b"',
    "status:new score:>50 OR tier:hot",
    "(a OR b) (c OR -d)",
    "-(status:new tier:hot)",
    "-(jane doe) -smith",
    "owner:me owner:* -owner:none",
    'tag:vip -tag:churned tag:"big deal"',
    "segment:Newsletter -segment:hot",
    "cf.status:open status:new",
    "created:2025-01-01..2025-02-01 last_opened:>30d renewal:<2026-01-01 birthday:*",
    "vip:no dnc:yes budget:-5.5 budget:1e-05",
    'notes:"say \\"hi\\"" notes:"back\\\\slash"',
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_query_text_round_trips(world, text):
    tree = parse(world, text)
    written = query_text(tree, workspace=world["ws"])
    assert written is not None
    assert parse(world, written) == tree


def test_query_text_of_a_tree_it_cannot_express_is_none(world):
    tree = {
        "match": "all",
        "children": [
            {
                "field": "activity",
                "op": "at_least",
                "value": {"type": "page_visited", "url": "/pricing", "days": None, "count": 2},
            }
        ],
    }
    assert query_text(tree, workspace=world["ws"]) is None


def test_query_text_writes_builder_trees_it_can_express(world):
    tree = {
        "match": "all",
        "children": [
            {"match": "none", "children": [{"field": "city", "op": "is_not", "value": "Berlin"}]},
            {"match": "any", "children": [{"field": "score", "op": "gt", "value": 5}]},
        ],
    }
    assert query_text(tree, workspace=world["ws"]) == "city:Berlin score:>5"


# Random queries ------------------------------------------------------------------------------

_words = st.text(alphabet="abcXYZé-_.:*,\"'\\()<>= ", min_size=1, max_size=8)


def _quoted(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


_terms = st.one_of(
    _words.map(_quoted),
    st.sampled_from(["jane", "doe", "e-mail", "x:y"]),
    st.tuples(st.sampled_from(["city", "notes", "source"]), st.sampled_from(["", "-"]), _words).map(
        lambda t: f"{t[1]}{t[0]}:*{_quoted(t[2])}*"
    ),
    st.integers(-(10**6), 10**6).map(lambda n: f"score:>{n}"),
    st.sampled_from(
        [
            "status:new,contacted",
            "-tier:hot",
            "tag:vip",
            "-tag:churned",
            "owner:me",
            "vip:yes",
            "created:<30d",
            "last_opened:>2w",
            "renewal:2025-01-01..2025-12-31",
            "budget:1..2",
            "segment:Newsletter",
            "-segment:hot",
            "industry:saas",
            "-city:*",
        ]
    ),
)


def _query(depth=2):
    if depth == 0:
        return _terms
    inner = st.deferred(lambda: _query(depth - 1))
    group = st.lists(inner, min_size=1, max_size=3).flatmap(
        lambda parts: st.sampled_from([" ", " OR "]).map(lambda sep: "(" + sep.join(parts) + ")")
    )
    unit = st.one_of(_terms, group, group.map(lambda g: "-" + g))
    return st.lists(unit, min_size=1, max_size=4).flatmap(
        lambda parts: st.sampled_from([" ", " OR "]).map(lambda sep: sep.join(parts))
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_query())
def test_random_queries_round_trip(world, text):
    try:
        tree = parse(world, text)
    except QueryError as error:  # e.g. "search for at most 8 words": must point into the text
        assert 0 <= error.start < error.end <= max(len(text), error.start + 1)
        return
    written = query_text(tree, workspace=world["ws"])
    assert written is not None
    assert parse(world, written) == tree


def test_deep_nesting_is_an_error_not_a_crash(world):
    for text in ["(" * 330 + "a" + ")" * 330, "-(" * 200 + "a" + ")" * 200]:
        with pytest.raises(QueryError, match="nest at most"):
            parse(world, text)
    with pytest.raises(QueryError, match="right after “-”"):
        parse(world, "-" * 400 + "a")
