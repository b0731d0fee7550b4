"""member_can() answers the default role matrix of PRODUCT W2, cell by cell.

The expected matrix is written out here from the spec, not imported from leadcrm.roles, so
that this file is an independent statement of who may do what.
"""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission

from leadcrm.models import WORKSPACE_PERMISSIONS, Membership
from leadcrm.permissions import member_can
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP, VIEWER
from tests.factories import MembershipFactory, WorkspaceFactory

EVERYONE = {OWNER, ADMIN, MARKETER, SALES_REP, VIEWER}
WORKERS = {OWNER, ADMIN, MARKETER, SALES_REP}
MARKETING = {OWNER, ADMIN, MARKETER}
MANAGERS = {OWNER, ADMIN}
OWNERS = {OWNER}

# PRODUCT W2, row by row: codename -> roles that hold it.
EXPECTED = {
    # view leads, lead view, kanban, segments, unsubscribes: everyone
    "view_leads": EVERYONE,
    "view_segments": EVERYONE,
    "view_unsubscribes": EVERYONE,
    # add / edit leads, log activities, kanban moves, add to static segment: not Viewer
    "add_lead": WORKERS,
    "change_lead": WORKERS,
    "log_activity": WORKERS,
    "add_to_static_segment": WORKERS,
    # delete leads, bulk update: Owner/Admin/Marketer any lead, Sales rep own leads only.
    # Whoever may do it to any lead may also do it to their own: the "own" codename is held
    # by every role in the row, so that removing "any" in the admin leaves "own" behind.
    "delete_any_lead": MARKETING,
    "delete_own_lead": WORKERS,
    "bulk_update_any_leads": MARKETING,
    "bulk_update_own_leads": WORKERS,
    # change consent / do-not-contact; enrol in, send and stop sequences: not Viewer
    "change_consent": WORKERS,
    "run_sequences": WORKERS,
    # create / edit / retire segments
    "manage_segments": MARKETING,
    # import, export
    "import_leads": MARKETING,
    "export_leads": MARKETING,
    # scoring rules, define sequences, custom fields, suppression list, sending settings
    "manage_scoring": MARKETING,
    "define_sequences": MARKETING,
    "manage_custom_fields": MARKETING,
    "manage_suppression": MARKETING,
    "manage_sending": MARKETING,
    # GDPR export / erasure, audit log
    "gdpr_export": MANAGERS,
    "gdpr_erase": MANAGERS,
    "view_audit_log": MANAGERS,
    # members and roles of the workspace: Owner, Admin (not owners)
    "manage_members": MANAGERS,
    "manage_owners": OWNERS,
    "change_workspace": MANAGERS,
    # delete workspace, transfer ownership
    "transfer_ownership": OWNERS,
    "delete_workspace": OWNERS,
}

ROLES = [OWNER, ADMIN, MARKETER, SALES_REP, VIEWER]
CELLS = [(role, codename) for codename in EXPECTED for role in ROLES]


def test_matrix_in_this_file_covers_every_workspace_permission():
    assert set(EXPECTED) == {codename for codename, _ in WORKSPACE_PERMISSIONS}


@pytest.mark.parametrize(("role", "codename"), CELLS, ids=[f"{r}-{c}" for r, c in CELLS])
def test_member_can_answers_the_default_matrix(team, role, codename):
    assert member_can(team[role], f"leadcrm.{codename}") is (role in EXPECTED[codename])


# Owned short names: "own" or "any" decided by the lead given.

OWNED_SHORT_NAMES = ["leadcrm.delete_lead", "leadcrm.bulk_update_leads"]


def _lead(workspace_id, owner_id):
    return SimpleNamespace(workspace_id=workspace_id, owner_id=owner_id)


@pytest.mark.parametrize("perm", OWNED_SHORT_NAMES)
def test_rep_may_act_on_their_own_lead(rep, perm):
    assert member_can(rep, perm, obj=_lead(rep.workspace_id, rep.user_id))


@pytest.mark.parametrize("perm", OWNED_SHORT_NAMES)
def test_rep_may_not_act_on_someone_elses_lead(rep, marketer, perm):
    assert not member_can(rep, perm, obj=_lead(rep.workspace_id, marketer.user_id))


@pytest.mark.parametrize("perm", OWNED_SHORT_NAMES)
def test_rep_may_not_act_on_an_unowned_lead(rep, perm):
    assert not member_can(rep, perm, obj=_lead(rep.workspace_id, None))


@pytest.mark.parametrize("perm", OWNED_SHORT_NAMES)
def test_rep_without_a_lead_may_act_on_some_leads(rep, perm):
    assert member_can(rep, perm)


@pytest.mark.parametrize("perm", OWNED_SHORT_NAMES)
def test_marketer_may_act_on_any_lead(marketer, rep, perm):
    assert member_can(marketer, perm, obj=_lead(marketer.workspace_id, rep.user_id))


@pytest.mark.parametrize("perm", OWNED_SHORT_NAMES)
def test_marketer_without_a_lead_may_act(marketer, perm):
    assert member_can(marketer, perm)


@pytest.mark.parametrize("perm", OWNED_SHORT_NAMES)
def test_viewer_may_never_act_on_a_lead(viewer, perm):
    assert not member_can(viewer, perm)
    assert not member_can(viewer, perm, obj=_lead(viewer.workspace_id, viewer.user_id))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("perm", [*OWNED_SHORT_NAMES, "leadcrm.view_leads"])
def test_nobody_may_act_on_an_object_of_another_workspace(team, outsider, role, perm):
    member = team[role]
    foreign = _lead(outsider.workspace_id, member.user_id)
    assert not member_can(member, perm, obj=foreign)


def test_owner_of_two_workspaces_may_not_act_on_the_other_workspaces_lead(owner):
    second = MembershipFactory(
        user=owner.user, workspace=WorkspaceFactory(name="Initech"), role_name=OWNER
    )
    assert not member_can(owner, "leadcrm.delete_lead", obj=_lead(second.workspace_id, None))


@pytest.mark.parametrize("perm", ["leadcrm.view_leads", "leadcrm.delete_lead"])
def test_no_membership_may_do_nothing(db, perm):
    assert member_can(None, perm) is False


@pytest.mark.parametrize(
    "perm",
    [
        "leadcrm.fly_to_the_moon",
        "view_leads",
        "contacts.view_leads",
        "auth.add_user",
        "leadcrm.",
        "",
    ],
)
def test_unknown_or_unprefixed_permission_raises(owner, perm):
    with pytest.raises(ValueError):
        member_can(owner, perm)


def test_unknown_permission_raises_even_without_membership(db):
    with pytest.raises(ValueError):
        member_can(None, "leadcrm.fly_to_the_moon")


def test_permission_set_is_read_once_per_membership(rep, django_assert_num_queries):
    with django_assert_num_queries(1):
        member_can(rep, "leadcrm.view_leads")
    with django_assert_num_queries(0):
        member_can(rep, "leadcrm.add_lead")
        member_can(rep, "leadcrm.delete_lead", obj=_lead(rep.workspace_id, rep.user_id))
        member_can(rep, "leadcrm.manage_members")


@pytest.mark.parametrize(
    ("perm", "any_codename"),
    [
        ("leadcrm.delete_lead", "delete_any_lead"),
        ("leadcrm.bulk_update_leads", "bulk_update_any_leads"),
    ],
)
def test_marketer_keeps_own_leads_when_operator_removes_any_lead(marketer, rep, perm, any_codename):
    marketer.role.permissions.remove(Permission.objects.get(codename=any_codename))
    marketer = Membership.objects.get(pk=marketer.pk)  # a fresh object reads the role again
    assert member_can(marketer, perm, obj=_lead(marketer.workspace_id, marketer.user_id))
    assert not member_can(marketer, perm, obj=_lead(marketer.workspace_id, rep.user_id))
