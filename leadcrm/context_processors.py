from django.http import HttpRequest

from leadcrm.navigation import PIPELINE_MENU, SETTINGS_PAGES, visible
from leadcrm.permissions import MemberPermissions


def workspace(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    return {
        "workspace": getattr(request, "workspace", None),
        "membership": membership,
        "memberships": getattr(request, "memberships", []),
        "can": MemberPermissions(membership),
        "pipeline_menu": lambda: visible(PIPELINE_MENU, membership),
        "settings_pages": lambda: visible(SETTINGS_PAGES, membership),
    }
