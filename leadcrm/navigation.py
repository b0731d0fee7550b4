"""Menus that later apps add their pages to, each item shown only to members allowed to use it.

Higher apps register their items from AppConfig.ready() (they import leadcrm; never the reverse).
"""

from dataclasses import dataclass

from django.urls import reverse

from leadcrm.models import Membership
from leadcrm.permissions import member_can


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    perms: tuple[str, ...]  # any one of these is enough
    icon: str = ""
    description: str = ""
    position: int = 0  # menus sort by it: apps' ready() run in INSTALLED_APPS order, not menu order

    def visible_to(self, membership: Membership | None) -> bool:
        return any(member_can(membership, perm) for perm in self.perms)

    @property
    def url(self) -> str:
        return reverse(self.url_name)


PIPELINE_MENU: list[NavItem] = []
SETTINGS_PAGES: list[NavItem] = [
    NavItem(
        "General",
        "settings-general",
        ("leadcrm.change_workspace",),
        "gear",
        "Workspace name, ownership, deleting the workspace.",
    ),
    NavItem(
        "Members",
        "settings-members",
        ("leadcrm.manage_members",),
        "people",
        "Invite people, change their roles, remove them.",
    ),
]


def visible(items: list[NavItem], membership: Membership | None) -> list[NavItem]:
    return sorted(
        (item for item in items if item.visible_to(membership)), key=lambda item: item.position
    )
