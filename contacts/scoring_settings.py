"""Settings → Scoring (PRODUCT A3/A4): the writes behind the page, and what the page reads.

Rules and source weights change only here, each change audited (C7). The audit log also
tells the page whether scores are out of date: a scoring entry newer than the newest
recompute means they are. Rules carry no timestamps, so nothing new is stored for that.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from contacts.models import ActivityType, ScoreRecompute, ScoringRule, ScoringSettings
from contacts.quality import scoring_settings_for
from leadcrm.audit import audit_record
from leadcrm.models import AuditLog, User, Workspace

POINTS_LIMIT = 100
URL_CONTAINS_MAX_LENGTH = 200
SOURCE_MAX_LENGTH = 100
WEIGHT_MAX = 100
# The activities that carry a URL; a URL condition on any other type would never match.
URL_TYPES = (ActivityType.PAGE_VISITED, ActivityType.EMAIL_CLICKED, ActivityType.FORM_SUBMIT)
SOURCE_WEIGHTS_ACTION = "scoring.source_weights"
SCORING_ACTIONS = (
    "scoring_rule.create",
    "scoring_rule.update",
    "scoring_rule.enable",
    "scoring_rule.disable",
    "scoring_rule.delete",
    SOURCE_WEIGHTS_ACTION,
)
RULE_FIELDS = ("activity_type", "url_contains", "points", "resets")


def rule_label(rule: ScoringRule) -> str:
    """The rule as a person reads it: “Page Visited, URL contains /pricing: +20”."""
    condition = f", URL contains {rule.url_contains}" if rule.url_contains else ""
    effect = "reset to 0" if rule.resets else f"{rule.points:+d}"
    return f"{rule.get_activity_type_display()}{condition}: {effect}"


def _lock(workspace: Workspace) -> None:
    """Serialise scoring writes of one workspace, so two duplicate checks cannot both pass.

    NO KEY: rows that reference the workspace (leads, audit entries) stay insertable meanwhile.
    """
    Workspace.objects.select_for_update(no_key=True).only("pk").get(pk=workspace.pk)


# Rules ---------------------------------------------------------------------------------------


def _rule_clean(
    *,
    workspace: Workspace,
    rule: ScoringRule | None,
    activity_type: str,
    url_contains: str,
    points: int | None,
    resets: bool,
) -> dict:
    errors: dict[str, list[str]] = {}
    type_label = dict(ActivityType.choices).get(activity_type)
    if type_label is None:
        errors["activity_type"] = ["Choose one of the activity types offered."]
    url_contains = (url_contains or "").strip()
    if len(url_contains) > URL_CONTAINS_MAX_LENGTH:
        errors["url_contains"] = [
            f"Use at most {URL_CONTAINS_MAX_LENGTH} characters (this has {len(url_contains)})."
        ]
    elif url_contains and type_label and activity_type not in URL_TYPES:
        with_url = ", ".join(str(ActivityType(t).label) for t in URL_TYPES)
        errors["url_contains"] = [
            f"{type_label} activities have no URL, so this condition would never match. "
            f"Leave it empty (activities with a URL: {with_url})."
        ]
    points = points or 0
    resets = bool(resets)
    if resets and points:
        errors["points"] = [
            "A reset rule sets the score to 0 and gives no points: leave Points empty."
        ]
    elif not resets and not points:
        errors["points"] = [
            "Give points from −100 to 100 other than 0, or tick “Reset score to 0”."
        ]
    elif not -POINTS_LIMIT <= points <= POINTS_LIMIT:
        errors["points"] = [f"Points go from −{POINTS_LIMIT} to {POINTS_LIMIT}."]
    if errors:
        raise ValidationError(errors)
    twins = ScoringRule.objects.filter(
        workspace=workspace, activity_type=activity_type, url_contains__iexact=url_contains
    )
    if rule is not None:
        twins = twins.exclude(pk=rule.pk)
    twin = twins.first()
    if twin is not None:
        condition = f"with URL contains “{url_contains}”" if url_contains else "without a condition"
        advice = "enable and edit that one instead" if not twin.is_active else "edit it instead"
        state = "A disabled rule" if not twin.is_active else "A rule"
        raise ValidationError(
            f"{state} for {type_label} {condition} exists already (“{rule_label(twin)}”): {advice}."
        )
    return {
        "activity_type": activity_type,
        "url_contains": url_contains,
        "points": 0 if resets else points,
        "resets": resets,
    }


@transaction.atomic
def scoring_rule_save(
    *,
    workspace: Workspace,
    actor: User | None,
    rule: ScoringRule | None = None,
    activity_type: str,
    url_contains: str = "",
    points: int | None = None,
    resets: bool = False,
) -> ScoringRule:
    """Add a rule (rule=None) or change one; refuses zero points, points on a reset rule,
    and a second rule for the same activity type and condition."""
    if rule is not None and rule.workspace_id != workspace.pk:
        raise ValueError("The rule belongs to another workspace.")
    _lock(workspace)
    cleaned = _rule_clean(
        workspace=workspace,
        rule=rule,
        activity_type=activity_type,
        url_contains=url_contains,
        points=points,
        resets=resets,
    )
    if rule is None:
        last = ScoringRule.objects.filter(workspace=workspace).aggregate(last=Max("position"))
        rule = ScoringRule(workspace=workspace, position=(last["last"] or 0) + 1, **cleaned)
        rule.full_clean()
        rule.save()
        audit_record(
            actor=actor,
            workspace=workspace,
            action="scoring_rule.create",
            obj=rule,
            object_repr=rule_label(rule),
            changes={name: [None, cleaned[name]] for name in RULE_FIELDS},
        )
        return rule
    changes = {}
    for name in RULE_FIELDS:
        old, new = getattr(rule, name), cleaned[name]
        if old != new:
            changes[name] = [old, new]
            setattr(rule, name, new)
    if changes:
        rule.full_clean()
        rule.save(update_fields=list(changes))
        audit_record(
            actor=actor,
            workspace=workspace,
            action="scoring_rule.update",
            obj=rule,
            object_repr=rule_label(rule),
            changes=changes,
        )
    return rule


@transaction.atomic
def scoring_rule_set_active(
    *, rule: ScoringRule, actor: User | None, is_active: bool
) -> ScoringRule:
    """Disable a rule (it stops counting, and stays listed) or enable it again."""
    if rule.is_active != is_active:
        rule.is_active = is_active
        rule.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            workspace=rule.workspace,
            action="scoring_rule.enable" if is_active else "scoring_rule.disable",
            obj=rule,
            object_repr=rule_label(rule),
            changes={"is_active": [not is_active, is_active]},
        )
    return rule


@transaction.atomic
def scoring_rule_delete(*, rule: ScoringRule, actor: User | None) -> None:
    audit_record(
        actor=actor,
        workspace=rule.workspace,
        action="scoring_rule.delete",
        obj=rule,
        object_repr=rule_label(rule),
        changes={name: [getattr(rule, name), None] for name in (*RULE_FIELDS, "is_active")},
    )
    rule.delete()


def scoring_rules_list(workspace: Workspace) -> list[ScoringRule]:
    """Every rule of the workspace, disabled ones too, each with its `label`."""
    rules = list(ScoringRule.objects.filter(workspace=workspace).order_by("position", "id"))
    for rule in rules:
        rule.label = rule_label(rule)
    return rules


# Source weights ------------------------------------------------------------------------------


def _weight_ok(weight) -> bool:
    return isinstance(weight, int) and not isinstance(weight, bool) and 0 <= weight <= WEIGHT_MAX


def _source_weights_clean(rows: Iterable[dict]) -> list[dict]:
    cleaned: list[dict] = []
    seen: set[str] = set()
    problems: list[str] = []
    for row in rows:
        source = str(row.get("source") or "").strip()
        weight = row.get("weight")
        if not source:
            problems.append(f"Name the source weighted {weight}, or clear its row.")
        elif len(source) > SOURCE_MAX_LENGTH:
            problems.append(f"“{source[:30]}…” is longer than {SOURCE_MAX_LENGTH} characters.")
        elif source.casefold() in seen:
            problems.append(f"“{source}” is listed twice (source names ignore upper/lower case).")
        elif not _weight_ok(weight):
            problems.append(f"Give “{source}” a weight from 0 to {WEIGHT_MAX}.")
        else:
            seen.add(source.casefold())
            cleaned.append({"source": source, "weight": weight})
    if problems:
        raise ValidationError({"source_weights": problems})
    return cleaned


@transaction.atomic
def source_weights_save(
    *,
    workspace: Workspace,
    actor: User | None,
    source_weights: Iterable[dict],
    other_source_weight: int,
    no_source_weight: int,
) -> ScoringSettings:
    """Save how reliable each lead source is (0–100), for the quality score (A4).

    `source_weights` is a list of {"source": name, "weight": 0–100}; names are compared
    without regard to case, so one source cannot be weighted twice.
    """
    errors: dict[str, list[str]] = {}
    try:
        rows = _source_weights_clean(source_weights)
    except ValidationError as error:
        errors.update(error.message_dict)
    for name, value in [
        ("other_source_weight", other_source_weight),
        ("no_source_weight", no_source_weight),
    ]:
        if not _weight_ok(value):
            errors[name] = [f"Use a weight from 0 to {WEIGHT_MAX}."]
    if errors:
        raise ValidationError(errors)
    _lock(workspace)
    saved = scoring_settings_for(workspace)  # a workspace without a row has the defaults
    changes = {}
    for name, new in [
        ("source_weights", rows),
        ("other_source_weight", other_source_weight),
        ("no_source_weight", no_source_weight),
    ]:
        old = getattr(saved, name)
        if old != new:
            changes[name] = [old, new]
            setattr(saved, name, new)
    if not changes:
        return saved
    saved.updated_at = timezone.now()
    saved.save()
    audit_record(
        actor=actor,
        workspace=workspace,
        action=SOURCE_WEIGHTS_ACTION,
        obj=saved,
        object_repr="Source weights",
        changes=changes,
    )
    return saved


# Recompute state -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecomputeState:
    job: ScoreRecompute | None  # the run under way, if any
    last_done: ScoreRecompute | None
    failed: ScoreRecompute | None  # the newest run, when it failed
    outdated: bool  # rules or weights changed after the newest run began


def scoring_changed_at(workspace: Workspace) -> datetime | None:
    """When the workspace's rules or source weights last changed, read from the audit log."""
    return (
        AuditLog.objects.filter(workspace=workspace, action__in=SCORING_ACTIONS)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def scoring_recompute_state(workspace: Workspace) -> RecomputeState:
    runs = ScoreRecompute.objects.filter(workspace=workspace).select_related("requested_by")
    open_statuses = (ScoreRecompute.Status.QUEUED, ScoreRecompute.Status.RUNNING)
    job = runs.filter(status__in=open_statuses).order_by("created_at", "pk").first()
    last_done = (
        runs.filter(status=ScoreRecompute.Status.DONE).order_by("-created_at", "-pk").first()
    )
    newest = runs.order_by("-created_at", "-pk").first()
    failed = newest if newest and newest.status == ScoreRecompute.Status.FAILED else None
    changed_at = scoring_changed_at(workspace)
    # A queued or running recompute created after the change will apply it; a done one has.
    covered = (
        changed_at is None
        or runs.filter(
            status__in=(*open_statuses, ScoreRecompute.Status.DONE), created_at__gte=changed_at
        ).exists()
    )
    return RecomputeState(job=job, last_done=last_done, failed=failed, outdated=not covered)
