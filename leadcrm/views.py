from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadcrm.forms import WorkspaceForm
from leadcrm.middleware import SESSION_KEY
from leadcrm.models import Membership
from leadcrm.permissions import require_membership
from leadcrm.services import workspace_create


def get_scoped_or_404(request: HttpRequest, queryset: QuerySet, **lookup) -> Model:
    """The object if it belongs to the current workspace; anything else is a 404 (W1/W3)."""
    return get_object_or_404(queryset.filter(workspace=request.workspace), **lookup)


@require_GET
@require_membership
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "leadcrm/home.html")


@require_http_methods(["GET", "POST"])
@login_required
def workspace_new(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = workspace_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error)
        else:
            _switch_to(request, workspace.pk)
            messages.success(request, f"Workspace “{workspace.name}” created. You are its owner.")
            return redirect("home")
    return render(request, "leadcrm/workspace_new.html", {"form": form})


def _switch_to(request: HttpRequest, workspace_id: int) -> None:
    request.session[SESSION_KEY] = workspace_id
    request.user.last_workspace_id = workspace_id
    request.user.save(update_fields=["last_workspace"])


@require_POST
@login_required
def workspace_switch(request: HttpRequest) -> HttpResponse:
    workspace_id = request.POST.get("workspace", "")
    membership = get_object_or_404(
        Membership.objects.select_related("workspace"),
        user=request.user,
        # "abc" or a number too long for an id is a 404 like any other workspace.
        workspace_id=int(workspace_id)
        if workspace_id.isdecimal() and len(workspace_id) < 19
        else 0,
    )
    _switch_to(request, membership.workspace_id)
    messages.info(request, f"Switched to {membership.workspace.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "home"
    return redirect(target)


class InviteAcceptView(auth_views.PasswordResetConfirmView):
    """An invited person sets their password through the link in the invitation, then is in."""

    template_name = "registration/invite_accept.html"
    post_reset_login = True
    success_url = reverse_lazy("home")
    reset_url_token = "set-password"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Welcome to LeadCRM. Your password is set.")
        return response
