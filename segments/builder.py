"""The rule builder of dynamic segments (PRODUCT G2). Being written: see docs/segment-rules.md."""

from django.http import HttpRequest

from segments.models import Segment


def builder_context(request: HttpRequest, segment: Segment) -> dict:
    """Context for templates/segments/_rules.html on a dynamic segment's page."""
    return {}
