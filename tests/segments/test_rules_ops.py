"""Every field kind × operator of docs/segment-rules.md on hand-picked leads, and the trees
rules_clean() refuses, with the paths it reports.

Each `assert_matches` checks the compiler (segments.rules.rules_condition on the database) and
the oracle (tests/segments/oracle.py, plain Python) against the leads named in the test, so a
wrong expectation, a wrong compiler and a wrong oracle all show up here.
Leads are named by their email's local part.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pycountry
import pytest

from contacts.models import Company, Lead
from segments.models import SegmentKind
from segments.rules import (
    EMPTY_TREE,
    RulesInvalid,
    field_registry,
    rules_clean,
    rules_condition,
    segment_leads,
)
from tests.contacts.factories import (
    ActivityFactory,
    CustomFieldFactory,
    LeadFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)
from tests.segments.oracle import ctx_from_db, evaluate, ops_for, standard_kinds

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
COUNTRY_CODES = sorted(c.alpha_2 for c in pycountry.countries)
BERLIN = ZoneInfo("Europe/Berlin")
_MISSING = object()


# Helpers -------------------------------------------------------------------------------------


def cond(field: str, op: str, value=_MISSING) -> dict:
    node = {"field": field, "op": op}
    if value is not _MISSING:
        node["value"] = value
    return node


def tree(*children, match: str = "all") -> dict:
    return {"match": match, "children": list(children)}


def lead(ws, name: str, *, company: str = "", tags=(), activities=(), **fields) -> Lead:
    """A lead called `name` (its email is name@x.test); activities are (type, when, url)."""
    fields.setdefault("first_name", "")
    fields.setdefault("last_name", "")
    if company:
        fields["company"], _ = Company.objects.get_or_create(workspace=ws, name=company)
    created = LeadFactory(workspace=ws, email=f"{name}@x.test", **fields)
    created.tags.set(tags)
    for type_, when, url in activities:
        ActivityFactory(lead=created, type=type_, occurred_at=when, url=url)
    return created


def _name(email: str) -> str:
    return email.split("@")[0]


def compiled(ws, clean: dict, now: datetime = NOW) -> set[str]:
    condition = rules_condition(clean, workspace=ws, now=now)
    emails = Lead.objects.filter(workspace=ws, deleted_at=None).filter(condition)
    return {_name(e) for e in emails.values_list("email", flat=True)}


def oracled(ws, clean: dict, now: datetime = NOW) -> set[str]:
    ctx = ctx_from_db(ws, now)
    return {
        _name(x.email) for x in Lead.objects.filter(workspace=ws) if evaluate(clean, x, ctx=ctx)
    }


def assert_matches(ws, rules: dict, expected: set[str], *, now: datetime = NOW) -> None:
    """The compiler and the oracle both select exactly `expected` (a condition is wrapped)."""
    if "match" not in rules:
        rules = tree(rules)
    clean = rules_clean(rules, workspace=ws)
    by_compiler, by_oracle = compiled(ws, clean, now), oracled(ws, clean, now)
    problems = [
        f"{who} selects {sorted(got)}"
        for who, got in [("compiler", by_compiler), ("oracle", by_oracle)]
        if got != expected
    ]
    assert not problems, f"expected {sorted(expected)}; " + "; ".join(problems)


def issues(ws, rules, **kwargs) -> list[tuple[tuple, str]]:
    with pytest.raises(RulesInvalid) as info:
        rules_clean(rules, workspace=ws, **kwargs)
    return [(tuple(issue.path), issue.message) for issue in info.value.issues]


def paths(ws, rules, **kwargs) -> list[tuple]:
    """The paths of the issues, in tree order (the spec does not order the issues)."""
    return sorted(path for path, _ in issues(ws, rules, **kwargs))


@pytest.fixture
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


def at(y, m, d, hh=0, mm=0, ss=0, us=0, tz=BERLIN) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=tz)


# The tree ------------------------------------------------------------------------------------


def test_empty_groups_and_the_empty_tree(ws):
    lead(ws, "a")
    lead(ws, "b")
    assert_matches(ws, tree(match="all"), {"a", "b"})
    assert_matches(ws, tree(match="none"), {"a", "b"})
    assert_matches(ws, tree(match="any"), set())
    assert rules_clean({}, workspace=ws) == EMPTY_TREE == {"match": "all", "children": []}
    unset = SegmentFactory(workspace=ws, kind=SegmentKind.DYNAMIC, rules={})
    assert_matches(ws, cond("segment", "in", unset.pk), {"a", "b"})


def test_all_any_none_nest(ws):
    lead(ws, "berlin_hot", city="Berlin", score=90)
    lead(ws, "berlin_cold", city="Berlin", score=10)
    lead(ws, "paris_hot", city="Paris", score=90)
    hot, in_berlin = cond("score", "gt", 50), cond("city", "is", "berlin")
    assert_matches(ws, tree(hot, in_berlin), {"berlin_hot"})
    assert_matches(
        ws, tree(hot, in_berlin, match="any"), {"berlin_hot", "berlin_cold", "paris_hot"}
    )
    assert_matches(ws, tree(hot, in_berlin, match="none"), set())
    assert_matches(ws, tree(tree(hot, match="none"), in_berlin), {"berlin_cold"})


def test_trashed_leads_never_match(ws):
    lead(ws, "alive", city="Berlin")
    trashed = lead(ws, "trashed", city="Berlin", deleted_at=NOW - timedelta(days=1))
    static = SegmentFactory(workspace=ws, kind=SegmentKind.STATIC)
    SegmentMembershipFactory(segment=static, lead=trashed)
    assert_matches(ws, EMPTY_TREE, {"alive"})
    assert_matches(ws, tree(cond("city", "is", "Berlin")), {"alive"})
    dynamic = SegmentFactory(workspace=ws, kind=SegmentKind.DYNAMIC, rules=EMPTY_TREE)
    assert {x.email for x in segment_leads(dynamic, now=NOW)} == {"alive@x.test"}
    assert list(segment_leads(static, now=NOW)) == []


# text ----------------------------------------------------------------------------------------


@pytest.fixture
def cities(ws):
    lead(ws, "berlin", city="Berlin")
    lead(ws, "caps", city="BERLIN")
    lead(ws, "munich", city="München")
    lead(ws, "blank", city="")


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("is", "berlin", {"berlin", "caps"}),
        ("is", "BERLIN", {"berlin", "caps"}),
        ("is", "Berl", set()),
        ("is_not", "berlin", {"munich", "blank"}),
        ("contains", "ERL", {"berlin", "caps"}),
        ("contains", "ü", {"munich"}),
        ("contains", "Ü", set()),  # only A–Z fold
        ("not_contains", "erl", {"munich", "blank"}),
        ("starts_with", "BER", {"berlin", "caps"}),
        ("starts_with", "erlin", set()),
        ("empty", _MISSING, {"blank"}),
        ("not_empty", _MISSING, {"berlin", "caps", "munich"}),
    ],
)
def test_text_operators(ws, cities, op, value, expected):
    assert_matches(ws, cond("city", op, value), expected)


def test_text_folds_ascii_only(ws):
    lead(ws, "ecole_upper", city="ÉCOLE")
    lead(ws, "ecole_lower", city="école")
    lead(ws, "strasse", city="Straße")
    lead(ws, "istanbul", city="İstanbul")
    assert_matches(ws, cond("city", "is", "école"), {"ecole_lower"})
    assert_matches(ws, cond("city", "is", "ÉCOLE"), {"ecole_upper"})
    assert_matches(ws, cond("city", "is", "éCOLE"), {"ecole_lower"})  # "COLE" folds, é stays
    assert_matches(ws, cond("city", "is", "ecole"), set())
    assert_matches(ws, cond("city", "contains", "É"), {"ecole_upper"})
    assert_matches(ws, cond("city", "contains", "é"), {"ecole_lower"})
    assert_matches(ws, cond("city", "is", "STRAßE"), {"strasse"})
    assert_matches(ws, cond("city", "is", "STRASSE"), set())  # ß is not ss
    assert_matches(ws, cond("city", "is", "istanbul"), set())  # İ is not I
    assert_matches(ws, cond("city", "starts_with", "İST"), {"istanbul"})


def test_text_values_hold_up_to_200_characters(ws):
    lead(ws, "long", job_title="X" * 150)
    assert_matches(ws, cond("job_title", "is_not", "x" * 200), {"long"})
    assert_matches(ws, cond("job_title", "starts_with", "x" * 150), {"long"})
    assert paths(ws, tree(cond("job_title", "contains", "x" * 201))) == [(0,)]


def test_text_wildcards_and_backslashes_are_plain_characters(ws):
    lead(ws, "percent", city="100%")
    lead(ws, "thousand", city="1000")
    lead(ws, "underscore", city="a_b")
    lead(ws, "axb", city="axb")
    lead(ws, "backslash", city="C:\\Temp")
    assert_matches(ws, cond("city", "contains", "%"), {"percent"})
    assert_matches(ws, cond("city", "is", "100%"), {"percent"})
    assert_matches(ws, cond("city", "starts_with", "10%"), set())
    assert_matches(ws, cond("city", "is", "a_b"), {"underscore"})
    assert_matches(ws, cond("city", "contains", "_"), {"underscore"})
    assert_matches(ws, cond("city", "starts_with", "C:\\"), {"backslash"})
    assert_matches(ws, cond("city", "contains", "\\t"), {"backslash"})  # \T folded to \t
    assert_matches(ws, cond("city", "contains", "\\"), {"backslash"})


def test_is_not_and_not_contains_hold_on_empty_values(ws):
    lead(ws, "acme", company="Acme Corp")
    lead(ws, "nocompany")
    assert_matches(ws, cond("company", "is", "ACME CORP"), {"acme"})
    assert_matches(ws, cond("company", "is_not", "acme corp"), {"nocompany"})
    assert_matches(ws, cond("company", "not_contains", "x"), {"acme", "nocompany"})
    assert_matches(ws, cond("company", "empty"), {"nocompany"})
    assert_matches(ws, cond("company", "not_empty"), {"acme"})


def test_custom_text_is_empty_when_its_key_is_missing_or_blank(ws):
    CustomFieldFactory(workspace=ws, key="industry", type="text")
    lead(ws, "missing", attributes={})
    lead(ws, "blank", attributes={"industry": ""})
    lead(ws, "saas", attributes={"industry": "SaaS"})
    assert_matches(ws, cond("cf.industry", "empty"), {"missing", "blank"})
    assert_matches(ws, cond("cf.industry", "not_empty"), {"saas"})
    assert_matches(ws, cond("cf.industry", "is", "SAAS"), {"saas"})
    assert_matches(ws, cond("cf.industry", "is_not", "saas"), {"missing", "blank"})
    assert_matches(ws, cond("cf.industry", "contains", "aa"), {"saas"})
    assert_matches(ws, cond("cf.industry", "not_contains", "x"), {"missing", "blank", "saas"})
    assert_matches(ws, cond("cf.industry", "starts_with", "s"), {"saas"})


def test_a_custom_key_named_like_a_standard_field_or_a_lookup(ws):
    CustomFieldFactory(workspace=ws, key="city", type="text")
    CustomFieldFactory(workspace=ws, key="contains", type="text")
    lead(ws, "a", city="Berlin", attributes={"city": "Paris", "contains": "x"})
    lead(ws, "b", city="Paris", attributes={"city": "Berlin"})
    assert_matches(ws, cond("city", "is", "berlin"), {"a"})
    assert_matches(ws, cond("cf.city", "is", "berlin"), {"b"})
    assert_matches(ws, cond("cf.contains", "is", "X"), {"a"})
    assert_matches(ws, cond("cf.contains", "empty"), {"b"})


# choice --------------------------------------------------------------------------------------


@pytest.fixture
def funnel(ws):
    lead(ws, "new", status="new", country="US", contact_role="")
    lead(ws, "qualified", status="qualified", country="DE", contact_role="champion")
    lead(ws, "converted", status="converted", country="", contact_role="blocker")


@pytest.mark.parametrize(
    "field, op, value, expected",
    [
        ("status", "is", "qualified", {"qualified"}),
        ("status", "is_not", "qualified", {"new", "converted"}),
        ("status", "in", ["new", "converted"], {"new", "converted"}),
        ("status", "not_in", ["new", "converted"], {"qualified"}),
        ("country", "is", "US", {"new"}),
        ("country", "is_not", "US", {"qualified", "converted"}),
        ("country", "in", ["DE", "FR"], {"qualified"}),
        ("country", "not_in", ["DE"], {"new", "converted"}),
        ("country", "empty", _MISSING, {"converted"}),
        ("country", "not_empty", _MISSING, {"new", "qualified"}),
        ("contact_role", "empty", _MISSING, {"new"}),
        ("contact_role", "is_not", "champion", {"new", "converted"}),
    ],
)
def test_choice_operators(ws, funnel, field, op, value, expected):
    assert_matches(ws, cond(field, op, value), expected)


def test_rules_clean_normalises_values_and_the_clean_tree_is_what_counts(ws):
    lead(ws, "composed", city="Café")
    lead(ws, "decomposed", city="Cafe\u0301")
    rules = tree(
        cond("city", "is", "  CAFE\u0301 "),
        cond("score", "between", [10.0, 20]),
        cond("status", "in", ["new", "new", "qualified"]),
    )
    clean = rules_clean(rules, workspace=ws)
    assert clean["children"] == [
        cond("city", "is", "CAFÉ"),
        cond("score", "between", [10, 20]),
        cond("status", "in", ["new", "qualified"]),
    ]
    assert rules_clean(clean, workspace=ws) == clean
    # the value is NFC-normalised, the stored city is not: only the composed one matches
    assert_matches(ws, tree(cond("city", "is", "cafe\u0301")), {"composed"})
    assert_matches(ws, tree(cond("city", "is", "café")), {"composed"})


def test_country_names_are_cleaned_to_codes(ws):
    clean = rules_clean(tree(cond("country", "is", "USA")), workspace=ws)
    assert clean["children"][0]["value"] == "US"
    clean = rules_clean(tree(cond("country", "in", ["United States", "de"])), workspace=ws)
    assert clean["children"][0]["value"] == ["US", "DE"]


def test_custom_choice_is_empty_without_its_key(ws):
    CustomFieldFactory(workspace=ws, key="plan", type="choice", choices=["Free", "Pro"])
    lead(ws, "free", attributes={"plan": "Free"})
    lead(ws, "pro", attributes={"plan": "Pro"})
    lead(ws, "none", attributes={})
    assert_matches(ws, cond("cf.plan", "is", "Pro"), {"pro"})
    assert_matches(ws, cond("cf.plan", "is_not", "Pro"), {"free", "none"})
    assert_matches(ws, cond("cf.plan", "in", ["Free", "Pro"]), {"free", "pro"})
    assert_matches(ws, cond("cf.plan", "not_in", ["Free"]), {"pro", "none"})
    assert_matches(ws, cond("cf.plan", "empty"), {"none"})
    assert_matches(ws, cond("cf.plan", "not_empty"), {"free", "pro"})


# number --------------------------------------------------------------------------------------


@pytest.fixture
def scores(ws):
    for score in (0, 40, 50, 60, 100):
        lead(ws, f"s{score}", score=score)


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("is", 50, {"s50"}),
        ("is_not", 50, {"s0", "s40", "s60", "s100"}),
        ("gt", 50, {"s60", "s100"}),
        ("gte", 50, {"s50", "s60", "s100"}),
        ("lt", 50, {"s0", "s40"}),
        ("lte", 50, {"s0", "s40", "s50"}),
        ("between", [40, 60], {"s40", "s50", "s60"}),
        ("between", [50, 50], {"s50"}),
        # numbers need not be whole: a score never equals 50.5, and 50 < 50.5
        ("is", 50.5, set()),
        ("is_not", 49.5, {"s0", "s40", "s50", "s60", "s100"}),
        ("lt", 50.5, {"s0", "s40", "s50"}),
        ("gte", 49.5, {"s50", "s60", "s100"}),
        ("gt", -0.5, {"s0", "s40", "s50", "s60", "s100"}),
        ("between", [39.5, 50.5], {"s40", "s50"}),
    ],
)
def test_number_operators(ws, scores, op, value, expected):
    assert_matches(ws, cond("score", op, value), expected)


def test_custom_number_without_the_key_is_only_empty(ws):
    CustomFieldFactory(workspace=ws, key="size", type="number")
    lead(ws, "missing", attributes={})
    lead(ws, "zero", attributes={"size": 0})
    lead(ws, "half", attributes={"size": 1.5})
    lead(ws, "big", attributes={"size": 10**15 - 1})
    assert_matches(ws, cond("cf.size", "gte", 0), {"zero", "half", "big"})
    assert_matches(ws, cond("cf.size", "lt", 1), {"zero"})
    assert_matches(ws, cond("cf.size", "is", 1.5), {"half"})
    assert_matches(ws, cond("cf.size", "is_not", 0), {"missing", "half", "big"})
    assert_matches(ws, cond("cf.size", "between", [1, 2]), {"half"})
    assert_matches(ws, cond("cf.size", "gt", 10**15 - 2), {"big"})
    assert_matches(ws, cond("cf.size", "empty"), {"missing"})
    assert_matches(ws, cond("cf.size", "not_empty"), {"zero", "half", "big"})


# datetime ------------------------------------------------------------------------------------


@pytest.fixture
def day_edges(ws, berlin):
    """Leads created around 2025-06-10 in Berlin (UTC+2 then)."""
    lead(ws, "eve", created_at=at(2025, 6, 9, 23, 59, 59, 999999))
    lead(ws, "start", created_at=at(2025, 6, 10))
    lead(ws, "end", created_at=at(2025, 6, 10, 23, 59, 59, 999999))
    lead(ws, "next", created_at=at(2025, 6, 11))


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("on", "2025-06-10", {"start", "end"}),
        ("before", "2025-06-10", {"eve"}),
        ("after", "2025-06-10", {"next"}),
        ("between", ["2025-06-10", "2025-06-11"], {"start", "end", "next"}),
        ("between", ["2025-06-09", "2025-06-09"], {"eve"}),
    ],
)
def test_datetime_days_are_days_in_the_time_zone(ws, day_edges, op, value, expected):
    assert_matches(ws, cond("created", op, value), expected)


def test_days_ago_are_24_hour_steps_back_from_now(ws):
    lead(ws, "exactly", last_contacted_at=NOW - timedelta(days=30))
    lead(ws, "older", last_contacted_at=NOW - timedelta(days=30, microseconds=1))
    lead(ws, "newer", last_contacted_at=NOW - timedelta(days=29))
    lead(ws, "never", last_contacted_at=None)
    assert_matches(ws, cond("last_contacted", "less_than_days_ago", 30), {"exactly", "newer"})
    assert_matches(ws, cond("last_contacted", "more_than_days_ago", 30), {"older"})
    assert_matches(ws, cond("last_contacted", "less_than_days_ago", 0), set())
    assert_matches(ws, cond("last_contacted", "empty"), {"never"})
    assert_matches(ws, cond("last_contacted", "not_empty"), {"exactly", "older", "newer"})


def test_days_ago_count_real_hours_across_a_dst_change(ws, berlin):
    now = at(2025, 3, 30, 12)  # CEST; the clocks went forward at 02:00 this morning
    lead(ws, "inside", created_at=datetime(2025, 3, 29, 10, 30, tzinfo=UTC))  # 25½ h wall
    lead(ws, "outside", created_at=datetime(2025, 3, 29, 9, 30, tzinfo=UTC))
    for same_now in (now.astimezone(UTC), now):  # whichever zone `now` is written in
        assert_matches(ws, cond("created", "less_than_days_ago", 1), {"inside"}, now=same_now)
        assert_matches(ws, cond("created", "more_than_days_ago", 1), {"outside"}, now=same_now)
    assert_matches(ws, cond("created", "on", "2025-03-29"), {"inside", "outside"}, now=now)


def test_a_null_moment_is_neither_before_nor_after(ws):
    lead(ws, "captured", consent_captured_at=datetime(2025, 1, 1, 12, tzinfo=UTC))
    lead(ws, "never")
    for op, value in [("before", "2030-01-01"), ("after", "2000-01-01"), ("on", "2025-01-01")]:
        assert_matches(ws, cond("consent_captured", op, value), {"captured"})
    assert_matches(ws, cond("consent_captured", "more_than_days_ago", 0), {"captured"})
    assert_matches(
        ws, tree(cond("consent_captured", "before", "2030-01-01"), match="none"), {"never"}
    )


# date ----------------------------------------------------------------------------------------


def test_date_operators_use_todays_date_in_the_time_zone(ws, berlin):
    now = datetime(2025, 6, 15, 23, 30, tzinfo=UTC)  # already 16 June in Berlin
    lead(ws, "ten", birthday=date(2025, 6, 6))  # today − 10
    lead(ws, "eleven", birthday=date(2025, 6, 5))
    lead(ws, "none", birthday=None)
    assert_matches(ws, cond("birthday", "less_than_days_ago", 10), {"ten"}, now=now)
    assert_matches(ws, cond("birthday", "more_than_days_ago", 10), {"eleven"}, now=now)
    assert_matches(ws, cond("birthday", "on", "2025-06-06"), {"ten"}, now=now)
    assert_matches(ws, cond("birthday", "before", "2025-06-06"), {"eleven"}, now=now)
    assert_matches(ws, cond("birthday", "after", "2025-06-05"), {"ten"}, now=now)
    assert_matches(ws, cond("birthday", "between", ["2025-06-05", "2025-06-06"]), {"ten", "eleven"})
    assert_matches(ws, cond("birthday", "empty"), {"none"})
    assert_matches(ws, cond("birthday", "not_empty"), {"ten", "eleven"})


def test_custom_date_fields(ws):
    CustomFieldFactory(workspace=ws, key="renewal", type="date")
    lead(ws, "june", attributes={"renewal": "2025-06-10"})
    lead(ws, "dec", attributes={"renewal": "2024-12-31"})
    lead(ws, "missing", attributes={})
    assert_matches(ws, cond("cf.renewal", "on", "2025-06-10"), {"june"})
    assert_matches(ws, cond("cf.renewal", "before", "2025-01-01"), {"dec"})
    assert_matches(ws, cond("cf.renewal", "after", "2024-12-31"), {"june"})
    assert_matches(ws, cond("cf.renewal", "between", ["2024-12-31", "2025-06-10"]), {"june", "dec"})
    assert_matches(ws, cond("cf.renewal", "less_than_days_ago", 5), {"june"})  # today 06-15
    assert_matches(ws, cond("cf.renewal", "more_than_days_ago", 5), {"dec"})
    assert_matches(ws, cond("cf.renewal", "empty"), {"missing"})


# derived last_* ----------------------------------------------------------------------------


def test_last_opened_is_the_latest_open(ws):
    days = lambda n: NOW - timedelta(days=n)  # noqa: E731
    lead(ws, "recent", activities=[("email_opened", days(10), ""), ("email_opened", days(40), "")])
    lead(ws, "old", activities=[("email_opened", days(40), "")])
    lead(ws, "clicker", activities=[("email_clicked", days(1), "")])
    assert_matches(ws, cond("last_opened", "less_than_days_ago", 30), {"recent"})
    assert_matches(ws, cond("last_opened", "more_than_days_ago", 30), {"old"})
    assert_matches(ws, cond("last_opened", "empty"), {"clicker"})
    assert_matches(ws, cond("last_clicked", "not_empty"), {"clicker"})
    assert_matches(ws, cond("last_opened", "on", days(40).date().isoformat()), {"old"})
    assert_matches(ws, cond("last_visited", "empty"), {"recent", "old", "clicker"})


# boolean -------------------------------------------------------------------------------------


def test_boolean_fields(ws):
    CustomFieldFactory(workspace=ws, key="vip", type="boolean")
    lead(ws, "dnc", do_not_contact=True, attributes={"vip": True})
    lead(ws, "ok", do_not_contact=False, attributes={"vip": False})
    lead(ws, "unknown", attributes={})
    assert_matches(ws, cond("do_not_contact", "is", True), {"dnc"})
    assert_matches(ws, cond("do_not_contact", "is", False), {"ok", "unknown"})
    assert_matches(ws, cond("cf.vip", "is", True), {"dnc"})
    assert_matches(ws, cond("cf.vip", "is", False), {"ok"})


# owner, tags ---------------------------------------------------------------------------------


def test_owner_operators(ws, owner, rep):
    lead(ws, "alices", owner=owner.user)
    lead(ws, "bobs", owner=rep.user)
    lead(ws, "nobodys")
    alice = owner.user_id
    assert_matches(ws, cond("owner", "is", alice), {"alices"})
    assert_matches(ws, cond("owner", "is_not", alice), {"bobs", "nobodys"})
    assert_matches(ws, cond("owner", "empty"), {"nobodys"})
    assert_matches(ws, cond("owner", "not_empty"), {"alices", "bobs"})


def test_tags_has_and_lacks_on_the_same_lead(ws):
    vip, churned = TagFactory(workspace=ws, name="VIP"), TagFactory(workspace=ws, name="Churned")
    lead(ws, "both", tags=[vip, churned])
    lead(ws, "vip", tags=[vip])
    lead(ws, "bare")
    assert_matches(ws, cond("tag", "has", vip.pk), {"both", "vip"})
    assert_matches(ws, cond("tag", "lacks", vip.pk), {"bare"})
    assert_matches(ws, tree(cond("tag", "has", vip.pk), cond("tag", "has", churned.pk)), {"both"})
    assert_matches(ws, tree(cond("tag", "has", vip.pk), cond("tag", "lacks", churned.pk)), {"vip"})
    assert_matches(
        ws,
        tree(cond("tag", "has", churned.pk), cond("tag", "lacks", vip.pk), match="any"),
        {"both", "bare"},
    )


# segment -------------------------------------------------------------------------------------


def test_segment_in_static_and_dynamic_segments(ws):
    berliner = lead(ws, "berliner", city="Berlin")
    lead(ws, "parisian", city="Paris")
    static = SegmentFactory(workspace=ws, kind=SegmentKind.STATIC)
    SegmentMembershipFactory(segment=static, lead=berliner)
    dynamic = SegmentFactory(
        workspace=ws, kind=SegmentKind.DYNAMIC, rules=tree(cond("city", "is", "paris"))
    )
    outer = SegmentFactory(
        workspace=ws,
        kind=SegmentKind.DYNAMIC,
        rules=tree(
            cond("segment", "in", dynamic.pk), cond("segment", "in", static.pk), match="any"
        ),
    )
    assert_matches(ws, cond("segment", "in", static.pk), {"berliner"})
    assert_matches(ws, cond("segment", "not_in", static.pk), {"parisian"})
    assert_matches(ws, cond("segment", "in", dynamic.pk), {"parisian"})
    assert_matches(ws, cond("segment", "not_in", dynamic.pk), {"berliner"})
    assert_matches(ws, cond("segment", "in", outer.pk), {"berliner", "parisian"})
    assert_matches(ws, tree(cond("segment", "in", outer.pk), match="none"), set())


def test_a_dynamic_segment_is_evaluated_at_the_same_now(ws):
    lead(ws, "recent", created_at=NOW - timedelta(days=2))
    lead(ws, "old", created_at=NOW - timedelta(days=20))
    recent = SegmentFactory(
        workspace=ws,
        kind=SegmentKind.DYNAMIC,
        rules=tree(cond("created", "less_than_days_ago", 7)),
    )
    assert_matches(ws, cond("segment", "in", recent.pk), {"recent"})
    assert_matches(
        ws, cond("segment", "in", recent.pk), {"recent", "old"}, now=NOW + timedelta(-13)
    )


# search --------------------------------------------------------------------------------------


@pytest.fixture
def people(ws):
    lead(ws, "jane", first_name="Jane", last_name="Doe", company="Café Noir")
    lead(ws, "john", first_name="John", last_name="Smith", company="Straße AG")
    lead(ws, "percent", first_name="100%", last_name="")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("jane", {"jane"}),
        ("JANE  doe", {"jane"}),
        ("doe jane", {"jane"}),
        ("jane smith", set()),
        ("CAFÉ", {"jane"}),  # casefold, unlike the text fields
        ("cafe", set()),
        ("STRASSE", {"john"}),  # casefold: ß is ss here
        ("x.test", {"jane", "john", "percent"}),  # the email is searched too
        ("0%", {"percent"}),
        ("_", set()),
    ],
)
def test_search_contains_every_word(ws, people, value, expected):
    assert_matches(ws, cond("search", "contains", value), expected)


# activity ------------------------------------------------------------------------------------


def test_activity_at_least_twice_on_pricing_pages(ws):
    days = lambda n: NOW - timedelta(days=n)  # noqa: E731
    visit = "page_visited"
    lead(
        ws,
        "keen",
        activities=[(visit, days(1), "https://a.test/pricing"), (visit, days(3), "/PRICING/x")],
    )
    lead(ws, "once", activities=[(visit, days(1), "https://a.test/pricing")])
    lead(ws, "blog", activities=[(visit, days(1), "/blog"), (visit, days(2), "/blog")])
    lead(
        ws,
        "mailed",
        activities=[("email_clicked", days(1), "/pricing"), ("email_clicked", days(1), "/pricing")],
    )
    twice = {"type": visit, "url": "/pricing", "days": None, "count": 2}
    assert_matches(ws, cond("activity", "at_least", twice), {"keen"})
    assert_matches(ws, cond("activity", "at_least", {**twice, "type": ""}), {"keen", "mailed"})
    assert_matches(ws, cond("activity", "at_least", {**twice, "days": 2}), set())
    assert_matches(ws, cond("activity", "at_least", {**twice, "count": 1}), {"keen", "once"})
    assert_matches(ws, cond("activity", "none", {**twice, "count": 1}), {"blog", "mailed"})


def test_no_activity_in_90_days(ws):
    lead(ws, "dormant", activities=[("call", NOW - timedelta(days=100), "")])
    lead(ws, "edge", activities=[("call", NOW - timedelta(days=90), "")])
    lead(ws, "active", activities=[("note", NOW - timedelta(days=10), "")])
    lead(ws, "silent")
    quiet = {"type": "", "url": "", "days": 90, "count": 1}
    assert_matches(ws, cond("activity", "none", quiet), {"dormant", "silent"})
    assert_matches(ws, cond("activity", "at_least", quiet), {"edge", "active"})


def test_activity_none_ignores_count_and_stores_1(ws):
    value = {"type": "call", "url": "", "days": 30, "count": 5}
    clean = rules_clean(tree(cond("activity", "none", value)), workspace=ws)
    assert clean["children"][0]["value"] == {**value, "count": 1}


def test_activity_days_may_be_0(ws):
    """`days` is 0–36500 or null: 0 days counts the activities from now on."""
    lead(ws, "future", activities=[("call", NOW + timedelta(hours=1), "")])
    lead(ws, "past", activities=[("call", NOW - timedelta(hours=1), "")])
    assert_matches(
        ws, cond("activity", "at_least", {"type": "", "url": "", "days": 0, "count": 1}), {"future"}
    )


# the registry ------------------------------------------------------------------------------


def test_the_registry_offers_the_spec_fields_and_operators(ws):
    for type_ in ("text", "number", "date", "boolean", "choice"):
        choices = ["A", "B"] if type_ == "choice" else []
        CustomFieldFactory(workspace=ws, key=f"k_{type_}", type=type_, choices=choices)
    spec = standard_kinds()
    spec.update({f"cf.k_{t}": t for t in ("text", "number", "date", "boolean", "choice")})
    registry = field_registry(ws)
    assert {f.name for f in registry.fields} == set(spec)
    wrong = {}
    for f in registry.fields:
        want = set(ops_for(f.name, spec[f.name]))
        if f.name == "cf.k_boolean":  # "missing is `empty`": the spec lets this one go either way
            want |= set(f.ops) & {"empty", "not_empty"}
        if (f.kind, set(f.ops)) != (spec[f.name], want):
            wrong[f.name] = (f.kind, sorted(f.ops), "spec:", spec[f.name], sorted(want))
    assert not wrong


# rules_clean refusals ------------------------------------------------------------------------


def test_unknown_fields_bad_operators_and_bad_values_are_reported_with_paths(ws):
    rules = tree(
        cond("city", "is", "Berlin"),
        cond("shoe_size", "is", "42"),
        tree(cond("city", "gt", 5), cond("score", "between", [60]), match="any"),
        cond("cf.nope", "empty"),
    )
    assert paths(ws, rules) == [(1,), (2, 0), (2, 1), (3,)]


@pytest.mark.parametrize(
    "node",
    [
        cond("city", "is", ""),
        cond("city", "is", "x" * 201),
        cond("city", "is"),
        cond("status", "is", "hot"),
        cond("status", "empty"),  # status cannot be blank
        cond("status", "in", []),
        cond("country", "in", COUNTRY_CODES[:51]),
        cond("score", "gt", "50x"),
        cond("score", "gt", True),
        cond("score", "between", [60, 40]),
        cond("score", "empty"),  # standard numbers: custom only
        cond("created", "on", "2025-13-01"),
        cond("created", "between", ["2025-06-30", "2025-06-01"]),
        cond("created", "less_than_days_ago", -1),
        cond("created", "less_than_days_ago", 36501),
        cond("created", "less_than_days_ago", 1.5),
        cond("do_not_contact", "is", "maybe"),
        cond("search", "contains", "   "),
        cond("search", "contains", "a b c d e f g h i"),
        cond("activity", "at_least", {"type": "", "url": "", "days": None, "count": 0}),
        cond("activity", "at_least", {"type": "", "url": "", "days": None, "count": 101}),
        cond("activity", "at_least", {"type": "dance", "url": "", "days": None, "count": 1}),
        cond("activity", "at_least", {"type": "", "url": "", "days": 36501, "count": 1}),
        cond("tag", "has", 10**12),
        {"match": "some", "children": []},
        {"field": "city"},
    ],
)
def test_bad_conditions_are_refused_at_their_path(ws, node):
    assert paths(ws, tree(cond("city", "empty"), node)) == [(1,)]


def test_custom_choice_values_must_be_choices(ws):
    CustomFieldFactory(workspace=ws, key="plan", type="choice", choices=["Free", "Pro"])
    assert paths(ws, tree(cond("cf.plan", "is", "Enterprise"))) == [(0,)]


def test_groups_nest_at_most_10_deep(ws):
    def nested(depth: int) -> dict:
        node = tree(cond("city", "empty"))
        for _ in range(depth - 1):
            node = tree(node)
        return node

    assert rules_clean(nested(10), workspace=ws)  # the root and 9 groups inside
    found = paths(ws, nested(11))
    assert len(found) == 1 and found[0] == (0,) * 10  # the 11th group


def test_a_tree_holds_at_most_200_conditions(ws):
    assert rules_clean(tree(*[cond("city", "empty")] * 200), workspace=ws)
    assert issues(ws, tree(*[cond("city", "empty")] * 201))


def test_segment_cycles_and_self_references_are_refused(ws):
    a = SegmentFactory(workspace=ws, kind=SegmentKind.DYNAMIC, rules=EMPTY_TREE)
    b = SegmentFactory(
        workspace=ws, kind=SegmentKind.DYNAMIC, rules=tree(cond("segment", "in", a.pk))
    )
    assert paths(ws, tree(cond("segment", "in", a.pk)), segment=a) == [(0,)]
    assert paths(ws, tree(cond("city", "empty"), cond("segment", "in", b.pk)), segment=a) == [(1,)]
    assert rules_clean(tree(cond("segment", "in", a.pk)), workspace=ws, segment=b)


def test_other_workspaces_rows_are_refused(ws, owner, other_ws, outsider):
    their_tag = TagFactory(workspace=other_ws)
    their_segment = SegmentFactory(workspace=other_ws)
    rules = tree(
        cond("tag", "has", their_tag.pk),
        cond("segment", "in", their_segment.pk),
        cond("owner", "is", outsider.user_id),
        cond("owner", "is", owner.user_id),
    )
    assert paths(ws, rules) == [(0,), (1,), (2,)]


def test_every_issue_is_reported_at_once(ws):
    rules = tree(cond("nope", "is", "x"), tree(cond("city", "empty"), cond("score", "gt", "x")))
    found = issues(ws, rules)
    assert sorted(p for p, _ in found) == [(0,), (1, 1)]
    assert all(message for _, message in found)
