"""As a marketer: add custom fields, reorder, retire and restore one in place, delete one."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from contacts.models import CustomField, Lead
from leadcrm.roles import MARKETER, ensure_default_roles
from tests.factories import PASSWORD, MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketer_manages_custom_fields(page, live_server, log_in, screenshot):
    ensure_default_roles()
    workspace = WorkspaceFactory(name="Acme", slug="acme")
    MembershipFactory(
        workspace=workspace,
        user=UserFactory(email="maya@acme.test"),
        role=Group.objects.get(name=MARKETER),
    )
    log_in("maya@acme.test", PASSWORD)

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Custom fields")
    for label, key, type_, choices in [
        ("Industry", "industry", "Choice", "SaaS\nRetail"),
        ("Budget", "budget", "Number", ""),
    ]:
        page.get_by_label("Label").fill(label)
        page.get_by_label("Key").fill(key)
        page.get_by_label("Type").select_option(label=type_)
        page.get_by_label("Choices").fill(choices)
        page.get_by_role("button", name="Add field").click()
        expect(page.get_by_text(f"Field “{label}” added to every lead.")).to_be_visible()
    rows = page.locator("#field-list tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_role("button", name="Move Budget up").click()
    expect(rows.first).to_contain_text("Budget")

    rows.filter(has_text="Industry").get_by_role("button", name="Retire").click()
    expect(page.get_by_text("Field “Industry” retired; its values are kept.")).to_be_visible()
    expect(rows.filter(has_text="Industry")).to_contain_text("Retired")
    screenshot("custom-fields-after-retire")

    rows.filter(has_text="Industry").get_by_role("button", name="Restore").click()
    expect(rows.filter(has_text="Industry")).to_contain_text("Active")

    workspace_id = workspace.pk
    Lead.objects.create(workspace_id=workspace_id, email="a@x.test", attributes={"budget": 5})
    rows.filter(has_text="Budget").get_by_role("link", name="Delete").click()
    page.get_by_label("Type the field's key to confirm").fill("budget")
    page.get_by_role("button", name="Delete field and its values").click()
    expect(page.get_by_text("Field “Budget” deleted.")).to_be_visible()
    expect(rows).to_have_count(1)
    assert list(CustomField.objects.values_list("key", flat=True)) == ["industry"]
    assert Lead.objects.get().attributes == {}
