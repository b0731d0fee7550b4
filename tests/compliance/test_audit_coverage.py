"""Audit coverage (PRODUCT C7): every kind of change, made through its service or page, writes
exactly the audit entries named here: action, actor, object, the fields changed old → new for
an update, counts for bulk work. Erasure leaves no personal value in the log.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from compliance.access import FORMAT_VERSION
from compliance.erasure import REDACTED, erasure_request_create, erasure_request_run, lead_erase
from compliance.models import ErasureRequest
from compliance.tokens import unsubscribe_token
from contacts.consent import (
    consent_record,
    lead_do_not_contact_set,
    suppression_add,
    suppression_add_many,
    suppression_remove,
)
from contacts.custom_fields import (
    custom_field_create,
    custom_field_delete,
    custom_field_move,
    custom_field_restore,
    custom_field_retire,
    custom_field_update,
)
from contacts.importing import jobs
from contacts.importing.undo import import_undo
from contacts.models import (
    Channel,
    ConsentStatus,
    CustomFieldType,
    ImportStatus,
    Lead,
    LeadStatus,
    ScoringRule,
    SuppressionReason,
)
from contacts.quality import scoring_settings_for
from contacts.scoring_settings import (
    SOURCE_WEIGHTS_ACTION,
    rule_label,
    scoring_rule_delete,
    scoring_rule_save,
    scoring_rule_set_active,
    source_weights_save,
)
from contacts.services import (
    lead_create,
    lead_delete,
    lead_restore,
    lead_update,
    leads_bulk_update,
    leads_purge_trash,
)
from leadcrm.models import AuditLog, Membership, Workspace
from leadcrm.roles import ADMIN, MARKETER, OWNER, SALES_REP
from leadcrm.services import (
    member_change_role,
    member_invite,
    member_remove,
    ownership_transfer,
    workspace_create,
    workspace_delete,
    workspace_rename,
)
from pipeline.exports import export_job_start
from pipeline.models import SequenceStep
from pipeline.sequences import (
    enrollment_stop,
    lead_enrol,
    leads_enrol,
    sending_settings_save,
    sequence_archive,
    sequence_save,
    step_delete,
    step_move,
    step_save,
)
from segments.models import SegmentKind, SegmentState
from segments.services import (
    segment_add_leads,
    segment_create,
    segment_delete,
    segment_duplicate,
    segment_remove_leads,
    segment_rules_set,
    segment_state_set,
    segment_update,
)
from tests.conftest import login
from tests.contacts.factories import (
    CustomFieldFactory,
    LeadFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)
from tests.contacts.import_helpers import check, configure, csv_bytes, import_file, start, upload

HOT = {"match": "all", "children": [{"field": "score", "op": "gt", "value": 50}]}


@contextmanager
def recorded() -> Iterator[list[AuditLog]]:
    """The audit entries written inside the block, oldest first."""
    last = AuditLog.objects.aggregate(last=Max("pk"))["last"] or 0
    entries: list[AuditLog] = []
    yield entries
    entries.extend(AuditLog.objects.filter(pk__gt=last).select_related("actor").order_by("pk"))


def about(entry: AuditLog) -> tuple:
    """What an entry says happened: (action, actor, object type, object id)."""
    return (entry.action, entry.actor, entry.object_type, entry.object_id)


def key(obj) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


def one(entries: list[AuditLog], workspace) -> AuditLog:
    """The only entry written, in that workspace's log."""
    assert len(entries) == 1, [e.action for e in entries]
    assert entries[0].workspace_id == workspace.pk
    return entries[0]


def bulk(changes: dict) -> dict:
    """A bulk entry's changes with its lead ids sorted (the order rows came back in)."""
    return {**changes, "lead_ids": sorted(changes["lead_ids"])}


@pytest.fixture
def lead(ws, rep):
    return LeadFactory(workspace=ws, first_name="Ann", last_name="Lee", owner=rep.user)


# Leads ----------------------------------------------------------------------------------------


def test_lead_create_records_every_field_given(ws, rep):
    with recorded() as entries:
        lead = lead_create(
            workspace=ws,
            actor=rep.user,
            email=" Ann@Example.TEST ",
            first_name="Ann",
            source="Fair",
        )

    entry = one(entries, ws)
    assert about(entry) == ("lead.create", rep.user, *key(lead))
    assert entry.changes == {
        "email": [None, "ann@example.test"],
        "first_name": [None, "Ann"],
        "source": [None, "Fair"],
    }


def test_lead_update_records_the_changed_fields_old_to_new(ws, rep, lead):
    with recorded() as entries:
        lead_update(lead=lead, actor=rep.user, first_name="Anna", last_name="Lee", job_title="CTO")

    entry = one(entries, ws)
    assert about(entry) == ("lead.update", rep.user, *key(lead))
    assert entry.changes == {
        "first_name": ["Ann", "Anna"],
        "job_title": ["", "CTO"],
        "version": [1, 2],
    }


def test_lead_update_of_tags_and_custom_fields_records_them(ws, rep, lead):
    CustomFieldFactory(workspace=ws, key="plan", label="Plan")

    with recorded() as entries:
        lead_update(lead=lead, actor=rep.user, tags=["VIP"], attributes={"plan": "Gold"})

    assert one(entries, ws).changes == {
        "attributes": [{}, {"plan": "Gold"}],
        "tags": [[], ["VIP"]],
        "version": [1, 2],
    }


def test_a_lead_update_changing_nothing_writes_nothing(rep, lead):
    with recorded() as entries:
        lead_update(lead=lead, actor=rep.user, first_name="Ann")

    assert entries == []


def test_lead_delete_and_restore_are_recorded(ws, rep, lead):
    with recorded() as deleted:
        lead_delete(lead=lead, actor=rep.user)
    with recorded() as restored:
        lead_restore(lead=lead, actor=rep.user)

    assert about(one(deleted, ws)) == ("lead.delete", rep.user, *key(lead))
    assert about(one(restored, ws)) == ("lead.restore", rep.user, *key(lead))


def test_the_trash_purge_records_a_count_per_workspace_as_the_system(ws, other_ws):
    old = timezone.now() - timedelta(days=31)
    LeadFactory.create_batch(2, workspace=ws, deleted_at=old)
    LeadFactory(workspace=other_ws, deleted_at=old)
    LeadFactory(workspace=ws, deleted_at=timezone.now())  # not old enough

    with recorded() as entries:
        leads_purge_trash()

    purged = sorted((e.workspace_id, about(e), e.changes) for e in entries)
    assert purged == [
        (ws.pk, ("lead.purge", None, "", ""), {"count": 2}),
        (other_ws.pk, ("lead.purge", None, "", ""), {"count": 1}),
    ]


# Bulk -----------------------------------------------------------------------------------------


@pytest.fixture
def three(ws):
    return LeadFactory.create_batch(3, workspace=ws)


def ids(leads) -> list[int]:
    return sorted(lead.pk for lead in leads)


def of(leads):
    return Lead.objects.filter(pk__in=ids(leads))


def test_a_bulk_status_change_records_the_count_and_the_leads(ws, marketer, three):
    with recorded() as entries:
        leads_bulk_update(workspace=ws, actor=marketer.user, leads=of(three), status="qualified")

    entry = one(entries, ws)
    assert about(entry) == ("lead.bulk_update", marketer.user, "", "")
    assert entry.object_repr == "3 leads"
    assert bulk(entry.changes) == {
        "status": "qualified",
        "count": 3,
        "skipped": {},
        "lead_ids": ids(three),
    }


def test_a_bulk_status_change_records_the_leads_skipped(ws, marketer, three):
    Lead.objects.filter(pk=three[0].pk).update(status=LeadStatus.UNSUBSCRIBED)

    with recorded() as entries:
        leads_bulk_update(workspace=ws, actor=marketer.user, leads=of(three), status="contacted")

    assert one(entries, ws).changes["skipped"] == {"unsubscribed without new consent": 1}


def test_bulk_tagging_records_the_tags(ws, marketer, three):
    with recorded() as added:
        leads_bulk_update(workspace=ws, actor=marketer.user, leads=of(three), add_tags=["VIP"])
    with recorded() as removed:
        leads_bulk_update(workspace=ws, actor=marketer.user, leads=of(three), remove_tags=["vip"])

    assert bulk(one(added, ws).changes) == {
        "add_tags": ["VIP"],
        "count": 3,
        "skipped": {},
        "lead_ids": ids(three),
    }
    assert one(removed, ws).changes["remove_tags"] == ["VIP"]


def test_bulk_owner_and_custom_field_changes_are_recorded(ws, marketer, admin, three):
    CustomFieldFactory(workspace=ws, key="plan", label="Plan")

    with recorded() as entries:
        leads_bulk_update(
            workspace=ws,
            actor=marketer.user,
            leads=of(three),
            owner=admin.user,
            attributes={"plan": "Gold"},
        )

    changes = one(entries, ws).changes
    assert (changes["owner"], changes["attributes"], changes["count"]) == (
        admin.user.email,
        {"plan": "Gold"},
        3,
    )


def test_a_bulk_delete_is_recorded(ws, marketer, three):
    with recorded() as entries:
        leads_bulk_update(workspace=ws, actor=marketer.user, leads=of(three), delete=True)

    assert bulk(one(entries, ws).changes) == {
        "deleted": True,
        "count": 3,
        "skipped": {},
        "lead_ids": ids(three),
    }


def test_a_bulk_unsubscribe_records_the_unsubscribe_and_the_update(ws, marketer, three):
    with recorded() as entries:
        leads_bulk_update(
            workspace=ws, actor=marketer.user, leads=of(three), status=LeadStatus.UNSUBSCRIBED
        )

    assert [about(e) for e in entries] == [
        ("lead.bulk_unsubscribe", marketer.user, "", ""),
        ("lead.bulk_update", marketer.user, "", ""),
    ]
    unsubscribe, update = entries
    assert bulk(unsubscribe.changes) == {"channel": "bulk", "count": 3, "lead_ids": ids(three)}
    assert update.changes["status"] == "unsubscribed"


def test_adding_leads_to_a_segment_records_how_many(ws, marketer, three):
    segment = SegmentFactory(workspace=ws, kind=SegmentKind.STATIC)
    SegmentMembershipFactory(segment=segment, lead=three[0])

    with recorded() as entries:
        segment_add_leads(workspace=ws, segment=segment, leads=of(three), actor=marketer.user)

    entry = one(entries, ws)
    assert about(entry) == ("segment.add_leads", marketer.user, *key(segment))
    assert bulk(entry.changes) == {"added": 2, "lead_ids": ids(three)}


def test_removing_leads_from_a_segment_records_how_many(ws, marketer, three):
    segment = SegmentFactory(workspace=ws, kind=SegmentKind.STATIC)
    SegmentMembershipFactory(segment=segment, lead=three[0])

    with recorded() as entries:
        segment_remove_leads(workspace=ws, segment=segment, leads=of(three), actor=marketer.user)

    entry = one(entries, ws)
    assert about(entry) == ("segment.remove_leads", marketer.user, *key(segment))
    assert entry.changes == {"removed": 1, "lead_ids": [three[0].pk]}


# Consent, unsubscribing, Do Not Contact, suppression ------------------------------------------


def test_a_consent_change_records_the_status_old_to_new(ws, rep, lead):
    with recorded() as entries:
        consent_record(lead=lead, actor=rep.user, status=ConsentStatus.OPTED_IN, source="Webinar")

    entry = one(entries, ws)
    assert about(entry) == ("lead.consent", rep.user, *key(lead))
    assert entry.changes == {
        "consent_status": ["unknown", "opted_in"],
        "source": "Webinar",
        "channel": "manual",
        "version": [1, 2],
    }


def unsubscribed(lead, actor, channel: str, *, version=(1, 2), status=("new", "unsubscribed")):
    """The one entry every single-lead unsubscribe path writes."""
    return {
        "about": ("lead.unsubscribe", actor, *key(lead)),
        "changes": {
            "status": list(status),
            "email_status": ["active", "unsubscribed"],
            "channel": channel,
            "version": list(version),
        },
    }


def as_written(entries: list[AuditLog], ws) -> dict:
    entry = one(entries, ws)
    return {"about": about(entry), "changes": entry.changes}


def test_the_unsubscribe_link_records_it_as_the_system(ws, lead, client):
    url = reverse("unsubscribe", args=[unsubscribe_token(workspace_id=ws.pk, lead_id=lead.pk)])

    with recorded() as entries:
        assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200

    assert as_written(entries, ws) == unsubscribed(lead, None, "link")


def test_opting_out_on_the_lead_page_records_one_unsubscribe(ws, rep, lead):
    with recorded() as entries:
        consent_record(lead=lead, actor=rep.user, status=ConsentStatus.OPTED_OUT)

    assert as_written(entries, ws) == unsubscribed(lead, rep.user, "manual")


def test_editing_the_status_to_unsubscribed_records_one_unsubscribe(ws, rep, lead):
    with recorded() as entries:
        lead_update(lead=lead, actor=rep.user, status=LeadStatus.UNSUBSCRIBED)

    assert as_written(entries, ws) == unsubscribed(lead, rep.user, "manual")


def test_the_kanban_records_its_unsubscribe(ws, rep, lead):
    url = reverse("pipeline:kanban-move", args=[lead.pk])

    with recorded() as entries:
        login(rep).post(url, {"status": "unsubscribed", "version": "1"})

    assert as_written(entries, ws) == unsubscribed(lead, rep.user, "kanban")


def test_a_converted_lead_unsubscribed_stays_converted_in_the_entry(ws, rep, lead):
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.CONVERTED)

    with recorded() as entries:
        consent_record(lead=lead, actor=rep.user, status=ConsentStatus.OPTED_OUT)

    assert as_written(entries, ws) == unsubscribed(
        lead, rep.user, "manual", status=("converted", "converted")
    )


def test_a_lead_created_unsubscribed_through_the_api_records_both(ws, rep):
    with recorded() as entries:
        lead = lead_create(
            workspace=ws,
            actor=rep.user,
            email="gone@example.test",
            status=LeadStatus.UNSUBSCRIBED,
            channel=Channel.API,
        )

    assert [about(e) for e in entries] == [
        ("lead.create", rep.user, *key(lead)),
        ("lead.unsubscribe", rep.user, *key(lead)),
    ]
    assert entries[1].changes["channel"] == "api"


def test_an_import_records_the_unsubscribes_it_brings(ws, marketer):
    content = csv_bytes(
        ["email", "status"], ["stay@example.test", "new"], ["gone@example.test", "unsubscribed"]
    )

    with recorded() as entries:
        import_file(ws, marketer.user, content)

    gone = Lead.objects.get(email="gone@example.test")
    [entry] = [e for e in entries if e.action == "lead.bulk_unsubscribe"]
    assert about(entry) == ("lead.bulk_unsubscribe", marketer.user, "", "")
    assert entry.changes == {"channel": "import", "count": 1, "lead_ids": [gone.pk]}


def test_do_not_contact_is_recorded_old_to_new_and_only_when_it_changes(ws, rep, lead):
    with recorded() as entries:
        lead_do_not_contact_set(lead=lead, actor=rep.user, value=True)
        lead_do_not_contact_set(lead=lead, actor=rep.user, value=True)  # already set

    entry = one(entries, ws)
    assert about(entry) == ("lead.do_not_contact", rep.user, *key(lead))
    assert entry.changes == {"do_not_contact": [False, True], "version": [1, 2]}


def test_the_do_not_contact_toggle_on_the_lead_page_records_it(ws, rep, lead):
    url = reverse("compliance:lead-do-not-contact", args=[lead.pk])

    with recorded() as entries:
        login(rep).post(url, {"value": "on"})

    entry = one(entries, ws)
    assert about(entry) == ("lead.do_not_contact", rep.user, *key(lead))
    assert entry.changes == {"do_not_contact": [False, True], "version": [1, 2]}


def test_suppression_add_and_remove_are_recorded_without_the_address(ws, owner):
    with recorded() as added:
        entry = suppression_add(
            workspace=ws,
            email="sam@example.test",
            reason=SuppressionReason.MANUAL,
            actor=owner.user,
        )
    entry_key = key(entry)
    with recorded() as removed:
        suppression_remove(entry=entry, actor=owner.user)

    add = one(added, ws)
    assert about(add) == ("suppression.add", owner.user, *entry_key)
    assert add.changes == {"reason": "manual"}
    assert about(one(removed, ws)) == ("suppression.remove", owner.user, *entry_key)
    assert "sam" not in json.dumps([add.object_repr, add.changes, removed[0].object_repr])


def test_suppressing_a_list_records_one_count(ws, owner):
    suppression_add(workspace=ws, email="a@example.test", reason="manual", actor=owner.user)

    with recorded() as entries:
        suppression_add_many(
            workspace=ws,
            emails=["a@example.test", "b@example.test", "c@example.test"],
            reason=SuppressionReason.MANUAL,
            actor=owner.user,
        )

    entry = one(entries, ws)
    assert about(entry) == ("suppression.add", owner.user, "", "")
    assert entry.changes == {"reason": "manual", "count": 2, "already_listed": 1}
    assert "example.test" not in entry.object_repr


# Imports and exports --------------------------------------------------------------------------


FILE = csv_bytes(["email", "first_name"], ["a@example.test", "A"], ["b@example.test", "B"])


def test_an_import_records_upload_start_batch_and_finish(ws, marketer):
    user = marketer.user

    with recorded() as entries:
        job = import_file(ws, user, FILE)

    created = sorted(Lead.objects.filter(workspace=ws).values_list("pk", flat=True))
    assert [about(e) for e in entries] == [
        ("import.upload", user, *key(job)),
        ("import.start", user, *key(job)),
        ("lead.import", user, *key(job)),
        ("import.finish", user, *key(job)),
    ]
    upload_entry, start_entry, batch, finish = entries
    assert upload_entry.changes["file_name"] == "leads.csv"
    assert start_entry.changes["mapping"] == {"email": "email", "first_name": "first_name"}
    assert bulk(batch.changes) == {"job": job.pk, "created": 2, "updated": 0, "lead_ids": created}
    assert finish.changes == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "invalid": 0,
        "error": "",
    }


def test_an_import_undo_records_its_counts(ws, marketer, owner):
    job = import_file(ws, marketer.user, FILE)

    with recorded() as entries:
        import_undo(job, actor=owner.user)

    entry = one(entries, ws)
    assert about(entry) == ("import.undo", owner.user, *key(job))
    assert entry.changes == {"deleted": 2, "restored": 0, "kept": 0}


def test_an_import_cancel_is_recorded(ws, marketer, owner):
    job = start(check(configure(upload(ws, marketer.user, FILE), marketer.user)), marketer.user)

    with recorded() as entries:
        jobs.import_cancel(job, actor=owner.user)

    assert about(one(entries, ws)) == ("import.cancel", owner.user, *key(job))
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED


def test_discarding_an_import_that_never_started_is_recorded(ws, marketer, as_member):
    job = configure(upload(ws, marketer.user, FILE), marketer.user)

    with recorded() as entries:
        response = as_member(marketer).post(reverse("pipeline:import-discard", args=[job.pk]))

    assert response.status_code == 302
    entry = one(entries, ws)
    assert (entry.action, entry.actor, entry.object_type) == (
        "import.discard",
        marketer.user,
        "contacts.importjob",
    )


def test_requesting_a_score_recompute_is_recorded(ws, admin):
    from contacts.recompute import score_recompute_request

    with recorded() as entries:
        job = score_recompute_request(workspace=ws, actor=admin.user, enqueue=False)
        score_recompute_request(workspace=ws, actor=admin.user, enqueue=False)  # already waiting

    assert about(one(entries, ws)) == ("scoring.recompute", admin.user, *key(job))


def test_deleting_a_saved_view_is_recorded(ws, rep, as_member):
    from pipeline.services import saved_view_create

    view = saved_view_create(
        workspace=ws, owner=rep.user, name="Mine", query="status=new", columns=[], shared=False
    )

    with recorded() as entries:
        as_member(rep).post(reverse("pipeline:saved-view-delete", args=[view.pk]))

    assert about(one(entries, ws)) == ("saved_view.delete", rep.user, *key(view))


def test_an_export_start_is_recorded_without_its_query(ws, marketer):
    with recorded() as entries:
        job = export_job_start(
            workspace=ws,
            actor=marketer.user,
            fmt="csv",
            scope="Leads matching “ann@example.test”",
            query={"list": "q=ann%40example.test"},
            columns=["email"],
        )

    entry = one(entries, ws)
    assert about(entry) == ("export.start", marketer.user, *key(job))
    assert entry.changes == {"fmt": [None, "csv"]}


# Custom fields --------------------------------------------------------------------------------


def test_custom_field_create_records_its_definition(ws, admin):
    with recorded() as entries:
        field = custom_field_create(
            workspace=ws,
            actor=admin.user,
            key="plan",
            label="Plan",
            type=CustomFieldType.CHOICE,
            choices=["Gold", "Silver"],
        )

    entry = one(entries, ws)
    assert about(entry) == ("custom_field.create", admin.user, *key(field))
    assert entry.changes == {
        "key": [None, "plan"],
        "label": [None, "Plan"],
        "type": [None, "choice"],
        "choices": [None, ["Gold", "Silver"]],
        "required": [None, False],
    }


def test_custom_field_update_records_what_changed(ws, admin):
    field = CustomFieldFactory(workspace=ws, type=CustomFieldType.CHOICE, choices=["Gold"])
    old_label = field.label

    with recorded() as entries:
        custom_field_update(
            field=field, actor=admin.user, label="Plan", choices=["Gold", "Bronze"], required=False
        )

    entry = one(entries, ws)
    assert about(entry) == ("custom_field.update", admin.user, *key(field))
    assert entry.changes == {
        "label": [old_label, "Plan"],
        "choices": [["Gold"], ["Gold", "Bronze"]],
    }


def test_custom_field_retire_restore_move_and_delete_are_recorded(ws, admin):
    CustomFieldFactory(workspace=ws, position=1)
    field = CustomFieldFactory(workspace=ws, position=2)

    with recorded() as entries:
        custom_field_retire(field=field, actor=admin.user)
        retired_at = field.retired_at.isoformat()
        custom_field_restore(field=field, actor=admin.user)
        custom_field_move(field=field, actor=admin.user, direction="up")
        custom_field_delete(field=field, actor=admin.user)

    assert [(about(e), e.changes) for e in entries] == [
        (("custom_field.retire", admin.user, *key(field)), {"retired_at": [None, retired_at]}),
        (("custom_field.restore", admin.user, *key(field)), {"retired_at": [retired_at, None]}),
        (("custom_field.reorder", admin.user, *key(field)), {"position": [2, 1]}),
        (("custom_field.delete", admin.user, *key(field)), {"deleting": [False, True]}),
    ]


# Scoring --------------------------------------------------------------------------------------


def test_scoring_rule_create_records_the_rule(ws, admin):
    with recorded() as entries:
        rule = scoring_rule_save(
            workspace=ws, actor=admin.user, activity_type="deal_won", points=10
        )

    entry = one(entries, ws)
    assert about(entry) == ("scoring_rule.create", admin.user, *key(rule))
    assert entry.object_repr == rule_label(rule)
    assert entry.changes == {
        "activity_type": [None, "deal_won"],
        "url_contains": [None, ""],
        "points": [None, 10],
        "resets": [None, False],
    }


def test_scoring_rule_update_records_what_changed(ws, admin):
    rule = ScoringRule.objects.create(workspace=ws, activity_type="deal_won", points=10)

    with recorded() as entries:
        scoring_rule_save(
            workspace=ws, actor=admin.user, rule=rule, activity_type="deal_won", points=15
        )

    entry = one(entries, ws)
    assert about(entry) == ("scoring_rule.update", admin.user, *key(rule))
    assert entry.changes == {"points": [10, 15]}


def test_scoring_rule_disable_enable_and_delete_are_recorded(ws, admin):
    rule = ScoringRule.objects.create(workspace=ws, activity_type="deal_won", points=10)
    rule_key = key(rule)

    with recorded() as entries:
        scoring_rule_set_active(rule=rule, actor=admin.user, is_active=False)
        scoring_rule_set_active(rule=rule, actor=admin.user, is_active=True)
        scoring_rule_delete(rule=rule, actor=admin.user)

    assert [(about(e), e.changes) for e in entries] == [
        (("scoring_rule.disable", admin.user, *rule_key), {"is_active": [True, False]}),
        (("scoring_rule.enable", admin.user, *rule_key), {"is_active": [False, True]}),
        (
            ("scoring_rule.delete", admin.user, *rule_key),
            {
                "activity_type": ["deal_won", None],
                "url_contains": ["", None],
                "points": [10, None],
                "resets": [False, None],
                "is_active": [True, None],
            },
        ),
    ]


def test_source_weights_record_what_changed(ws, admin):
    before = scoring_settings_for(ws)

    with recorded() as entries:
        saved = source_weights_save(
            workspace=ws,
            actor=admin.user,
            source_weights=[{"source": "Webinar", "weight": 80}],
            other_source_weight=before.other_source_weight,
            no_source_weight=before.no_source_weight,
        )

    entry = one(entries, ws)
    assert about(entry) == (SOURCE_WEIGHTS_ACTION, admin.user, *key(saved))
    assert entry.changes == {
        "source_weights": [before.source_weights, [{"source": "Webinar", "weight": 80}]]
    }


# Segments -------------------------------------------------------------------------------------


def test_segment_create_update_state_and_delete_are_recorded(ws, marketer):
    user = marketer.user

    with recorded() as entries:
        segment = segment_create(workspace=ws, actor=user, name="Fair", kind=SegmentKind.STATIC)
        segment_update(segment=segment, actor=user, name="Fair 2024", description="Met at the fair")
        segment_state_set(segment=segment, actor=user, state=SegmentState.ACTIVE)
        segment_key = key(segment)
        segment_delete(segment=segment, actor=user)

    assert [(about(e), e.changes) for e in entries] == [
        (("segment.create", user, *segment_key), {"kind": "static", "state": "draft"}),
        (
            ("segment.update", user, *segment_key),
            {"name": ["Fair", "Fair 2024"], "description": ["", "Met at the fair"]},
        ),
        (("segment.state", user, *segment_key), {"state": ["draft", "active"]}),
        (("segment.delete", user, *segment_key), {"kind": "static", "state": "active"}),
    ]


def test_segment_rules_are_recorded_old_to_new(ws, marketer):
    segment = SegmentFactory(workspace=ws, kind=SegmentKind.DYNAMIC, rules={})

    with recorded() as entries:
        segment_rules_set(segment=segment, rules=HOT, actor=marketer.user)

    entry = one(entries, ws)
    assert about(entry) == ("segment.rules", marketer.user, *key(segment))
    assert entry.changes == {"rules": [{}, segment.rules]}
    assert segment.rules["children"][0]["field"] == "score"


def test_segment_duplicate_records_the_copy_and_where_it_came_from(ws, marketer, three):
    segment = SegmentFactory(workspace=ws, name="Fair", kind=SegmentKind.STATIC)
    for lead in three:
        SegmentMembershipFactory(segment=segment, lead=lead)

    with recorded() as entries:
        copy = segment_duplicate(segment=segment, actor=marketer.user)

    assert [(about(e), e.changes) for e in entries] == [
        (("segment.create", marketer.user, *key(copy)), {"kind": "static", "state": "draft"}),
        (("segment.duplicate", marketer.user, *key(copy)), {"from": segment.pk}),
    ]


# Sequences ------------------------------------------------------------------------------------


@pytest.fixture
def sequence(ws, marketer):
    sequence = sequence_save(workspace=ws, actor=marketer.user, name="Welcome")
    step_save(sequence=sequence, actor=marketer.user, subject="Hi", body="Hello {{ first_name }}")
    return sequence


def test_sequence_create_and_update_are_recorded(ws, marketer):
    user = marketer.user

    with recorded() as entries:
        sequence = sequence_save(workspace=ws, actor=user, name="Welcome", description="New")
        sequence_save(workspace=ws, actor=user, sequence=sequence, name="Welcome series")

    assert [(about(e), e.changes) for e in entries] == [
        (
            ("sequence.create", user, *key(sequence)),
            {"name": [None, "Welcome"], "description": [None, "New"]},
        ),
        (
            ("sequence.update", user, *key(sequence)),
            {"name": ["Welcome", "Welcome series"], "description": ["New", ""]},
        ),
    ]


def test_sequence_steps_are_recorded_with_what_changed(ws, marketer, sequence):
    user = marketer.user
    first = sequence.steps.get()

    with recorded() as entries:
        second = step_save(sequence=sequence, actor=user, subject="Again", body="Hi", wait_days=2)
        step_save(
            sequence=sequence, actor=user, step=second, subject="Again?", body="Hi", wait_days=3
        )
        step_move(step=second, actor=user, offset=-1)
        step_delete(step=SequenceStep.objects.get(pk=first.pk), actor=user)

    on_sequence = ("pipeline.sequence", str(sequence.pk))
    assert [(about(e), e.changes) for e in entries] == [
        (
            ("sequence.step_add", user, *on_sequence),
            {
                "step": second.pk,
                "subject": [None, "Again"],
                "body": [None, "Hi"],
                "wait_days": [None, 2],
            },
        ),
        (
            ("sequence.step_update", user, *on_sequence),
            {"step": second.pk, "subject": ["Again", "Again?"], "wait_days": [2, 3]},
        ),
        (("sequence.step_move", user, *on_sequence), {"step": second.pk, "offset": -1}),
        (("sequence.step_delete", user, *on_sequence), {"step": 2, "subject": "Hi"}),
    ]


def test_enrolling_and_stopping_a_lead_are_recorded_on_the_lead(ws, rep, lead, sequence):
    with recorded() as enrolled:
        enrollment = lead_enrol(lead=lead, sequence=sequence, actor=rep.user)
    with recorded() as stopped:
        enrollment_stop(enrollment=enrollment, actor=rep.user)

    enrol = one(enrolled, ws)
    assert (about(enrol), enrol.changes) == (
        ("sequence.enrol", rep.user, *key(lead)),
        {"sequence": [None, "Welcome"]},
    )
    stop = one(stopped, ws)
    assert (about(stop), stop.changes) == (
        ("sequence.stop", rep.user, *key(lead)),
        {"sequence": "Welcome", "steps_sent": 0},
    )


def test_enrolling_many_records_the_count_and_the_skipped(ws, rep, sequence, three):
    Lead.objects.filter(pk=three[0].pk).update(do_not_contact=True)

    with recorded() as entries:
        leads_enrol(workspace=ws, sequence=sequence, leads=of(three), actor=rep.user)

    entry = one(entries, ws)
    assert about(entry) == ("sequence.enrol_bulk", rep.user, *key(sequence))
    assert entry.changes == {
        "count": 2,
        "skipped": {"This lead is marked Do Not Contact.": 1},
    }


def test_sequence_archive_and_restore_are_recorded(ws, marketer, sequence):
    with recorded() as entries:
        sequence_archive(sequence=sequence, actor=marketer.user, archived=True)
        sequence_archive(sequence=sequence, actor=marketer.user, archived=True)  # already
        sequence_archive(sequence=sequence, actor=marketer.user, archived=False)

    assert [about(e) for e in entries] == [
        ("sequence.archive", marketer.user, *key(sequence)),
        ("sequence.restore", marketer.user, *key(sequence)),
    ]


def test_sending_settings_are_recorded_old_to_new(ws, admin):
    values = {
        "from_name": "Acme",
        "from_email": "hello@acme.test",
        "reply_to": "",
        "postal_address": "1 Main St",
    }

    with recorded() as entries:
        sending = sending_settings_save(workspace=ws, actor=admin.user, **values)
        sending_settings_save(workspace=ws, actor=admin.user, **{**values, "from_name": "Acme Co"})

    assert [(about(e), e.changes) for e in entries] == [
        (
            ("sending.create", admin.user, *key(sending)),
            {
                "from_name": [None, "Acme"],
                "from_email": [None, "hello@acme.test"],
                "reply_to": [None, ""],
                "postal_address": [None, "1 Main St"],
            },
        ),
        (("sending.update", admin.user, *key(sending)), {"from_name": ["Acme", "Acme Co"]}),
    ]


# Members and workspaces -----------------------------------------------------------------------


def role(name: str) -> Group:
    return Group.objects.get(name=name)


def test_a_member_invite_is_recorded_with_the_role(ws, owner):
    with recorded() as entries:
        membership = member_invite(
            actor=owner.user,
            workspace=ws,
            email="New@Acme.test",
            role=role(SALES_REP),
            site_url="http://testserver",
        )

    entry = one(entries, ws)
    assert about(entry) == ("member.invite", owner.user, *key(membership))
    assert (entry.object_repr, entry.changes) == ("new@acme.test", {"role": [None, SALES_REP]})


def test_a_role_change_is_recorded_old_to_new(ws, owner, rep):
    with recorded() as entries:
        member_change_role(actor=owner.user, membership=rep, role=role(MARKETER))

    entry = one(entries, ws)
    assert about(entry) == ("member.role_change", owner.user, *key(rep))
    assert entry.changes == {"role": [SALES_REP, MARKETER]}


def test_a_member_removal_records_the_removal_and_the_leads_passed_on(ws, owner, admin, rep):
    LeadFactory.create_batch(2, workspace=ws, owner=rep.user)
    rep_key = key(rep)

    with recorded() as entries:
        member_remove(actor=owner.user, membership=rep, reassign_to=admin)

    assert [(about(e), e.changes) for e in entries] == [
        (
            ("lead.reassign", None, "", ""),
            {"owner": [rep.user.email, admin.user.email], "count": 2},
        ),
        (
            ("member.remove", owner.user, *rep_key),
            {"role": [SALES_REP, None], "reassigned_to": admin.user.email},
        ),
    ]


def test_an_ownership_transfer_records_both_role_changes(ws, owner, admin):
    with recorded() as entries:
        ownership_transfer(actor_membership=owner, to=admin)

    assert [(about(e), e.changes) for e in entries] == [
        (("member.role_change", owner.user, *key(admin)), {"role": [ADMIN, OWNER]}),
        (("member.role_change", owner.user, *key(owner)), {"role": [OWNER, ADMIN]}),
    ]


def test_a_workspace_rename_is_recorded_old_to_new(ws, owner):
    with recorded() as entries:
        workspace_rename(actor=owner.user, workspace=ws, name="Acme Ltd")
        workspace_rename(actor=owner.user, workspace=ws, name="Acme Ltd")  # unchanged

    entry = one(entries, ws)
    assert about(entry) == ("workspace.rename", owner.user, *key(ws))
    assert entry.changes == {"name": ["Acme", "Acme Ltd"]}


def test_a_new_workspace_records_its_creation_and_its_first_owner(owner):
    with recorded() as entries:
        workspace = workspace_create(user=owner.user, name="Initech")

    membership = Membership.objects.get(workspace=workspace)
    assert [(e.workspace_id, about(e), e.changes) for e in entries] == [
        (workspace.pk, ("workspace.create", owner.user, *key(workspace)), {}),
        (workspace.pk, ("member.add", owner.user, *key(membership)), {"role": [None, OWNER]}),
    ]


def test_a_workspace_delete_leaves_an_installation_level_entry(ws, owner):
    pk = ws.pk

    with recorded() as entries:
        workspace_delete(actor=owner.user, workspace=ws, confirm_name="Acme")

    assert [(e.workspace_id, about(e), e.object_repr) for e in entries] == [
        (None, ("workspace.delete", owner.user, "", ""), f"Acme (#{pk})")
    ]
    assert not Workspace.objects.filter(pk=pk).exists()


# GDPR access and erasure ----------------------------------------------------------------------


def test_a_gdpr_export_is_recorded_without_its_content(ws, owner, lead):
    url = reverse("compliance:lead-gdpr-export", args=[lead.pk])

    with recorded() as entries:
        response = login(owner).get(url)
        document = b"".join(response.streaming_content)

    assert response.status_code == 200 and b"Ann" in document
    entry = one(entries, ws)
    assert about(entry) == ("lead.gdpr_export", owner.user, *key(lead))
    assert entry.changes == {"format_version": FORMAT_VERSION}


EMAIL = "erin.zyxwvut@example.test"
NEEDLES = ["erin", "zyxwvut", "+4420"]


@pytest.fixture
def erin(ws, rep, sequence):
    """A lead with a history in the log: created, edited, consent, Do Not Contact, a sequence."""
    lead = lead_create(
        workspace=ws,
        actor=rep.user,
        email=EMAIL,
        first_name="Erin",
        last_name="Zyxwvut",
        phone="+44 20 7946 0000",
    )
    lead_update(lead=lead, actor=rep.user, job_title="Erin's boss", phone="+44 20 7946 0001")
    consent_record(lead=lead, actor=rep.user, status=ConsentStatus.OPTED_IN, source="Erin's form")
    enrollment = lead_enrol(lead=lead, sequence=sequence, actor=rep.user)
    enrollment_stop(enrollment=enrollment, actor=rep.user)
    lead_do_not_contact_set(lead=lead, actor=rep.user, value=True)
    return lead


def test_erasing_a_lead_records_the_erasure_without_personal_data(ws, owner, erin):
    pk = erin.pk

    with recorded() as entries:
        request = lead_erase(lead=erin, actor=owner.user, confirmation=EMAIL)

    entry = one(entries, ws)
    assert about(entry) == ("lead.erase", owner.user, "contacts.lead", str(pk))
    assert entry.object_repr == f"Erased lead #{pk}"
    assert entry.changes["request"] == request.pk
    assert (entry.changes["leads"], entry.changes["audit entries redacted"]) == (1, 6)


def test_erasing_a_lead_redacts_every_earlier_entry_about_it(ws, owner, erin):
    pk = erin.pk
    earlier = AuditLog.objects.filter(object_type="contacts.lead", object_id=str(pk))
    fields_before = {e.pk: sorted(e.changes) for e in earlier}

    lead_erase(lead=erin, actor=owner.user, confirmation=EMAIL)

    redacted = earlier.exclude(action="lead.erase")
    assert sorted(redacted.values_list("action", flat=True)) == [
        "lead.consent",
        "lead.create",
        "lead.do_not_contact",
        "lead.update",
        "sequence.enrol",
        "sequence.stop",
    ]
    for entry in redacted:
        assert entry.object_repr == f"Erased lead #{pk}"
        assert sorted(entry.changes) == fields_before[entry.pk]  # which fields: kept
        assert set(entry.changes.values()) == {REDACTED}  # every value: gone


def log_text() -> str:
    """The whole log's values as one text, lower-cased, without spaces."""
    entries = AuditLog.objects.values("object_repr", "changes", "actor_label")
    return json.dumps(list(entries), ensure_ascii=False).lower().replace(" ", "")


def test_after_an_erasure_no_personal_value_is_left_in_the_log(ws, owner, erin):
    assert all(needle in log_text() for needle in NEEDLES)  # the log did hold them

    lead_erase(lead=erin, actor=owner.user, confirmation=EMAIL)

    log = log_text()
    assert [needle for needle in NEEDLES if needle in log] == []


def test_a_bulk_erasure_records_the_request_and_each_chunk(ws, owner, three):
    with recorded() as entries:
        request = erasure_request_create(
            workspace=ws,
            actor=owner.user,
            origin=ErasureRequest.Origin.SELECTION,
            lead_ids=ids(three),
            enqueue=False,
        )
        erasure_request_run(request.pk)

    assert [about(e) for e in entries] == [
        ("erasure.request", owner.user, *key(request)),
        ("lead.bulk_erase", owner.user, *key(request)),
    ]
    requested, erased = entries
    assert requested.changes == {
        "origin": "selection",
        "leads": 3,
        "addresses": 0,
        "reference": "",
    }
    assert (erased.changes["lead_ids"], erased.changes["leads"]) == (ids(three), 3)
