"""Removing a member hands their leads to the member chosen (PRODUCT W4)."""

from contacts.models import Lead
from tests.contacts.factories import LeadFactory


def test_removed_members_leads_pass_to_the_chosen_member(owner, rep, marketer, as_member):
    kept = LeadFactory(workspace=owner.workspace, owner=marketer.user)
    moved = LeadFactory.create_batch(3, workspace=owner.workspace, owner=rep.user)

    response = as_member(owner).post(
        f"/settings/members/{rep.pk}/remove/", {"reassign_to": owner.pk}
    )

    assert response.status_code == 302
    assert set(Lead.objects.filter(owner=owner.user)) == set(moved)
    assert Lead.objects.get(pk=kept.pk).owner == marketer.user


def test_leads_of_the_removed_member_in_other_workspaces_stay_theirs(
    owner, rep, other_ws, as_member
):
    elsewhere = LeadFactory(workspace=other_ws, owner=rep.user)

    as_member(owner).post(f"/settings/members/{rep.pk}/remove/", {"reassign_to": owner.pk})

    assert Lead.objects.get(pk=elsewhere.pk).owner == rep.user
