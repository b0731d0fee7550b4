"""Synthetic leads for `seed_demo` and `generate_leads` (PRODUCT 13).

These rows are written in bulk, not through contacts.services, so everything a service
would keep in step is filled here: search_text, domain, last_activity_at, last_contacted_at,
the consent fields and the ConsentEvent that records them. Faker is called only while the
pools are built; each lead is then picked from the pools with one seeded random.Random, so
a run is deterministic and fast enough for a million leads.
"""

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.db import transaction
from django.utils import timezone
from faker import Faker

from contacts.models import (
    CONTACT_ACTIVITY_TYPES,
    Activity,
    ActivityType,
    Channel,
    Company,
    ConsentEvent,
    ConsentStatus,
    ConsentType,
    ContactRole,
    CustomField,
    CustomFieldType,
    EmailStatus,
    GdprBasis,
    Lead,
    LeadStatus,
    Tag,
)
from contacts.normalize import FREE_MAIL_DOMAINS, email_domain, search_text_for
from leadcrm.models import Membership, Workspace
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP

TAG_NAMES = [
    "vip",
    "newsletter",
    "webinar-2025",
    "partner",
    "churn-risk",
    "enterprise",
    "smb",
    "event-lead",
]
INDUSTRIES = [
    "Technology",
    "SaaS",
    "Healthcare",
    "Finance",
    "Retail",
    "Manufacturing",
    "Education",
    "Media",
]
# The seed-000 custom fields: key, label, type, choices.
CUSTOM_FIELDS = [
    ("industry", "Industry", CustomFieldType.CHOICE, INDUSTRIES),
    ("budget", "Budget", CustomFieldType.NUMBER, []),
    ("subscription_date", "Subscription Date", CustomFieldType.DATE, []),
    ("vip", "VIP Status", CustomFieldType.BOOLEAN, []),
]
# Members of these roles may hold leads; sales reps hold most of them.
OWNER_ROLE_WEIGHTS = {SALES_REP: 6, OWNER: 1, ADMIN: 1, MARKETER: 1}

SOURCES = ["Website", "Webinar", "Referral", "LinkedIn", "Trade show", "Import", "Partner"]
SOURCE_WEIGHTS = [30, 12, 12, 15, 8, 15, 8]
STATUSES = [
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.ENGAGED,
    LeadStatus.QUALIFIED,
    LeadStatus.CONVERTED,
]
STATUS_WEIGHTS = [38, 25, 17, 13, 7]

# country: (weight, locale of names and addresses, time zones, preferred language)
COUNTRIES = {
    "US": (
        33,
        "en_US",
        ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"],
        "en",
    ),
    "GB": (12, "en_GB", ["Europe/London"], "en"),
    "DE": (10, "de_DE", ["Europe/Berlin"], "de"),
    "FR": (8, "fr_FR", ["Europe/Paris"], "fr"),
    "CA": (7, "en_CA", ["America/Toronto", "America/Vancouver"], "en"),
    "AU": (5, "en_AU", ["Australia/Sydney", "Australia/Melbourne"], "en"),
    "NL": (4, "nl_NL", ["Europe/Amsterdam"], "nl"),
    "ES": (4, "es_ES", ["Europe/Madrid"], "es"),
    "IN": (5, "en_IN", ["Asia/Kolkata"], "en"),
    "BR": (4, "pt_BR", ["America/Sao_Paulo"], "pt-BR"),
    "JP": (2, "ja_JP", ["Asia/Tokyo"], "ja"),
}
NO_COUNTRY_WEIGHT = 6
# Country calling code, first digits of mobile numbers, digits that follow (for E.164).
PHONE_PREFIXES = {
    "US": ("+1", ["212", "415", "312", "617", "206", "512", "303", "404"], 7),
    "CA": ("+1", ["416", "604", "514", "403"], 7),
    "GB": ("+44", ["7400", "7700", "7911"], 6),
    "DE": ("+49", ["151", "160", "170", "176"], 8),
    "FR": ("+33", ["6", "7"], 8),
    "AU": ("+61", ["4"], 8),
    "NL": ("+31", ["6"], 8),
    "ES": ("+34", ["6"], 8),
    "IN": ("+91", ["98", "99", "81"], 8),
    "BR": ("+55", ["119", "219"], 8),
    "JP": ("+81", ["90", "80"], 8),
}
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "gmx.de"]
assert FREE_MAIL_DOMAINS.issuperset(FREE_MAIL)

DEPARTMENTS = {
    "Sales": ["VP of Sales", "Sales Director", "Account Executive", "Sales Development Rep"],
    "Marketing": ["CMO", "Marketing Manager", "Demand Generation Lead", "Content Strategist"],
    "Engineering": ["CTO", "Engineering Manager", "Software Engineer", "DevOps Engineer"],
    "Finance": ["CFO", "Finance Manager", "Controller", "Financial Analyst"],
    "Operations": ["COO", "Operations Manager", "Procurement Specialist", "Office Manager"],
    "IT": ["CIO", "IT Director", "Systems Administrator", "IT Support Specialist"],
    "Product": ["Head of Product", "Product Manager", "UX Designer", "Product Analyst"],
    "Human Resources": ["CHRO", "HR Manager", "Recruiter", "People Partner"],
    "Customer Success": ["VP Customer Success", "Customer Success Manager", "Support Lead"],
    "Executive": ["CEO", "Founder", "Managing Director", "Chief of Staff"],
}
# The first title of a department is its decision maker, the second an influencer.
_SENIORITY_ROLES = [ContactRole.DECISION_MAKER, ContactRole.INFLUENCER]
_OTHER_ROLES = [ContactRole.CHAMPION, ContactRole.END_USER, ContactRole.BLOCKER, ContactRole.OTHER]
_OTHER_ROLE_WEIGHTS = [3, 6, 1, 1]

WEBSITE = "https://www.example.com"
PAGES = ["/", "/features", "/integrations", "/blog/lead-scoring-101", "/customers", "/contact"]
PRICING_PAGES = ["/pricing", "/pricing#enterprise", "/pricing?plan=team"]
EMAIL_SUBJECTS = [
    "Quick question about your pipeline",
    "Your free trial is ready",
    "Webinar: scoring leads that convert",
    "Following up on our call",
    "New: segments you can share",
    "Case study: how teams cut lead response time",
]
NOTES = [
    "Asked for a proposal by end of quarter.",
    "Prefers email over phone.",
    "Evaluating two other vendors.",
    "Budget approved for next fiscal year.",
    "Met at the booth; interested in the API.",
]
ACTIVITY_TYPES = [
    ActivityType.EMAIL_SENT,
    ActivityType.EMAIL_OPENED,
    ActivityType.EMAIL_CLICKED,
    ActivityType.EMAIL_REPLIED,
    ActivityType.PAGE_VISITED,
    ActivityType.CALL,
    ActivityType.MEETING,
    ActivityType.NOTE,
]
ACTIVITY_WEIGHTS = [25, 20, 10, 4, 18, 9, 5, 9]
# Some leads are in a buying mood: a burst of activity in their last weeks (see
# _buying_burst), so demo and bench data hold hot leads (score > 50) and recent opens.
HOT_SHARE = 0.05
HOT_DAYS = 45
_MANUAL_TYPES = {ActivityType.CALL, ActivityType.MEETING, ActivityType.NOTE}
_CONTACT_TYPES = {str(t) for t in CONTACT_ACTIVITY_TYPES}

CONSENT_PROOFS = {
    "Website form": "Ticked “Send me product news” on /contact (form v3); IP and time logged.",
    "Webinar registration": "Registered for the webinar with the marketing consent box ticked.",
    "Imported list": "Row in the imported list “Trade show 2025 badge scans”, consent = yes.",
}
PENDING_PROOF = "Double opt-in email sent from the website form; waiting for the click."

TWO_YEARS = timedelta(days=730).total_seconds()


@dataclass
class Pools:
    """Values drawn from Faker once per seed; per-lead picks come from a random.Random."""

    # locale -> [(name, ascii form for the email)]
    first_names: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    last_names: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    cities: dict[str, list[str]] = field(default_factory=dict)
    regions: dict[str, list[str]] = field(default_factory=dict)
    streets: dict[str, list[str]] = field(default_factory=dict)
    postcodes: dict[str, list[str]] = field(default_factory=dict)
    companies: list[str] = field(default_factory=list)


@dataclass
class SyntheticLead:
    fields: dict  # Lead values by attname, without id
    # (type, occurred_at, source, actor_id, subject, body, url)
    activities: list[tuple]
    tag_ids: list[int]
    consent_event: dict | None  # ConsentEvent values by attname, without lead


_TRANSLITERATE = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "œ": "oe", "ł": "l", "đ": "d"}
)


def ascii_fold(text: str) -> str:
    """Lower-case a–z and 0–9 only, for an email's local part or a domain label."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE).lower())
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())


@lru_cache(maxsize=4)
def pools_build(seed: int) -> Pools:
    pools = Pools()
    locales = sorted({locale for _, locale, _, _ in COUNTRIES.values()})
    for locale in locales:
        fake = Faker(locale)
        fake.seed_instance(seed)
        if locale == "ja_JP":
            # Kanji names, with the romanised reading for the email address.
            firsts = [fake.first_name_pair() for _ in range(200)]
            lasts = [fake.last_name_pair() for _ in range(200)]
            pools.first_names[locale] = sorted({(k, ascii_fold(r)) for k, _, r in firsts})
            pools.last_names[locale] = sorted({(k, ascii_fold(r)) for k, _, r in lasts})
        else:
            firsts = {fake.first_name() for _ in range(300)}
            lasts = {fake.last_name() for _ in range(300)}
            pools.first_names[locale] = sorted((n, ascii_fold(n) or "x") for n in firsts)
            pools.last_names[locale] = sorted((n, ascii_fold(n) or "x") for n in lasts)
        pools.cities[locale] = sorted({fake.city() for _ in range(60)})
        pools.regions[locale] = sorted({fake.administrative_unit() for _ in range(30)})
        pools.streets[locale] = sorted({fake.street_address() for _ in range(60)})
        pools.postcodes[locale] = sorted({fake.postcode() for _ in range(60)})
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "nl_NL"])
    fake.seed_instance(seed)
    pools.companies = [fake.company() for _ in range(12000)]
    return pools


def companies_ensure(*, workspace: Workspace, count: int, seed: int) -> list[Company]:
    """At least `count` companies in the workspace (names unique case-insensitively)."""
    existing = list(Company.objects.for_workspace(workspace).order_by("id"))
    missing = count - len(existing)
    if missing > 0:
        taken_names = {c.name.lower() for c in existing}
        taken_domains = {c.domain for c in existing}
        rng = random.Random(f"companies:{seed}:{len(existing)}")
        candidates = pools_build(seed).companies
        new = []
        attempt = 0
        while len(new) < missing:
            name = rng.choice(candidates)
            if attempt >= len(candidates):  # pool exhausted: make the name unique
                name = f"{name} {attempt}"
            attempt += 1
            if name.lower() in taken_names:
                continue
            label = ascii_fold(name.split(",")[0].split(" and ")[0])[:40] or "company"
            domain = f"{label}.{rng.choice(['com', 'com', 'io', 'net', 'co'])}"
            suffix = 2
            while domain in taken_domains:
                domain = f"{label}{suffix}.{domain.rpartition('.')[2]}"
                suffix += 1
            taken_names.add(name.lower())
            taken_domains.add(domain)
            created_at = rng.uniform(0, TWO_YEARS)
            new.append(
                Company(
                    workspace=workspace,
                    name=name,
                    domain=domain,
                    created_at=timezone.now() - timedelta(seconds=created_at),
                )
            )
        Company.objects.bulk_create(new, batch_size=1000)
        existing = list(Company.objects.for_workspace(workspace).order_by("id"))
    return existing


def tags_ensure(*, workspace: Workspace) -> list[Tag]:
    """The demo tags, matched case-insensitively to the workspace's own."""
    existing = {t.name.lower(): t for t in Tag.objects.for_workspace(workspace)}
    missing = [Tag(workspace=workspace, name=n) for n in TAG_NAMES if n not in existing]
    Tag.objects.bulk_create(missing)
    existing.update({t.name: t for t in missing})
    return [existing[name] for name in TAG_NAMES]


def custom_fields_ensure(*, workspace: Workspace) -> set[str]:
    """The seed-000 fields, created where absent; returns the keys that may take our values.

    A field the workspace already has is left as it is, and gets no values unless it is
    active and of the type we generate.
    """
    usable = set()
    for position, (key, label, type_, choices) in enumerate(CUSTOM_FIELDS):
        field, _ = CustomField.objects.get_or_create(
            workspace=workspace,
            key=key,
            defaults={"label": label, "type": type_, "choices": choices, "position": position},
        )
        fits = type_ != CustomFieldType.CHOICE or set(choices) <= set(field.choices)
        if field.type == type_ and fits and not field.deleting and not field.is_retired:
            usable.add(key)
    return usable


def lead_owners(*, workspace: Workspace) -> tuple[list[int], list[int]]:
    """User ids of the members who may hold leads, with their weights."""
    members = (
        Membership.objects.filter(workspace=workspace, role__name__in=OWNER_ROLE_WEIGHTS)
        .order_by("id")
        .values_list("user_id", "role__name")
    )
    ids = [user_id for user_id, _ in members]
    weights = [OWNER_ROLE_WEIGHTS[role] for _, role in members]
    return ids, weights


class LeadGenerator:
    """Builds one synthetic lead at a time; `email_for(local, domain, n)` makes it unique.

    `seed` picks the pools, `stream` the sequence of picks (a top-up must not repeat a run).
    """

    def __init__(
        self,
        *,
        workspace: Workspace,
        seed: int,
        stream: str,
        companies: list[Company],
        tags: list[Tag],
        attribute_keys: set[str],
        owner_ids: list[int],
        owner_weights: list[int],
        activities_per_lead: float,
        email_for: Callable[[str, str, int], str],
        now: datetime | None = None,
    ) -> None:
        self.rng = random.Random(f"{seed}:{stream}")
        self.pools = pools_build(seed)
        self.workspace_id = workspace.pk
        self.now = now or timezone.now()
        self.companies = [(c.pk, c.name, c.domain) for c in companies]
        self.tag_ids = [t.pk for t in tags]
        self.attribute_keys = attribute_keys
        self.owner_ids = owner_ids
        self.owner_cum = _cumulative(owner_weights)
        self.max_activities = max(0, round(2 * activities_per_lead))
        self.email_for = email_for
        self.countries = list(COUNTRIES) + [""]
        self.country_cum = _cumulative([w for w, *_ in COUNTRIES.values()] + [NO_COUNTRY_WEIGHT])
        self.source_cum = _cumulative(SOURCE_WEIGHTS)
        self.status_cum = _cumulative(STATUS_WEIGHTS)
        self.activity_cum = _cumulative(ACTIVITY_WEIGHTS)
        self.departments = list(DEPARTMENTS)
        self.all_locales = sorted(self.pools.first_names)

    def lead(self, n: int) -> SyntheticLead:
        rng = self.rng
        now = self.now
        country = rng.choices(self.countries, cum_weights=self.country_cum)[0]
        locale = COUNTRIES[country][1] if country else "en_US"
        # Names travel: some people's names come from another locale than their address.
        name_locale = rng.choice(self.all_locales) if rng.random() < 0.08 else locale
        first_name, first_ascii = rng.choice(self.pools.first_names[name_locale])
        last_name, last_ascii = rng.choice(self.pools.last_names[name_locale])

        company_id, company_name, company_domain = (
            rng.choice(self.companies) if self.companies and rng.random() < 0.85 else (None, "", "")
        )
        mail_domain = (
            company_domain if company_domain and rng.random() < 0.85 else rng.choice(FREE_MAIL)
        )
        email = self.email_for(f"{first_ascii}.{last_ascii}", mail_domain, n)

        created_at = now - timedelta(seconds=TWO_YEARS * rng.random() ** 1.3)
        span = (now - created_at).total_seconds()
        owner_id = (
            rng.choices(self.owner_ids, cum_weights=self.owner_cum)[0]
            if self.owner_ids and rng.random() < 0.95
            else None
        )

        bounced = rng.random() < 0.01
        activities = []
        last_activity_at = last_contacted_at = None
        types = rng.choices(
            ACTIVITY_TYPES, cum_weights=self.activity_cum, k=rng.randint(0, self.max_activities)
        )
        if bounced:
            types.append(ActivityType.EMAIL_BOUNCED)
        timed = [(t, created_at + timedelta(seconds=span * rng.random()), "") for t in types]
        if self.max_activities and rng.random() < HOT_SHARE:
            timed.extend(self._buying_burst(created_at))
        for type_, occurred_at, page in timed:
            if type_ in _MANUAL_TYPES:
                source, actor_id = Channel.MANUAL, owner_id
                subject = {"call": "Discovery call", "meeting": "Product demo"}.get(type_, "")
                body = rng.choice(NOTES)
            else:
                source, actor_id, body = Channel.SYSTEM, None, ""
                subject = rng.choice(EMAIL_SUBJECTS) if type_.startswith("email") else ""
            url = ""
            if type_ == ActivityType.PAGE_VISITED:
                if not page:
                    page = rng.choice(PRICING_PAGES) if rng.random() < 0.3 else rng.choice(PAGES)
                url = WEBSITE + page
            activities.append((type_, occurred_at, source, actor_id, subject, body, url))
            if last_activity_at is None or occurred_at > last_activity_at:
                last_activity_at = occurred_at
            if type_ in _CONTACT_TYPES and (
                last_contacted_at is None or occurred_at > last_contacted_at
            ):
                last_contacted_at = occurred_at

        department = rng.choice(self.departments)
        titles = DEPARTMENTS[department]
        title_index = rng.randrange(len(titles))
        job_title = titles[title_index]
        if title_index < 2:
            contact_role = _SENIORITY_ROLES[title_index]
        else:
            contact_role = rng.choices(_OTHER_ROLES, weights=_OTHER_ROLE_WEIGHTS)[0]
        if rng.random() < 0.15:
            job_title = department = contact_role = ""

        source = rng.choices(SOURCES, cum_weights=self.source_cum)[0]
        fields = {
            "workspace_id": self.workspace_id,
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "job_title": job_title,
            "department": department,
            "contact_role": contact_role,
            "company_id": company_id,
            "domain": email_domain(email),
            "source": source,
            "owner_id": owner_id,
            "status": rng.choices(STATUSES, cum_weights=self.status_cum)[0],
            "email_status": (
                EmailStatus.BOUNCED
                if bounced
                else EmailStatus.INACTIVE
                if rng.random() < 0.03
                else EmailStatus.ACTIVE
            ),
            "attributes": self._attributes(created_at),
            "search_text": search_text_for(
                first_name=first_name, last_name=last_name, email=email, company_name=company_name
            ),
            "version": 1,
            "created_at": created_at,
            "last_activity_at": last_activity_at,
            "last_contacted_at": last_contacted_at,
        }
        if country:
            fields.update(self._address(country, locale))
        if rng.random() < 0.4:
            fields["linkedin_url"] = f"https://www.linkedin.com/in/{first_ascii}-{last_ascii}-{n}"
        if rng.random() < 0.1:
            fields["twitter_handle"] = f"@{first_ascii[:7]}{last_ascii[:7]}"
        if rng.random() < 0.15:
            fields["birthday"] = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 42))
        consent_event = self._consent(fields, source, created_at)
        fields["updated_at"] = max(
            created_at,
            last_activity_at or created_at,
            fields.get("consent_captured_at") or created_at,
        )
        k = rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]
        tag_ids = rng.sample(self.tag_ids, min(k, len(self.tag_ids)))
        return SyntheticLead(fields, activities, tag_ids, consent_event)

    def _buying_burst(self, created_at: datetime) -> list[tuple[str, datetime, str]]:
        """Opens, clicks, pricing visits and maybe a reply within the last HOT_DAYS days."""
        rng = self.rng
        start = max(created_at, self.now - timedelta(days=HOT_DAYS))
        window = (self.now - start).total_seconds()
        types = (
            [ActivityType.EMAIL_OPENED] * rng.randint(1, 3)
            + [ActivityType.EMAIL_CLICKED] * rng.randint(0, 2)
            + [ActivityType.PAGE_VISITED] * rng.randint(1, 3)
            + [ActivityType.EMAIL_REPLIED] * rng.randint(0, 1)
        )
        return [
            (
                type_,
                start + timedelta(seconds=window * rng.random()),
                rng.choice(PRICING_PAGES) if type_ == ActivityType.PAGE_VISITED else "",
            )
            for type_ in types
        ]

    def _address(self, country: str, locale: str) -> dict:
        rng = self.rng
        _, _, zones, language = COUNTRIES[country]
        has_street = rng.random() < 0.5
        return {
            "country": country,
            "city": rng.choice(self.pools.cities[locale]),
            "region": rng.choice(self.pools.regions[locale]) if rng.random() < 0.7 else "",
            "street": rng.choice(self.pools.streets[locale]) if has_street else "",
            "postal_code": rng.choice(self.pools.postcodes[locale]) if has_street else "",
            "phone": self._phone(country) if rng.random() < 0.7 else "",
            "mobile": self._phone(country) if rng.random() < 0.2 else "",
            "timezone": rng.choice(zones),
            "preferred_language": language,
        }

    def _phone(self, country: str) -> str:
        """A possible number in E.164: a real prefix of the country, random digits after."""
        calling_code, prefixes, digits = PHONE_PREFIXES[country]
        return (
            f"{calling_code}{self.rng.choice(prefixes)}{self.rng.randrange(10**digits):0{digits}d}"
        )

    def _attributes(self, created_at: datetime) -> dict:
        rng = self.rng
        values = {}
        if rng.random() < 0.85:
            values["industry"] = rng.choice(INDUSTRIES)
        if rng.random() < 0.6:
            values["budget"] = rng.randrange(2, 500) * 500
        if rng.random() < 0.5:
            days = (self.now - created_at).days
            values["subscription_date"] = (
                created_at.date() + timedelta(days=rng.randint(0, days))
            ).isoformat()
        if rng.random() < 0.7:
            values["vip"] = rng.random() < 0.12
        return {k: v for k, v in values.items() if k in self.attribute_keys}

    def _consent(self, fields: dict, source: str, created_at: datetime) -> dict | None:
        """Fill the lead's consent fields; returns the ConsentEvent that recorded them."""
        rng = self.rng
        draw = rng.random()
        if draw < 0.6:
            status = ConsentStatus.OPTED_IN
        elif draw < 0.7:
            status = ConsentStatus.PENDING
        else:
            return None  # unknown: the model defaults
        if status == ConsentStatus.PENDING:
            type_, consent_source, proof = ConsentType.EXPLICIT, "Website form", PENDING_PROOF
        elif source == "Import":
            type_, consent_source = ConsentType.IMPORTED, "Imported list"
            proof = CONSENT_PROOFS[consent_source]
        else:
            type_ = ConsentType.EXPLICIT
            consent_source = "Webinar registration" if source == "Webinar" else "Website form"
            proof = CONSENT_PROOFS[consent_source]
        captured_at = min(created_at + timedelta(minutes=rng.randint(0, 4320)), self.now)
        country = fields.get("country", "")
        fields.update(
            consent_status=status,
            consent_type=type_,
            consent_captured_at=captured_at,
            consent_source=consent_source,
            consent_proof=proof,
            gdpr_basis=GdprBasis.CONSENT,
            consent_country=country,
        )
        return {
            "workspace_id": self.workspace_id,
            "occurred_at": captured_at,
            "actor_id": None,
            "channel": Channel.IMPORT if type_ == ConsentType.IMPORTED else Channel.WEBFORM,
            "status_before": ConsentStatus.UNKNOWN,
            "status": status,
            "type": type_,
            "source": consent_source,
            "proof": proof,
            "gdpr_basis": GdprBasis.CONSENT,
            "country": country,
        }


def _cumulative(weights: list[int]) -> list[int]:
    total, out = 0, []
    for w in weights:
        total += w
        out.append(total)
    return out


ACTIVITY_FIELDS = ("type", "occurred_at", "source", "actor_id", "subject", "body", "url")


def leads_write_orm(*, workspace: Workspace, leads: list[SyntheticLead]) -> tuple[int, int]:
    """Write a batch with bulk_create (any database); returns (leads, activities) written."""
    with transaction.atomic():
        objs = Lead.objects.bulk_create([Lead(**s.fields) for s in leads], batch_size=1000)
        activities, tag_rows, events = [], [], []
        through = Lead.tags.through
        for obj, s in zip(objs, leads, strict=True):
            for row in s.activities:
                values = dict(zip(ACTIVITY_FIELDS, row, strict=True))
                activities.append(
                    Activity(
                        workspace_id=workspace.pk,
                        lead_id=obj.pk,
                        created_at=values["occurred_at"],
                        **values,
                    )
                )
            tag_rows.extend(through(lead_id=obj.pk, tag_id=tag_id) for tag_id in s.tag_ids)
            if s.consent_event:
                events.append(ConsentEvent(lead_id=obj.pk, **s.consent_event))
        Activity.objects.bulk_create(activities, batch_size=2000)
        through.objects.bulk_create(tag_rows, batch_size=2000)
        ConsentEvent.objects.bulk_create(events, batch_size=1000)
    return len(objs), len(activities)
