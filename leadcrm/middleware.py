from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django_htmx.http import trigger_client_event

from leadcrm.models import Membership

SESSION_KEY = "workspace_id"


class CurrentWorkspaceMiddleware:
    """Puts request.workspace, request.membership and request.memberships on every request.

    The current workspace is the one in the session, else the user's last used one, else their
    first (PRODUCT W1). One query, which also feeds the top-bar switcher.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.memberships = []
        request.membership = None
        request.workspace = None
        if request.user.is_authenticated:
            memberships = list(
                Membership.objects.filter(user=request.user)
                .select_related("workspace", "role")
                .order_by("workspace__name", "workspace_id")
            )
            request.memberships = memberships
            by_workspace = {m.workspace_id: m for m in memberships}
            wanted = request.session.get(SESSION_KEY) or request.user.last_workspace_id
            membership = by_workspace.get(wanted) or (memberships[0] if memberships else None)
            if membership is not None:
                request.membership = membership
                request.workspace = membership.workspace
                if request.session.get(SESSION_KEY) != membership.workspace_id:
                    request.session[SESSION_KEY] = membership.workspace_id
        return self.get_response(request)


class HtmxMessagesMiddleware:
    """Hands Django messages to htmx requests as a `messages` client event, shown as toasts.

    A full page renders its messages itself; a fragment has nowhere to put them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or 300 <= response.status_code < 400:
            return response
        if "HX-Redirect" in response or "HX-Location" in response or "HX-Refresh" in response:
            return response
        pending = [{"level": m.level_tag, "text": str(m)} for m in messages.get_messages(request)]
        if pending:
            trigger_client_event(response, "messages", pending)
        return response
