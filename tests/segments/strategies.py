"""Hypothesis strategies for segment rules: small worlds of leads, and rule trees over them.

A `World` is pure data (no database ids): the workspace's custom fields, tags, companies, two
members, 0–25 leads with their tags and activities, a static segment's members and a dynamic
segment's rules. Rule trees name rows through `Ref`s ("the second tag", "the static segment");
`world_build()` writes the rows and returns the ids that `resolve()` puts in their place, the
leads as written and the oracle's context.

Values are valid (what contacts' cleaners store) but chosen to be awkward: mixed case, accented
and non-ASCII letters (é/É, ß/ẞ, İ/ı, decomposed é), LIKE's wildcards % and _, backslashes,
empty strings, datetimes exactly on day boundaries and exactly now − N days, and "decoys"
where a wrong implementation would cut (N wall-clock days back across a DST change, midnight
in UTC). The time zone and `now` vary, often a day after a DST change. Condition values are
mostly drawn from the leads' own values (a lead's text re-cased or cut, N = a lead's age in
days), so matches are common.
"""

from __future__ import annotations

import itertools
import os
import string
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from contacts.models import (
    ConsentStatus,
    ConsentType,
    ContactRole,
    EmailStatus,
    GdprBasis,
    LeadStatus,
    Tier,
)
from contacts.normalize import email_domain, search_text_for
from tests.segments.oracle import (
    CHOICE_FIELDS,
    DATE_FIELDS,
    DATETIME_FIELDS,
    DERIVED_FIELDS,
    NUMBER_FIELDS,
    TEXT_FIELDS,
    Act,
    Ctx,
    SegmentInfo,
    ops_for,
    search_words,
    standard_kinds,
)

# Pools ---------------------------------------------------------------------------------------

TIME_ZONES = [  # the zones with DST twice: their changes are where days go wrong
    "UTC",
    "Europe/Berlin",  # DST starts 2025-03-30 01:00 UTC, ends 2025-10-26 01:00 UTC
    "Europe/Berlin",
    "America/New_York",  # DST ends 2025-11-02 06:00 UTC
    "America/New_York",
    "Asia/Kolkata",  # +05:30
    "Pacific/Kiritimati",  # +14: its day starts on the previous UTC day
    "America/St_Johns",  # −03:30 / −02:30
]
NOWS = [  # (wall clock, in UTC or in the world's zone)
    (datetime(2025, 6, 15, 12, 0), "UTC"),
    (datetime(2025, 3, 30, 0, 30), "UTC"),  # Berlin's DST night
    (datetime(2025, 3, 31, 9, 15, 30, 250000), "UTC"),  # the day after: "1 day" ≠ 24 h there
    (datetime(2025, 11, 2, 5, 30), "UTC"),  # New York's fall-back night
    (datetime(2025, 11, 3, 4, 0), "local"),
    (datetime(2025, 3, 10, 12, 0), "local"),  # New York sprang forward yesterday
    (datetime(2025, 10, 27, 8, 0), "local"),  # Berlin fell back yesterday
    (datetime(2025, 1, 1, 0, 0), "local"),  # exactly midnight where the workspace is
    (datetime(2024, 2, 29, 23, 59, 59, 999999), "local"),
]
# Local wall clocks a day or two after the zone's DST changes, so that "N days ago" crosses one.
DST_NOWS = {
    "Europe/Berlin": [datetime(2025, 3, 31, 11, 15, 30, 250000), datetime(2025, 10, 27, 9, 0)],
    "America/New_York": [datetime(2025, 3, 10, 12, 0), datetime(2025, 11, 3, 23, 59, 59)],
    "America/St_Johns": [datetime(2025, 3, 10, 0, 30), datetime(2025, 11, 4, 1, 0)],
}
TRICKY_TEXT = [
    "Berlin",
    "berlin",
    "BERLIN",
    "bErLiN",
    "Café",
    "CAFÉ",
    "café",
    "cafe\u0301",  # decomposed é
    "é",
    "É",
    "Straße",
    "STRASSE",
    "ß",
    "ẞ",
    "İstanbul",
    "istanbul",
    "ıstanbul",
    "100%",
    "50% off",
    "a_b",
    "a%b",
    "ab",
    "axb",
    "C:\\Temp",
    "back\\slash",
    "\\",
    "\\%",
    "%",
    "_",
    "New York",
    "new  york",
    "O'Brien",
    "Ñandú",
    "x",
    "X",
    "Acme",
    "ACME Corp",
]
TEXT_ALPHABET = "aAbBxXyY éÉßẞİı%_\\'-.01"
COMPANY_NAMES = [
    "Acme",
    "Café Noir",
    "ÉCOLE",
    "100% Growth",
    "a_b Labs",
    "Straße AG",
    "Back\\Slash",
]
EMAIL_LOCALS = ["ann", "bob", "a_b", "x%y", "o'brien", "back.slash", "berlin"]
EMAIL_DOMAINS = ["acme.test", "gmail.com", "berlin.example"]
TAG_NAMES = ["VIP", "Churned", "Été", "100%", "a_b", "Partner"]
COUNTRIES = ["", "US", "DE", "FR", "GB", "BR"]
CUSTOM_KEYS = ["industry", "contains", "city", "size", "renewal", "plan", "vip", "exact", "score"]
CUSTOM_TYPES = ["text", "number", "date", "boolean", "choice"]
# choices are unique ignoring case (contacts.custom_fields._choices_clean)
CUSTOM_CHOICES = ["SaaS", "Retail", "Café", "a_b", "100%", "Ärzte"]
ACTIVITY_TYPES = ["email_opened", "email_clicked", "email_replied", "page_visited", "call", "note"]
URLS = [
    "",
    "https://acme.test/pricing",
    "https://acme.test/PRICING/enterprise",
    "https://acme.test/Pricing?plan=a_b",
    "https://acme.test/docs/pricing_",
    "https://acme.test/100%25",
    "https://acme.test/blog/%",
    "https://acme.test/blog",
]
URL_PARTS = ["", "", "/pricing", "PRICING", "/Pricing?", "pricing_", "_", "%", "blog", "docs"]
# Standard text fields every lead gets a value for; others are filled for some worlds only.
MAIN_TEXT = ["first_name", "last_name", "city", "job_title"]
OTHER_TEXT = [
    name for name in TEXT_FIELDS if name not in MAIN_TEXT + ["company", "email", "domain"]
]
ENUMS = {
    "status": LeadStatus.values,
    "email_status": EmailStatus.values,
    "contact_role": ContactRole.values,
    "consent_status": ConsentStatus.values,
    "consent_type": ConsentType.values,
    "gdpr_basis": GdprBasis.values,
    "tier": Tier.values,
    "country": [c for c in COUNTRIES if c],
}
MOMENT_ATTRS = list(DATETIME_FIELDS.values())
NULLABLE_MOMENTS = {"last_contacted_at", "last_activity_at", "consent_captured_at"}
# To look past a known disagreement, leave some conditions out of the trees:
# RULES_PROPERTY_SKIP="email:empty,score:*,*:between" (field:op, * for every field or op).
SKIP = {tuple(s.split(":")) for s in os.environ.get("RULES_PROPERTY_SKIP", "").split(",") if s}

_ASCII_UP = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_ASCII_DOWN = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


# The world -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A row a tree names, resolved to its id once the world is written."""

    kind: str  # "member" | "tag" | "segment"
    index: int | str

    def __repr__(self) -> str:
        return f"Ref({self.kind!r}, {self.index!r})"


@dataclass
class FieldDef:
    key: str
    type: str
    choices: list[str] = field(default_factory=list)


@dataclass
class LeadSpec:
    values: dict[str, Any]  # Lead model attribute → value
    company: int | None  # index in World.companies
    owner: int | None  # index of the member
    tags: frozenset[int]
    activities: list[Act]
    in_static: bool

    def __repr__(self) -> str:  # only what is set: falsifying examples stay readable
        values = {k: v for k, v in self.values.items() if v not in ("", None, False, {})}
        for k, v in values.items():
            if isinstance(v, datetime):
                values[k] = v.isoformat()
        extra = [f"company={self.company}"] if self.company is not None else []
        extra += [f"owner={self.owner}"] if self.owner is not None else []
        extra += [f"tags={sorted(self.tags)}"] if self.tags else []
        extra += [f"in_static={self.in_static}"]
        acts = [f"({a.type}, {a.occurred_at.isoformat()}, {a.url!r})" for a in self.activities]
        extra += [f"activities=[{', '.join(acts)}]"] if acts else []
        return f"LeadSpec({values!r}, {', '.join(extra)})"


@dataclass
class World:
    time_zone: str
    now: datetime
    fields: list[FieldDef]
    tags: list[str]
    companies: list[str]
    leads: list[LeadSpec]
    dynamic_rules: dict = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def custom(self, key: str) -> FieldDef:
        return next(f for f in self.fields if f.key == key)

    def __repr__(self) -> str:  # readable falsifying examples
        leads = "\n".join(f"    {i}: {lead!r}" for i, lead in enumerate(self.leads))
        return (
            f"World(time_zone={self.time_zone!r}, now={self.now.isoformat()!r},\n"
            f"  fields={self.fields!r},\n  tags={self.tags!r}, companies={self.companies!r},\n"
            f"  dynamic_rules={self.dynamic_rules!r},\n  leads=[\n{leads}\n  ])"
        )


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@st.composite
def moments(draw, now: datetime, tz: ZoneInfo) -> datetime:
    """A moment near `now`: often exactly on a day boundary or exactly now − N×24 h."""
    now_utc = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    nudge = timedelta(microseconds=draw(st.sampled_from([0, 0, 0, -1, 1])))
    how = draw(st.sampled_from(["days_ago", "midnight", "random", "now", "decoy"]))
    days = draw(st.sampled_from([0, 1, 2, 7, 29, 30, 31, 90, 365]))
    offset = draw(st.sampled_from([-2, -1, 0, 1, 2, 6, 7, 30, 31, 90]))
    if how == "days_ago":
        return now_utc - timedelta(days=days) + nudge
    if how == "midnight":
        return _midnight(today - timedelta(days=offset), tz) + nudge
    if how == "decoy":
        # Where a wrong implementation would put the boundary: N days back on the wall clock
        # (23 or 25 hours a day across a DST change), or midnight in UTC.
        if draw(st.booleans()):
            return (now.astimezone(tz) - timedelta(days=days)).astimezone(UTC) + nudge
        return _midnight(now_utc.date() - timedelta(days=offset), UTC) + nudge
    if how == "now":
        return now_utc + nudge
    seconds = draw(st.integers(min_value=-120 * 86400, max_value=5 * 86400))
    return now_utc + timedelta(seconds=seconds)


@st.composite
def dates_near(draw, today: date) -> date:
    how = draw(st.sampled_from(["days_ago", "random"]))
    if how == "days_ago":
        return today - timedelta(days=draw(st.sampled_from([-1, 0, 1, 2, 7, 30, 31, 365])))
    return draw(st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)))


def text_values(max_size: int = 12):
    """Stored text: stripped (the services strip), sometimes empty."""
    return st.one_of(
        st.just(""),
        st.sampled_from(TRICKY_TEXT),
        st.text(alphabet=TEXT_ALPHABET, max_size=max_size).map(str.strip),
    )


def custom_value(fd: FieldDef, now: datetime, tz: ZoneInfo):
    """A stored (cleaned) value for a custom field."""
    if fd.type == "text":
        # "" is not what attributes_clean() stores, but the spec names it: empty like missing.
        return st.one_of(st.sampled_from(TRICKY_TEXT), text_values(8))
    if fd.type == "number":
        return st.one_of(
            st.integers(min_value=-5, max_value=120),
            st.sampled_from([0.5, -0.25, 49.5, 50.0000001, 10**15 - 1, -(10**15) + 1]),
        ).map(lambda v: int(v) if isinstance(v, float) and v == int(v) else v)
    if fd.type == "date":
        return dates_near(now.astimezone(tz).date()).map(date.isoformat)
    if fd.type == "boolean":
        return st.booleans()
    return st.sampled_from(fd.choices)


@st.composite
def custom_fields(draw) -> list[FieldDef]:
    n = draw(st.integers(min_value=2, max_value=3))
    keys = draw(st.lists(st.sampled_from(CUSTOM_KEYS), min_size=n, max_size=n, unique=True))
    types = draw(st.lists(st.sampled_from(CUSTOM_TYPES), min_size=n, max_size=n, unique=True))
    fields = []
    for key, type_ in zip(keys, types, strict=True):
        choices = []
        if type_ == "choice":
            choices = draw(
                st.lists(st.sampled_from(CUSTOM_CHOICES), min_size=1, max_size=4, unique=True)
            )
        fields.append(FieldDef(key, type_, choices))
    return fields


@st.composite
def lead_specs(draw, index, *, now, tz, fields, n_tags, n_companies, extra_text) -> LeadSpec:
    values: dict[str, Any] = {}
    for name in MAIN_TEXT + extra_text:
        values[name] = draw(text_values())
    local = draw(st.sampled_from(EMAIL_LOCALS))
    email = f"{local}.{index}@{draw(st.sampled_from(EMAIL_DOMAINS))}"
    values["email"] = email
    values["domain"] = email_domain(email)
    for name in CHOICE_FIELDS:
        if name == "country":
            values[name] = draw(st.sampled_from(COUNTRIES))
        elif CHOICE_FIELDS[name]:  # may be blank
            values[name] = draw(st.sampled_from(["", *ENUMS[name]]))
        else:
            values[name] = draw(st.sampled_from(ENUMS[name]))
    for attr in NUMBER_FIELDS.values():
        values[attr] = draw(st.integers(min_value=0, max_value=100))
    for attr in MOMENT_ATTRS:
        nullable = attr in NULLABLE_MOMENTS
        values[attr] = draw(st.none() | moments(now, tz)) if nullable else draw(moments(now, tz))
    values["birthday"] = draw(st.none() | dates_near(now.astimezone(tz).date()))
    values["do_not_contact"] = draw(st.booleans())
    values["deleted_at"] = draw(st.sampled_from([None, None, None, None, "trashed"]))
    if values["deleted_at"]:
        values["deleted_at"] = now.astimezone(UTC) - timedelta(days=1)
    attributes = {}
    for fd in fields:
        if draw(st.booleans()):
            attributes[fd.key] = draw(custom_value(fd, now, tz))
    values["attributes"] = attributes
    activities = draw(
        st.lists(
            st.builds(
                Act,
                type=st.sampled_from(ACTIVITY_TYPES),
                occurred_at=moments(now, tz),
                url=st.sampled_from(URLS),
            ),
            max_size=4,
        )
    )
    return LeadSpec(
        values=values,
        company=draw(st.none() | st.integers(0, n_companies - 1)) if n_companies else None,
        owner=draw(st.sampled_from([None, 0, 1])),
        tags=frozenset(
            draw(st.lists(st.integers(0, n_tags - 1), max_size=n_tags)) if n_tags else ()
        ),
        activities=activities,
        in_static=draw(st.booleans()),
    )


@st.composite
def worlds(draw, max_leads: int = 25) -> World:
    time_zone = draw(st.sampled_from(TIME_ZONES))
    tz = ZoneInfo(time_zone)
    if time_zone in DST_NOWS and draw(st.booleans()):
        wall, where = draw(st.sampled_from(DST_NOWS[time_zone])), "local"
    else:
        wall, where = draw(st.sampled_from(NOWS))
    now = wall.replace(tzinfo=UTC) if where == "UTC" else wall.replace(tzinfo=tz)
    if draw(st.booleans()):  # the same moment, written in the workspace's zone
        now = now.astimezone(tz)
    fields = draw(custom_fields())
    tags = draw(st.lists(st.sampled_from(TAG_NAMES), min_size=2, max_size=4, unique=True))
    companies = draw(st.lists(st.sampled_from(COMPANY_NAMES), max_size=3, unique=True))
    extra_text = draw(st.lists(st.sampled_from(OTHER_TEXT), max_size=2, unique=True))
    # 0–25 leads, but mostly enough of them for a tree to split them
    n = draw(st.integers(0, max_leads) | st.integers(min(8, max_leads), max_leads))
    leads = [
        draw(
            lead_specs(
                i,
                now=now,
                tz=tz,
                fields=fields,
                n_tags=len(tags),
                n_companies=len(companies),
                extra_text=extra_text,
            )
        )
        for i in range(n)
    ]
    world = World(time_zone, now, fields, tags, companies, leads)
    world.dynamic_rules = draw(trees(world, max_depth=2, allow_dynamic=False, max_children=3))
    return world


# Lead values, as conditions see them -----------------------------------------------------------


def company_name(world: World, spec: LeadSpec) -> str:
    return world.companies[spec.company] if spec.company is not None else ""


def field_values(world: World, name: str) -> list[Any]:
    """The values the leads hold for a field (None when a custom key is missing)."""
    if name.startswith("cf."):
        return [spec.values["attributes"].get(name[3:]) for spec in world.leads]
    if name == "company":
        return [company_name(world, spec) for spec in world.leads]
    if name in TEXT_FIELDS:
        return [spec.values.get(TEXT_FIELDS[name], "") for spec in world.leads]
    if name in CHOICE_FIELDS:
        return [spec.values[name] for spec in world.leads]
    if name in NUMBER_FIELDS:
        return [spec.values[NUMBER_FIELDS[name]] for spec in world.leads]
    if name in DATETIME_FIELDS:
        return [spec.values[DATETIME_FIELDS[name]] for spec in world.leads]
    if name in DERIVED_FIELDS:
        values = []
        for spec in world.leads:
            times = [a.occurred_at for a in spec.activities if a.type == DERIVED_FIELDS[name]]
            values.append(max(times) if times else None)
        return values
    if name in DATE_FIELDS:
        return [spec.values[DATE_FIELDS[name]] for spec in world.leads]
    return []


def field_kinds(world: World) -> dict[str, str]:
    """Every field a tree can name in this world → its kind."""
    kinds = standard_kinds()
    kinds.update({f"cf.{f.key}": f.type for f in world.fields})
    return kinds


# Condition values -------------------------------------------------------------------------------


def _pick(draw, pool: list, fallback: list):
    pool = [v for v in pool if v is not None]
    if pool and draw(st.integers(0, 3)):
        return draw(st.sampled_from(pool))
    return draw(st.sampled_from(fallback))


def _recase(draw, text: str) -> str:
    how = draw(st.sampled_from(["same", "same", "ascii_upper", "ascii_lower", "upper", "lower"]))
    return {
        "same": text,
        "ascii_upper": text.translate(_ASCII_UP),
        "ascii_lower": text.translate(_ASCII_DOWN),
        "upper": text.upper(),
        "lower": text.lower(),
    }[how]


def _text_condition_value(draw, world: World, name: str, op: str) -> str:
    pool = [v for v in field_values(world, name) if isinstance(v, str) and v.strip()]
    base = _pick(draw, pool, TRICKY_TEXT)
    if op in ("contains", "not_contains", "starts_with") and len(base) > 1:
        start = 0 if op == "starts_with" else draw(st.integers(0, len(base) - 1))
        end = draw(st.integers(start + 1, len(base)))
        base = base[start:end]
    value = _recase(draw, base).strip()
    return value[:200] or draw(st.sampled_from(["x", "é", "%", "_"]))


def _choice_codes(world: World, name: str) -> list[str]:
    if name.startswith("cf."):
        return world.custom(name[3:]).choices
    return ENUMS[name]


def _number_value(draw, world: World, name: str):
    pool = [v for v in field_values(world, name) if isinstance(v, int | float)]
    pool = [v for v in pool if not isinstance(v, bool)]
    if pool and draw(st.integers(0, 3)):
        base = draw(st.sampled_from(pool)) + draw(st.sampled_from([0, 0, -1, 1, 0.5, -0.5]))
        return max(min(base, 10**15 - 1), -(10**15) + 1)  # the cleaners' NUMBER_LIMIT
    return draw(st.one_of(st.integers(-3, 103), st.sampled_from([0.5, 49.5, 100.25])))


def _moment_days(world: World, name: str, kind: str) -> tuple[list[date], list[int]]:
    """The leads' values' days, and their ages in whole days (24 h for moments)."""
    tz, today, now = world.tz, world.today, world.now.astimezone(UTC)
    days, ages = [today], []
    for value in field_values(world, name):
        if value is None:
            continue
        if kind == "date":
            day = date.fromisoformat(value) if isinstance(value, str) else value
            days.append(day)
            ages.append((today - day).days)
        else:
            days.append(value.astimezone(tz).date())
            days.append(value.astimezone(UTC).date())  # a decoy: days in UTC
            ages.append((now - value) // timedelta(days=1))
            ages += _boundary_ages(world, value)
    return days, ages


def _boundary_ages(world: World, moment: datetime) -> list[int]:
    """N such that `moment` is (within 1 µs) exactly N×24 h before now, or N wall-clock days
    before now in the world's zone (where a compiler doing wall-clock arithmetic cuts)."""
    now_utc, now_wall = world.now.astimezone(UTC), world.now.astimezone(world.tz)
    day, found = timedelta(days=1), []
    for nudge in (0, 1, -1):
        m = moment + timedelta(microseconds=nudge)
        wall = now_wall.replace(tzinfo=None) - m.astimezone(world.tz).replace(tzinfo=None)
        for delta in (now_utc - m, wall):
            if delta % day == timedelta(0):
                found += [delta // day] * 3  # weighted: these are the interesting ones
    return found


def _days_ago_value(draw, ages: list[int]) -> int:
    """N that puts now − N days right at a lead's value (N = its age or age + 1), or a usual N."""
    if ages and draw(st.integers(0, 2)):
        n = draw(st.sampled_from(ages)) + draw(st.sampled_from([0, 1]))
    else:
        n = draw(st.sampled_from([0, 1, 7, 30, 90, 36500]))
    return min(max(n, 0), 36500)


def _date_value(draw, days: list[date]) -> str:
    day = draw(st.sampled_from(days)) + timedelta(days=draw(st.sampled_from([0, 0, -1, 1])))
    return day.isoformat()


def _search_value(draw, world: World) -> str:
    words = []
    for spec in world.leads:
        words += search_text_for(
            first_name=spec.values.get("first_name", ""),
            last_name=spec.values.get("last_name", ""),
            email=spec.values["email"],
            company_name=company_name(world, spec),
        ).split(" ")
    words = [w for w in words if w]
    chosen = []
    for _ in range(draw(st.integers(1, 3))):
        word = _pick(draw, words, TRICKY_TEXT)
        if len(word) > 2 and draw(st.booleans()):
            start = draw(st.integers(0, len(word) - 2))
            word = word[start : draw(st.integers(start + 1, len(word)))]
        chosen.append(_recase(draw, word))
    value = draw(st.sampled_from([" ", "  ", " \t"])).join(chosen).strip()
    if not search_words(value):
        value = "a"
    return value


def _activity_value(draw, world: World, op: str) -> dict:
    days = draw(st.one_of(st.none(), st.sampled_from([0, 1, 7, 30, 90])))
    if days is not None and draw(st.booleans()):
        # exactly on an activity's age, in days
        times = [a.occurred_at for spec in world.leads for a in spec.activities]
        if times:
            age = (world.now.astimezone(UTC) - draw(st.sampled_from(times))) // timedelta(days=1)
            days = min(max(age + draw(st.sampled_from([0, 1])), 0), 36500)
    value = {
        "type": draw(st.sampled_from(["", "", *ACTIVITY_TYPES])),
        "url": draw(st.sampled_from(URL_PARTS)),
        "days": days,
        "count": draw(st.integers(1, 3)),
    }
    if op == "none":
        value["count"] = 1
    return value


@st.composite
def conditions(draw, world: World, *, allow_dynamic: bool = True) -> dict:
    kinds = field_kinds(world)
    groups = {
        "text": [n for n, k in kinds.items() if k == "text" and not n.startswith("cf.")],
        "choice": [n for n, k in kinds.items() if k == "choice"],
        "number": [n for n, k in kinds.items() if k == "number"],
        "moment": [n for n, k in kinds.items() if k in ("datetime", "date")],
        "custom": [f"cf.{f.key}" for f in world.fields],
        "boolean": ["do_not_contact"],
        **{name: [name] for name in ("owner", "tag", "segment", "search", "activity")},
    }
    group = draw(st.sampled_from(["text", *groups]))  # text twice: folding is the subtle part
    name = draw(st.sampled_from(groups[group]))
    if group == "text" and draw(st.booleans()):
        # favour the text fields the leads actually fill
        name = draw(st.sampled_from([*MAIN_TEXT, "company", "email"]))
    return draw(conditions_on(world, name, allow_dynamic=allow_dynamic))


@st.composite
def conditions_on(draw, world: World, name: str, *, allow_dynamic: bool = True) -> dict:
    """A condition on field `name`, with any of its operators."""
    kind = field_kinds(world)[name]
    ops = [
        op
        for op in ops_for(name, kind)
        if not any(n in (name, "*") and o in (op, "*") for n, o in SKIP)
    ]
    op = draw(st.sampled_from(ops or ["empty"]))
    condition: dict[str, Any] = {"field": name, "op": op}
    if op in ("empty", "not_empty"):
        return condition
    if kind == "text":
        value: Any = _text_condition_value(draw, world, name, op)
    elif kind == "choice":
        codes = _choice_codes(world, name)
        present = [v for v in field_values(world, name) if v in codes]
        if op in ("in", "not_in"):
            size = min(len(codes), 4)
            value = draw(st.lists(st.sampled_from(codes), min_size=1, max_size=size, unique=True))
            if present and draw(st.booleans()):
                value = list(dict.fromkeys([draw(st.sampled_from(present)), *value]))
        else:
            value = _pick(draw, present, codes)
    elif kind == "number":
        value = _number_value(draw, world, name)
        if op == "between":
            value = sorted([value, _number_value(draw, world, name)])
    elif kind in ("datetime", "date"):
        days, ages = _moment_days(world, name, kind)
        if op in ("less_than_days_ago", "more_than_days_ago"):
            value = _days_ago_value(draw, ages)
        elif op == "between":
            value = sorted([_date_value(draw, days), _date_value(draw, days)])
        else:
            value = _date_value(draw, days)
    elif kind == "boolean":
        value = draw(st.booleans())
    elif kind == "owner":
        value = Ref("member", draw(st.integers(0, 1)))
    elif kind == "tags":
        value = Ref("tag", draw(st.integers(0, len(world.tags) - 1)))
    elif kind == "segment":
        which = ["static", "dynamic"] if allow_dynamic else ["static"]
        value = Ref("segment", draw(st.sampled_from(which)))
    elif kind == "search":
        value = _search_value(draw, world)
    elif kind == "activity":
        value = _activity_value(draw, world, op)
    else:  # pragma: no cover
        raise AssertionError(kind)
    condition["value"] = value
    return condition


@st.composite
def trees(
    draw, world: World, *, max_depth: int = 3, allow_dynamic: bool = True, max_children: int = 4
) -> dict:
    """A root group nesting groups up to `max_depth` deep (the root is depth 1)."""

    def node(depth: int):
        if depth < max_depth and draw(st.integers(0, 3)) == 0:
            return group(depth + 1)
        return draw(conditions(world, allow_dynamic=allow_dynamic))

    def group(depth: int) -> dict:
        match = draw(st.sampled_from(["all", "any", "none"]))
        children = [node(depth) for _ in range(draw(st.integers(0, max_children)))]
        return {"match": match, "children": children}

    return group(1)


@st.composite
def worlds_and_trees(draw, max_leads: int = 25) -> tuple[World, dict, list[dict]]:
    """A world, a rule tree over it, and a condition on every field ("probes"), some twice.

    Writing the world costs far more than a query, so each example checks many conditions.
    """
    world = draw(worlds(max_leads=max_leads))
    names = list(field_kinds(world)) + [*MAIN_TEXT, "company", "activity", "activity"]
    probes = [draw(conditions_on(world, name)) for name in names]
    return world, draw(trees(world)), probes


# Writing a world -----------------------------------------------------------------------------


def resolve(tree: Any, ids: dict[Ref, int]) -> Any:
    """The tree with every Ref replaced by its row's id."""
    if isinstance(tree, Ref):
        return ids[tree]
    if isinstance(tree, dict):
        return {k: resolve(v, ids) for k, v in tree.items()}
    if isinstance(tree, list):
        return [resolve(v, ids) for v in tree]
    return tree


@dataclass
class Built:
    workspace: Any
    ids: dict[Ref, int]
    leads: list[Any]  # Lead instances, in World.leads order
    ctx: Ctx
    static: Any
    dynamic: Any


_serial = itertools.count()


def world_build(world: World) -> Built:
    """Write the world's rows (in bulk) and return them with the oracle's context.

    Call it inside a transaction that the caller rolls back.
    """
    from django.contrib.auth.models import Group

    from contacts.models import Activity, Company, CustomField, Lead, Tag
    from leadcrm.models import Membership, User, Workspace
    from leadcrm.roles import MARKETER
    from segments.models import Segment, SegmentKind, SegmentMembership, SegmentState
    from segments.rules import rules_clean

    n = next(_serial)
    ws = Workspace.objects.create(name=f"World {n}", slug=f"world-{n}")
    users = User.objects.bulk_create(
        [User(email=f"member{i}.{n}@world.test", password="!") for i in range(2)]
    )
    if any(u.pk is None for u in users):  # pragma: no cover (backends without RETURNING)
        users = list(User.objects.filter(email__endswith=f".{n}@world.test").order_by("email"))
    role = Group.objects.get(name=MARKETER)
    Membership.objects.bulk_create([Membership(user=u, workspace=ws, role=role) for u in users])
    CustomField.objects.bulk_create(
        [
            CustomField(
                workspace=ws, key=f.key, label=f.key.title(), type=f.type, choices=f.choices
            )
            for f in world.fields
        ]
    )
    tags = Tag.objects.bulk_create([Tag(workspace=ws, name=name) for name in world.tags])
    companies = Company.objects.bulk_create(
        [Company(workspace=ws, name=name) for name in world.companies]
    )
    leads = []
    for spec in world.leads:
        company = companies[spec.company] if spec.company is not None else None
        lead = Lead(
            workspace=ws,
            company=company,
            owner=users[spec.owner] if spec.owner is not None else None,
            **spec.values,
        )
        lead.search_text = search_text_for(
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            company_name=company.name if company else "",
        )
        leads.append(lead)
    Lead.objects.bulk_create(leads)
    Through = Lead.tags.through
    Through.objects.bulk_create(
        [
            Through(lead_id=lead.pk, tag_id=tags[t].pk)
            for lead, spec in zip(leads, world.leads, strict=True)
            for t in spec.tags
        ]
    )
    Activity.objects.bulk_create(
        [
            Activity(workspace=ws, lead=lead, type=a.type, occurred_at=a.occurred_at, url=a.url)
            for lead, spec in zip(leads, world.leads, strict=True)
            for a in spec.activities
        ]
    )
    static = Segment.objects.create(
        workspace=ws, name="Static", kind=SegmentKind.STATIC, state=SegmentState.ACTIVE
    )
    SegmentMembership.objects.bulk_create(
        [
            SegmentMembership(segment=static, lead=lead)
            for lead, spec in zip(leads, world.leads, strict=True)
            if spec.in_static
        ]
    )
    dynamic = Segment.objects.create(
        workspace=ws, name="Dynamic", kind=SegmentKind.DYNAMIC, state=SegmentState.ACTIVE
    )
    ids = {Ref("member", i): u.pk for i, u in enumerate(users)}
    ids.update({Ref("tag", i): t.pk for i, t in enumerate(tags)})
    ids[Ref("segment", "static")] = static.pk
    ids[Ref("segment", "dynamic")] = dynamic.pk
    dynamic.rules = rules_clean(resolve(world.dynamic_rules, ids), workspace=ws, segment=dynamic)
    dynamic.save(update_fields=["rules"])
    ctx = Ctx(
        now=world.now,
        time_zone=world.time_zone,
        tags={
            lead.pk: {tags[t].pk for t in spec.tags}
            for lead, spec in zip(leads, world.leads, strict=True)
        },
        activities={
            lead.pk: list(spec.activities) for lead, spec in zip(leads, world.leads, strict=True)
        },
        company_names={c.pk: c.name for c in companies},
        segments={
            static.pk: SegmentInfo(
                "static",
                {},
                frozenset(
                    lead.pk for lead, spec in zip(leads, world.leads, strict=True) if spec.in_static
                ),
            ),
            dynamic.pk: SegmentInfo("dynamic", dynamic.rules),
        },
        custom_types={f.key: f.type for f in world.fields},
    )
    return Built(ws, ids, leads, ctx, static, dynamic)
