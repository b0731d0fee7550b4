"""As a sales rep: drag a card from New to Contacted, use "Move to…", and see refused moves snap
back with the reason (PRODUCT K1–K3)."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Activity, ActivityType, ConsentStatus, EmailStatus, Lead, LeadStatus
from contacts.scoring import tier_for
from contacts.services import lead_update
from leadcrm.demo import demo_workspace_seed
from leadcrm.models import User
from tests.contacts.factories import CompanyFactory, LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def drag(card, column) -> None:
    """Drag a card onto a column as a person does: by its padding (its link and its "Move to…"
    button start no drag), once it stands still (SortableJS ignores a card while it animates)."""
    expect(card).not_to_have_attribute("style", re.compile("transition"))
    card.drag_to(column, source_position={"x": 4, "y": 4})


def test_rep_drags_a_card_to_contacted_and_moves_another_with_the_menu(
    page, live_server, log_in, screenshot
):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    rep = User.objects.get(email="rep@demo.test")
    company = CompanyFactory(workspace=workspace, name="Analytical Engines")
    leads = {
        name: LeadFactory(
            workspace=workspace,
            owner=rep,
            first_name=name.split()[0],
            last_name=name.split()[1],
            email=f"{name.split()[0].lower()}@engines.test",
            company=company,
            status=LeadStatus.NEW,
            score=score,
            score_points=score,
            tier=tier_for(score),
        )
        for name, score in [("Ada Lovelace", 90), ("Grace Hopper", 80), ("Alan Turing", 70)]
    }
    LeadFactory(workspace=workspace, first_name="Edsger", status=LeadStatus.CONTACTED)
    LeadFactory(
        workspace=workspace,
        first_name="Barbara",
        last_name="Liskov",
        status=LeadStatus.UNSUBSCRIBED,
        email_status=EmailStatus.UNSUBSCRIBED,
        consent_status=ConsentStatus.OPTED_OUT,
    )

    log_in("rep@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/kanban/")
    new = page.get_by_role("region", name="New")
    contacted = page.get_by_role("region", name="Contacted")
    qualified = page.get_by_role("region", name="Qualified")
    engaged = page.get_by_role("region", name="Engaged")
    unsubscribed = page.get_by_role("region", name="Unsubscribed")
    expect(new.locator(".kanban-count")).to_have_text("3")
    expect(contacted.locator(".kanban-count")).to_have_text("1")
    expect(new.locator(".kanban-card").first).to_contain_text("Ada Lovelace")
    expect(new.locator(".kanban-card").first).to_contain_text("Analytical Engines")
    expect(new.locator(".kanban-card").first).to_contain_text("90 · Hot")

    # Drag Ada from New to Contacted: the server saves it, the counts follow.
    ada = new.locator(".kanban-card", has_text="Ada Lovelace")
    drag(ada, contacted.locator(".kanban-cards"))

    toast = page.locator(".toast", has_text="Ada Lovelace moved to Contacted.")
    expect(toast).to_be_visible()
    expect(toast).to_have_class(re.compile(r"\btext-bg-success\b"))
    expect(new.locator(".kanban-count")).to_have_text("2")
    expect(contacted.locator(".kanban-count")).to_have_text("2")
    expect(contacted.locator(".kanban-card", has_text="Ada Lovelace")).to_be_visible()
    expect(new.locator(".kanban-card", has_text="Ada Lovelace")).to_have_count(0)
    moved = Lead.objects.get(pk=leads["Ada Lovelace"].pk)
    assert moved.status == LeadStatus.CONTACTED
    assert Activity.objects.filter(lead=moved, type=ActivityType.STATUS_CHANGED).count() == 1
    # The card the server sent back carries the new version.
    expect(contacted.locator(f'[data-lead="{moved.pk}"]')).to_have_attribute(
        "data-version", str(moved.version)
    )

    page.reload()
    expect(contacted.locator(".kanban-card", has_text="Ada Lovelace")).to_be_visible()
    expect(new.locator(".kanban-card", has_text="Ada Lovelace")).to_have_count(0)
    expect(new.locator(".kanban-count")).to_have_text("2")
    expect(contacted.locator(".kanban-count")).to_have_text("2")

    # Without dragging: the "Move to…" menu on Grace's card.
    page.get_by_role("button", name="Move Grace Hopper to…").click()
    new.locator(".kanban-card", has_text="Grace Hopper").get_by_role(
        "button", name="Qualified"
    ).click()

    toast = page.locator(".toast", has_text="Grace Hopper moved to Qualified.")
    expect(toast).to_be_visible()
    expect(toast).to_have_class(re.compile(r"\bshow\b"))
    expect(toast).not_to_have_class(re.compile(r"\bshowing\b"))
    expect(qualified.locator(".kanban-card", has_text="Grace Hopper")).to_be_visible()
    expect(qualified.locator(".kanban-count")).to_have_text("1")
    expect(new.locator(".kanban-count")).to_have_text("1")
    assert Lead.objects.get(pk=leads["Grace Hopper"].pk).status == LeadStatus.QUALIFIED
    screenshot("kanban")

    # A colleague qualifies Alan while the board is open: the drag is refused, and the card
    # shows where Alan is now.
    owner = User.objects.get(email="owner@demo.test")
    lead_update(lead=leads["Alan Turing"], actor=owner, status=LeadStatus.QUALIFIED)
    alan = new.locator(".kanban-card", has_text="Alan Turing")
    drag(alan, engaged.locator(".kanban-cards"))

    refused = page.locator(".toast", has_text="Alan Turing was changed by someone else meanwhile")
    expect(refused).to_be_visible()
    expect(refused).to_have_class(re.compile(r"\btext-bg-danger\b"))
    expect(qualified.locator(".kanban-card", has_text="Alan Turing")).to_be_visible()
    expect(engaged.locator(".kanban-card")).to_have_count(0)
    expect(new.locator(".kanban-count")).to_have_text("0")
    expect(qualified.locator(".kanban-count")).to_have_text("2")
    expect(engaged.locator(".kanban-count")).to_have_text("0")
    assert Lead.objects.get(pk=leads["Alan Turing"].pk).status == LeadStatus.QUALIFIED

    # Out of Unsubscribed needs new consent first: the card snaps back and says why.
    barbara = unsubscribed.locator(".kanban-card", has_text="Barbara Liskov")
    drag(barbara, new.locator(".kanban-cards"))

    expect(page.locator(".toast", has_text="Record new consent")).to_be_visible()
    expect(barbara).to_be_visible()
    expect(new.locator(".kanban-card", has_text="Barbara Liskov")).to_have_count(0)
    expect(unsubscribed.locator(".kanban-count")).to_have_text("1")
    expect(new.locator(".kanban-count")).to_have_text("0")
    assert Lead.objects.get(first_name="Barbara").status == LeadStatus.UNSUBSCRIBED

    # Into Unsubscribed asks first: "Cancel" leaves the card where it was, "OK" unsubscribes.
    ada = contacted.locator(".kanban-card", has_text="Ada Lovelace")
    page.once("dialog", lambda dialog: dialog.dismiss())
    drag(ada, unsubscribed.locator(".kanban-cards"))
    expect(ada).to_be_visible()
    expect(unsubscribed.locator(".kanban-card")).to_have_count(1)
    assert Lead.objects.get(pk=moved.pk).status == LeadStatus.CONTACTED

    page.once("dialog", lambda dialog: dialog.accept())
    drag(ada, unsubscribed.locator(".kanban-cards"))
    expect(page.locator(".toast", has_text="Ada Lovelace moved to Unsubscribed.")).to_be_visible()
    expect(unsubscribed.locator(".kanban-card", has_text="Ada Lovelace")).to_be_visible()
    expect(unsubscribed.locator(".kanban-count")).to_have_text("2")
    expect(contacted.locator(".kanban-count")).to_have_text("1")
    unsubscribed_ada = Lead.objects.get(pk=moved.pk)
    assert unsubscribed_ada.status == LeadStatus.UNSUBSCRIBED
    assert unsubscribed_ada.email_status == EmailStatus.UNSUBSCRIBED
