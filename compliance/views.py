"""The one-click unsubscribe endpoint (PRODUCT A5/C3, RFC 8058).

`/unsubscribe/<token>/` is what every message's List-Unsubscribe header and footer link name.
A POST unsubscribes at once: mail clients send it without cookies or a CSRF token
(`List-Unsubscribe=One-Click` in the body), so it is CSRF-exempt, needs no login, never
redirects, and is idempotent — a second POST changes nothing and answers the same. A GET
only shows the page with a button that POSTs, because mail scanners open every link they
see and must not unsubscribe anyone by doing so.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from compliance.tokens import unsubscribe_token_read
from contacts.consent import lead_is_unsubscribed, lead_unsubscribe
from contacts.models import Channel, Lead

TEMPLATE = "compliance/unsubscribe.html"


def _masked(email: str) -> str:
    """j•••@acme.test: enough for the reader to know it is theirs, not enough to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    ids = unsubscribe_token_read(token)
    if ids is None:
        return render(request, TEMPLATE, {"state": "invalid"}, status=400)
    workspace_id, lead_id = ids
    lead = Lead.objects.filter(pk=lead_id, workspace_id=workspace_id).select_related("workspace")
    lead = lead.first()
    if lead is None:  # erased (its address is suppressed) or the workspace is gone
        return render(request, TEMPLATE, {"state": "gone"})
    context = {"email": _masked(lead.email), "sender": lead.workspace.name}
    if request.method == "GET":
        state = "done" if lead_is_unsubscribed(lead) else "confirm"
        return render(request, TEMPLATE, {**context, "state": state})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    lead_unsubscribe(
        lead=lead,
        actor=None,
        channel=Channel.LINK,
        source="One-click unsubscribe (mail client)" if one_click else "Unsubscribe page",
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return render(request, TEMPLATE, {**context, "state": "done"})
