"""As a marketer: build a dynamic segment's rules with a nested OR group, watch the live count,
save, reload and find them kept (PRODUCT G2)."""

import pytest
from playwright.sync_api import expect

from contacts.models import LeadStatus
from leadcrm.demo import demo_workspace_seed
from segments.models import SegmentKind, SegmentState
from tests.contacts.factories import LeadFactory, SegmentFactory, TagFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-demo-pass"


def wired(page) -> None:
    """Wait until the builder is swapped in and htmx has wired every input of it.

    A person cannot act in the few milliseconds between a swap and htmx attaching its
    triggers to the new inputs; a test can, and its next change would go unheard.
    """
    page.wait_for_function(
        """() => {
          const form = document.querySelector("#segment-rules");
          if (!form || document.querySelector(
            ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")) return false;
          return [...form.querySelectorAll("[hx-post], [hx-get]")].every(
            (el) => el["htmx-internal-data"] && el["htmx-internal-data"].initHash);
        }"""
    )


def test_marketer_builds_a_dynamic_segment(page, live_server, log_in, screenshot):
    workspace = demo_workspace_seed(password=PASSWORD, reset_passwords=True)
    vip = TagFactory(workspace=workspace, name="vip")
    leads = {
        name: LeadFactory(workspace=workspace, first_name=name, last_name="Lead", score=score)
        for name, score in [("Ada", 60), ("Ben", 70), ("Cleo", 80), ("Dan", 90), ("Eve", 40)]
    }
    leads["Ada"].tags.add(vip)
    leads["Eve"].tags.add(vip)
    leads["Ben"].status = LeadStatus.QUALIFIED
    leads["Ben"].save(update_fields=["status"])
    segment = SegmentFactory(
        workspace=workspace,
        name="Hot prospects",
        kind=SegmentKind.DYNAMIC,
        state=SegmentState.DRAFT,
        rules={},
    )

    log_in("marketer@demo.test", PASSWORD)
    page.goto(f"{live_server.url}/pipeline/segments/{segment.pk}/")
    count = page.locator("#rules-count")
    expect(count).to_have_text("5 leads match")

    # Lead score is greater than 50
    page.get_by_role("button", name="Add condition").click()
    wired(page)
    first = page.locator("#rule-n-0")
    first.get_by_label("Field").select_option(label="Lead score")
    wired(page)
    first.get_by_label("Comparison").select_option(label="is greater than")
    wired(page)
    first.get_by_label("Value").fill("50")
    expect(count).to_have_text("4 leads match")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    preview = page.locator("#rules-leads")
    expect(preview.get_by_role("link", name="Eve Lead")).to_have_count(0)
    expect(preview.get_by_role("link", name="Dan Lead")).to_be_visible()

    # … and any of: has the tag vip, or status is Qualified
    page.locator("#rule-n").get_by_role("button", name="Add group").last.click()
    wired(page)
    group = page.locator("#rule-n-1")
    group.get_by_label("Match").select_option("any")
    wired(page)
    tag_row = page.locator("#rule-n-1-0")
    tag_row.get_by_label("Field").select_option(label="Tag")
    wired(page)
    expect(tag_row.get_by_label("Comparison")).to_have_value("has")
    tag_row.get_by_label("Value").select_option(label="vip")
    wired(page)
    expect(count).to_have_text("1 lead matches")
    group.get_by_role("button", name="Add condition").click()
    wired(page)
    status_row = page.locator("#rule-n-1-1")
    status_row.get_by_label("Field").select_option(label="Status")
    wired(page)
    status_row.get_by_label("Value").select_option(label="Qualified")
    wired(page)
    expect(count).to_have_text("2 leads match")
    expect(preview.get_by_role("link")).to_have_count(2)
    screenshot("segment-rule-builder")

    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_text("Rules saved.")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_have_count(0)
    segment.refresh_from_db()
    assert segment.rules == {
        "match": "all",
        "children": [
            {"field": "score", "op": "gt", "value": 50},
            {
                "match": "any",
                "children": [
                    {"field": "tag", "op": "has", "value": vip.pk},
                    {"field": "status", "op": "is", "value": "qualified"},
                ],
            },
        ],
    }

    page.reload()
    expect(count).to_have_text("2 leads match")
    expect(page.locator("#rule-n-0").get_by_label("Field")).to_have_value("score")
    expect(page.locator("#rule-n-0").get_by_label("Value")).to_have_value("50")
    expect(page.locator("#rule-n-1").get_by_label("Match")).to_have_value("any")
    expect(page.locator("#rule-n-1-0").get_by_label("Value")).to_have_value(str(vip.pk))
    expect(preview.get_by_role("link", name="Ada Lead")).to_be_visible()
    expect(preview.get_by_role("link", name="Ben Lead")).to_be_visible()
    screenshot("segment-rules-saved")
