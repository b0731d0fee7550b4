"""Settings → Scoring (PRODUCT A3/A4): engagement rules, source weights, recomputing scores.

One page with three htmx parts: `#rule-list` (the rules and the form that adds one),
`#source-weights` and `#recompute-card`. A change answers htmx with its part and announces
`scoring-changed`, on which the recompute card refreshes itself (to offer a recompute); a
plain form post goes back to the page.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from contacts.models import ScoringRule
from contacts.quality import scoring_settings_for
from contacts.recompute import score_recompute_request, score_recompute_resume_stale
from contacts.scoring_forms import (
    ScoringRuleForm,
    source_weight_forms,
    source_weights_from,
)
from contacts.scoring_settings import (
    rule_label,
    scoring_recompute_state,
    scoring_rule_delete,
    scoring_rule_save,
    scoring_rule_set_active,
    scoring_rules_list,
    source_weights_save,
)
from leadcrm.permissions import require_perm
from leadcrm.views import get_scoped_or_404

MANAGE = "leadcrm.manage_scoring"
PAGE = "contacts/scoring.html"
CHANGED_EVENT = "scoring-changed"


def _rules_context(request: HttpRequest, **context) -> dict:
    return {
        "rules": scoring_rules_list(request.workspace),
        "add_form": context.pop("add_form", None) or ScoringRuleForm(),
        **context,
    }


def _weights_context(request: HttpRequest, **context) -> dict:
    if "formset" not in context:
        context["formset"], context["weights_form"] = source_weight_forms(
            scoring_settings_for(request.workspace)
        )
    return context


def _recompute_context(request: HttpRequest) -> dict:
    return {"recompute": scoring_recompute_state(request.workspace)}


PARTS = {
    "rule-list": _rules_context,
    "source-weights": _weights_context,
    "recompute-card": lambda request, **context: {**_recompute_context(request), **context},
}


def _render(request: HttpRequest, part: str, status: int = 200, **context) -> HttpResponse:
    """The part for htmx, else the whole page with `context` in the part's place."""
    if request.htmx:
        return render(request, f"{PAGE}#{part}", PARTS[part](request, **context), status=status)
    page = {}
    for name, build in PARTS.items():
        page.update(build(request, **context) if name == part else build(request))
    return render(request, PAGE, page, status=status)


def _after_change(request: HttpRequest, part: str) -> HttpResponse:
    if not request.htmx:
        return redirect("scoring")
    return trigger_client_event(_render(request, part), CHANGED_EVENT)


def _rule(request: HttpRequest, pk: int) -> ScoringRule:
    return get_scoped_or_404(request, ScoringRule.objects.all(), pk=pk)


@require_GET
@require_perm(MANAGE)
def scoring(request: HttpRequest) -> HttpResponse:
    score_recompute_resume_stale(request.workspace)  # a run whose worker died is queued again
    return _render(request, "rule-list")


@require_POST
@require_perm(MANAGE)
def scoring_rule_create_view(request: HttpRequest) -> HttpResponse:
    form = ScoringRuleForm(request.POST)
    if form.is_valid():
        try:
            rule = scoring_rule_save(
                workspace=request.workspace, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Rule “{rule_label(rule)}” added.")
            return _after_change(request, "rule-list")
    return _render(request, "rule-list", status=400, add_form=form)


@require_http_methods(["GET", "POST"])
@require_perm(MANAGE)
def scoring_rule_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    data = request.POST if request.method == "POST" else None
    form = ScoringRuleForm(data, rule=rule, prefix="edit")
    if data is not None and form.is_valid():
        try:
            scoring_rule_save(
                workspace=request.workspace, actor=request.user, rule=rule, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Rule saved: “{rule_label(rule)}”.")
            return _after_change(request, "rule-list")
    status = 400 if form.errors else 200
    if request.htmx:
        return _render(request, "rule-list", status=status, editing=rule, edit_form=form)
    context = {"rule": rule, "label": rule_label(rule), "form": form}
    return render(request, "contacts/scoring_rule_edit.html", context, status=status)


@require_POST
@require_perm(MANAGE)
def scoring_rule_disable_view(request: HttpRequest, pk: int) -> HttpResponse:
    rule = scoring_rule_set_active(rule=_rule(request, pk), actor=request.user, is_active=False)
    messages.success(request, f"Rule “{rule_label(rule)}” disabled; it no longer counts.")
    return _after_change(request, "rule-list")


@require_POST
@require_perm(MANAGE)
def scoring_rule_enable_view(request: HttpRequest, pk: int) -> HttpResponse:
    rule = scoring_rule_set_active(rule=_rule(request, pk), actor=request.user, is_active=True)
    messages.success(request, f"Rule “{rule_label(rule)}” enabled.")
    return _after_change(request, "rule-list")


@require_POST
@require_perm(MANAGE)
def scoring_rule_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    label = rule_label(rule)
    scoring_rule_delete(rule=rule, actor=request.user)
    messages.success(request, f"Rule “{label}” deleted.")
    return _after_change(request, "rule-list")


@require_POST
@require_perm(MANAGE)
def scoring_source_weights_view(request: HttpRequest) -> HttpResponse:
    formset, form = source_weight_forms(scoring_settings_for(request.workspace), request.POST)
    errors: list[str] = []
    if formset.is_valid() and form.is_valid():
        try:
            source_weights_save(
                workspace=request.workspace,
                actor=request.user,
                source_weights=source_weights_from(formset),
                **form.cleaned_data,
            )
        except ValidationError as error:
            problems = dict(error.message_dict)
            errors = problems.pop("source_weights", [])
            for field, field_errors in problems.items():
                form.add_error(field if field in form.fields else None, field_errors)
        else:
            messages.success(request, "Source weights saved.")
            return _after_change(request, "source-weights")
    return _render(
        request,
        "source-weights",
        status=400,
        formset=formset,
        weights_form=form,
        weights_errors=errors,
    )


@require_POST
@require_perm(MANAGE)
def scoring_recompute_view(request: HttpRequest) -> HttpResponse:
    score_recompute_request(
        workspace=request.workspace, actor=request.user, reason="Settings → Scoring"
    )
    if request.htmx:
        return _render(request, "recompute-card")
    messages.success(request, "Recomputing every lead's scores in the background.")
    return redirect("scoring")


@require_GET
@require_perm(MANAGE)
def scoring_recompute_card(request: HttpRequest) -> HttpResponse:
    """The polled progress card; polling also revives a run whose worker died."""
    score_recompute_resume_stale(request.workspace)
    return render(request, f"{PAGE}#recompute-card", _recompute_context(request))
