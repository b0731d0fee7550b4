"""Error pages: a styled page for browsers, one plain sentence for htmx (shown as a toast)."""

from django.http import HttpRequest, HttpResponse
from django.views import defaults


def _htmx_text(request: HttpRequest, text: str, status: int) -> HttpResponse | None:
    if getattr(request, "htmx", False):
        return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    return None


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    text = str(exception) or "Your role does not allow this."
    return _htmx_text(request, text, 403) or defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    text = "That no longer exists in this workspace."
    return _htmx_text(request, text, 404) or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    text = "Something went wrong on our side. Please try again."
    return _htmx_text(request, text, 500) or defaults.server_error(request)
