"""As the owner of Demo: log in, switch workspace, invite a member."""

import re

import pytest
from playwright.sync_api import expect

from leadcrm.demo import demo_workspace_seed
from leadcrm.models import Membership, User
from leadcrm.services import workspace_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def test_owner_logs_in_switches_workspace_and_invites_a_member(
    page, live_server, log_in, screenshot, mailoutbox
):
    demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    owner = User.objects.get(email="owner@demo.test")
    workspace_create(user=owner, name="Side Project")
    owner.last_workspace = None
    owner.save()

    log_in("OWNER@demo.test", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo")
    expect(page.get_by_text("You are Owner in this workspace.")).to_be_visible()
    screenshot("home-owner")

    page.get_by_role("button", name="Switch workspace").click()
    page.get_by_role("button", name=re.compile("Side Project")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Side Project")
    expect(page.get_by_text("Switched to Side Project.")).to_be_visible()

    page.get_by_role("button", name="Switch workspace").click()
    page.get_by_role("button", name=re.compile("^Demo")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo")

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Members").first.click()
    page.get_by_label("Email address").fill("newrep@demo.test")
    page.get_by_label("Role", exact=True).select_option(label="Sales rep")
    page.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_text("Invitation sent to newrep@demo.test as Sales rep.")).to_be_visible()
    row = page.locator("tr", has_text="newrep@demo.test")
    expect(row.get_by_text("Invitation pending")).to_be_visible()
    screenshot("members-after-invite")
    invited = Membership.objects.get(user__email="newrep@demo.test", workspace__slug="demo")
    assert invited.role.name == "Sales rep"
    assert [m.to for m in mailoutbox] == [["newrep@demo.test"]]


def test_owner_changes_a_role_without_reloading_the_page(page, live_server, log_in):
    demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    log_in("owner@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/settings/members/")

    page.get_by_label("Role of viewer@demo.test").select_option(label="Marketer")

    expect(page.get_by_text("Vera Viewer is now Marketer.")).to_be_visible()
    viewer = Membership.objects.get(user__email="viewer@demo.test", workspace__slug="demo")
    assert viewer.role.name == "Marketer"
