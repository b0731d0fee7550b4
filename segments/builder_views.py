"""The rule builder's endpoints on a dynamic segment's page (PRODUCT G2).

Every request posts the whole builder form; segments/builder.py turns it into a tree. Structural
edits answer the re-rendered builder; the preview answers out-of-band parts only (count, leads,
query, "Unsaved changes" and each node's issues), so the input being typed in is never replaced.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadcrm.permissions import require_perm
from leadcrm.views import get_scoped_or_404
from segments.builder import (
    BuilderInvalid,
    builder_context,
    edit_apply,
    preview_context,
    rules_editable,
    same_rules,
    segment_preview,
    tree_from_post,
)
from segments.models import Segment, SegmentKind
from segments.rules import EMPTY_TREE, FieldRegistry, RulesInvalid, field_registry
from segments.services import segment_rules_set

RULES = "segments/_rules.html"


def _dynamic_segment(request: HttpRequest, pk: int) -> Segment:
    """A dynamic segment of the current workspace; a static or another workspace's is a 404."""
    return get_scoped_or_404(request, Segment.objects.filter(kind=SegmentKind.DYNAMIC), pk=pk)


def _editable_segment(request: HttpRequest, pk: int) -> Segment:
    """As _dynamic_segment, and 403 when it is retired (read-only) for everyone."""
    segment = _dynamic_segment(request, pk)
    editable, reason = rules_editable(request, segment)
    if not editable:
        raise PermissionDenied(reason)
    return segment


def _form_refused(error: BuilderInvalid) -> HttpResponse:
    return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")


def _builder(
    request: HttpRequest,
    segment: Segment,
    tree: dict,
    registry: FieldRegistry,
    *,
    blanks: bool = False,
    status: int = 200,
) -> HttpResponse:
    """The builder re-rendered for `tree`, with its preview (the leads out of band if valid)."""
    preview = segment_preview(segment, tree, workspace=request.workspace, registry=registry)
    dirty = not same_rules(preview.clean if preview.valid else tree, segment.rules)
    context = builder_context(
        request, segment, tree=tree, preview=preview, dirty=dirty, blanks=blanks, registry=registry
    )
    return render(request, f"{RULES}#rules-edited", context, status=status)


@require_GET
@require_perm("leadcrm.view_segments")
def rules_builder(request: HttpRequest, pk: int) -> HttpResponse:
    """The saved rules in the builder ("Discard changes")."""
    segment = _dynamic_segment(request, pk)
    if not request.htmx:
        return redirect("segments:segment-detail", pk=segment.pk)
    return _builder(
        request, segment, segment.rules or EMPTY_TREE, field_registry(request.workspace)
    )


@require_http_methods(["GET", "POST"])
@require_perm("leadcrm.view_segments")
def rules_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the saved rules' count and first leads. POST: the same for the rules being edited;
    when they are incomplete, their issues (the last valid leads stay on the page)."""
    segment = _dynamic_segment(request, pk)
    registry = field_registry(request.workspace)
    editing = request.method == "POST"
    try:
        tree = tree_from_post(request.POST, registry) if editing else segment.rules or EMPTY_TREE
    except BuilderInvalid as error:
        return _form_refused(error)
    preview = segment_preview(segment, tree, workspace=request.workspace, registry=registry)
    dirty = editing and not same_rules(preview.clean if preview.valid else tree, segment.rules)
    context = preview_context(tree, preview, dirty=dirty, show_leads=not editing)
    return render(request, f"{RULES}#rules-preview", context)


@require_POST
@require_perm("leadcrm.manage_segments")
def rules_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a condition or a group, remove a node, change a field or an operator (unsaved)."""
    segment = _editable_segment(request, pk)
    registry = field_registry(request.workspace)
    try:
        tree = tree_from_post(request.POST, registry)
    except BuilderInvalid as error:
        return _form_refused(error)
    tree = edit_apply(tree, request.POST.get("edit", ""), registry)
    return _builder(request, segment, tree, registry)


@require_POST
@require_perm("leadcrm.manage_segments")
def rules_save(request: HttpRequest, pk: int) -> HttpResponse:
    segment = _editable_segment(request, pk)
    registry = field_registry(request.workspace)
    try:
        tree = tree_from_post(request.POST, registry)
    except BuilderInvalid as error:
        return _form_refused(error)
    try:
        segment_rules_set(segment=segment, rules=tree, actor=request.user)
    except RulesInvalid as error:
        if not request.htmx:
            messages.error(request, f"The rules were not saved: {error.issues[0].message}")
            return redirect("segments:segment-detail", pk=segment.pk)
        return _builder(request, segment, tree, registry, blanks=True, status=400)
    except ValidationError as error:  # retired meanwhile
        raise PermissionDenied(" ".join(error.messages)) from error
    messages.success(request, "Rules saved.")
    if not request.htmx:
        return redirect("segments:segment-detail", pk=segment.pk)
    return _builder(request, segment, segment.rules, registry)
