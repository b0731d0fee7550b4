"""Quality score (PRODUCT A4, seed 002): how promising a lead's record is, 0–100.

Four parts, each with its share of the 100 points:

- Contact completeness (40): a deliverable email (not bounced or unsubscribed) 10, first and
  last name 10, a phone or mobile number 10, job title 5, country 5.
- Company information (20): a company 10, a domain 5, department or contact role 5.
- Source reliability (20): the weight (0–100) Settings → Scoring gives the lead's source,
  scaled to 20 points.
- Engagement (20): the engagement score (0–100) scaled to 20 points.

The same definition exists twice, on purpose and tested to agree: `quality_of()` for one lead
in Python (the breakdown on the lead page, and one-lead writes), and `quality_expression()`
as one SQL expression for set-based writes (imports, bulk updates, recomputes). Scaling uses
integer division in both, so both round the same way.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, ExpressionWrapper, F, IntegerField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.db.models.lookups import Exact

from contacts.models import EmailStatus, Lead, ScoringSettings
from leadcrm.models import Workspace

# Seed 002 names source reliability; these are the weights a new workspace starts with.
DEFAULT_SOURCE_WEIGHTS = [
    {"source": "Referral", "weight": 100},
    {"source": "Partner", "weight": 90},
    {"source": "Webinar", "weight": 80},
    {"source": "Website", "weight": 70},
    {"source": "Trade show", "weight": 60},
    {"source": "LinkedIn", "weight": 50},
    {"source": "Import", "weight": 30},
]
DEFAULT_OTHER_WEIGHT = 50
DEFAULT_NO_SOURCE_WEIGHT = 0

# The lead fields quality_of() reads (engagement aside), for callers that load only some.
QUALITY_FIELDS = [
    "email_status",
    "first_name",
    "last_name",
    "phone",
    "mobile",
    "job_title",
    "country",
    "company_id",
    "domain",
    "department",
    "contact_role",
    "source",
]

SOURCE_SHARE = 20
ENGAGEMENT_SHARE = 20
UNDELIVERABLE = (EmailStatus.BOUNCED, EmailStatus.UNSUBSCRIBED)


@dataclass(frozen=True)
class Weights:
    """A workspace's source weights, keyed by the lower-cased source."""

    by_source: dict[str, int]
    other: int
    none: int

    def for_source(self, source: str) -> int:
        source = (source or "").strip().lower()
        if not source:
            return self.none
        return self.by_source.get(source, self.other)


def scoring_settings_for(workspace: Workspace | int) -> ScoringSettings:
    """The workspace's settings row, or an unsaved one holding the defaults."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    found = ScoringSettings.objects.filter(workspace_id=workspace_id).first()
    return found or ScoringSettings(
        workspace_id=workspace_id,
        source_weights=[dict(row) for row in DEFAULT_SOURCE_WEIGHTS],
        other_source_weight=DEFAULT_OTHER_WEIGHT,
        no_source_weight=DEFAULT_NO_SOURCE_WEIGHT,
    )


def weights_for(workspace: Workspace | int) -> Weights:
    found = scoring_settings_for(workspace)
    by_source: dict[str, int] = {}
    for row in found.source_weights:
        by_source.setdefault(str(row["source"]).strip().lower(), int(row["weight"]))
    return Weights(by_source, found.other_source_weight, found.no_source_weight)


@dataclass(frozen=True)
class QualityLine:
    part: str  # Contact completeness, Company information, …
    label: str  # what earns the points
    points: int
    max_points: int


def quality_lines(lead: Lead, weights: Weights) -> list[QualityLine]:
    """Every item of the definition with the points this lead earns for it."""
    completeness = "Contact completeness"
    company = "Company information"
    source_weight = weights.for_source(lead.source)
    source_label = (
        f"Source “{lead.source}” ({source_weight}% reliable)"
        if lead.source
        else (f"No source ({source_weight}% reliable)")
    )
    return [
        QualityLine(completeness, "Deliverable email", 10 * _deliverable(lead), 10),
        QualityLine(
            completeness, "First and last name", 10 * bool(lead.first_name and lead.last_name), 10
        ),
        QualityLine(completeness, "Phone or mobile", 10 * bool(lead.phone or lead.mobile), 10),
        QualityLine(completeness, "Job title", 5 * bool(lead.job_title), 5),
        QualityLine(completeness, "Country", 5 * bool(lead.country), 5),
        QualityLine(company, "Company", 10 * bool(lead.company_id), 10),
        QualityLine(company, "Domain", 5 * bool(lead.domain), 5),
        QualityLine(
            company, "Department or role", 5 * bool(lead.department or lead.contact_role), 5
        ),
        QualityLine(
            "Source reliability", source_label, source_weight * SOURCE_SHARE // 100, SOURCE_SHARE
        ),
        QualityLine(
            "Engagement",
            f"Engagement score {lead.score}",
            lead.score * ENGAGEMENT_SHARE // 100,
            ENGAGEMENT_SHARE,
        ),
    ]


def _deliverable(lead: Lead) -> bool:
    return lead.email_status not in UNDELIVERABLE


def quality_of(lead: Lead, weights: Weights) -> int:
    return max(0, min(100, sum(line.points for line in quality_lines(lead, weights))))


def lead_quality_apply(lead: Lead, weights: Weights | None = None) -> bool:
    """Set lead.quality_score from its fields (the caller saves); True if it changed."""
    value = quality_of(lead, weights or weights_for(lead.workspace_id))
    changed = value != lead.quality_score
    lead.quality_score = value
    return changed


# Set-based ------------------------------------------------------------------------------------


def _points(condition: Q, points: int) -> Case:
    return Case(When(condition, then=Value(points)), default=Value(0), output_field=IntegerField())


def _filled(name: str) -> Q:
    return ~Q(**{name: ""})


def sources_matched_as_written(leads) -> list[str]:
    """The non-ASCII sources among these leads. SQL's LOWER() may lower them otherwise than
    str.lower() (SQLite knows only ASCII; PostgreSQL: "İ", a final "Σ", a locale without
    Unicode case rules), so the SQL matches them as written, with the weight Python gives
    them; LOWER() is left only ASCII, where every database agrees with Python."""
    found = leads.exclude(source="").order_by().values_list("source", flat=True).distinct()
    return [source for source in found if not source.isascii()]


def quality_expression(weights: Weights, *, score=None, sources: Iterable[str] = ()):
    """quality_of() as one SQL expression over a lead row (no joins); `score` replaces the
    lead's engagement score column (a recompute passes the new one); `sources`: see
    sources_matched_as_written()."""
    source = Lower("source")
    source_weight = Case(
        When(Q(source=""), then=Value(weights.none)),
        *[When(Q(source=raw), then=Value(weights.for_source(raw))) for raw in sources],
        *[When(Exact(source, Value(key)), then=Value(w)) for key, w in weights.by_source.items()],
        default=Value(weights.other),
        output_field=IntegerField(),
    )
    parts = [
        _points(~Q(email_status__in=UNDELIVERABLE), 10),
        _points(_filled("first_name") & _filled("last_name"), 10),
        _points(_filled("phone") | _filled("mobile"), 10),
        _points(_filled("job_title"), 5),
        _points(_filled("country"), 5),
        _points(Q(company_id__isnull=False), 10),
        _points(_filled("domain"), 5),
        _points(_filled("department") | _filled("contact_role"), 5),
        source_weight * Value(SOURCE_SHARE) / Value(100),
        (F("score") if score is None else score) * Value(ENGAGEMENT_SHARE) / Value(100),
    ]
    return ExpressionWrapper(sum(parts[1:], parts[0]), output_field=IntegerField())


def quality_sql(workspace_id: int, *, score_sql: str, leads=None) -> tuple[str, dict]:
    """quality_expression() as SQL text for a raw UPDATE of `leads` (a queryset of
    contacts_lead; default: the workspace's), with named parameters (%(q0)s …) and the
    engagement score read from `score_sql`."""
    if leads is None:
        leads = Lead.objects.filter(workspace_id=workspace_id)
    query = Lead.objects.all().query
    expression = quality_expression(
        weights_for(workspace_id),
        score=RawSQL(score_sql, [], output_field=IntegerField()),
        sources=sources_matched_as_written(leads),
    ).resolve_expression(query)
    sql, params = query.get_compiler(connection=connection).compile(expression)
    names = iter(range(len(params)))
    named = re.sub(r"%s", lambda _: f"%(q{next(names)})s", sql)
    return named, {f"q{i}": value for i, value in enumerate(params)}


def leads_requality(
    *,
    workspace: Workspace | int,
    lead_ids: Iterable[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> int:
    """Recompute quality_score set-based, writing only rows whose value moves; returns how
    many moved. Without lead_ids, every lead of the workspace (with ids in `id_range`,
    inclusive, when given)."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    weights = weights_for(workspace_id)
    leads = Lead.objects.filter(workspace_id=workspace_id)
    if id_range is not None:
        leads = leads.filter(pk__gte=id_range[0], pk__lte=id_range[1])
    if lead_ids is None:
        return _requality(leads, weights)
    ids = sorted(set(lead_ids))
    return sum(
        _requality(leads.filter(pk__in=ids[i : i + 5000]), weights)
        for i in range(0, len(ids), 5000)
    )


def _requality(leads, weights: Weights) -> int:
    expression = quality_expression(weights, sources=sources_matched_as_written(leads))
    return leads.exclude(Exact(F("quality_score"), expression)).update(quality_score=expression)
