"""Compliance benchmarks (PRODUCT C3, C6, C7; issue 11), run by bench/run.py.

    bench unsubscribes_*   the Unsubscribes page (first page, page 200, a search) with 2% of
                           the leads unsubscribed, like the list pages: the whole request, and
                           the floor = hand-written SQL for the same 50 rows and bounded count.
    bench audit_log_*      Settings → Audit log over BENCH_AUDIT_ENTRIES (1,000,000) entries:
                           the first page, page 200 and one object's entries; same floors.
    bench erasure_bulk     leads/s of a bulk GDPR erasure of BENCH_ERASE (5,000) leads with
                           their activities and consent events, through the background job
                           (chunks of 1,000 in their own transactions, audit redaction, handlers,
                           suppression hashes, the report). Floor: the same deletions, the
                           redaction and the suppression insert as hand-written set-based SQL
                           in one transaction, on other leads of the same workspace.

Setup, once per database: unsubscribe 2% of the bench leads through leads_unsubscribe (with
varied dates, so the page's order is realistic) and insert the synthetic audit entries by
SQL. The erasure deletes 2 × BENCH_ERASE leads; the next run's setup generates them again.
"""

import os
import time

from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from compliance.erasure import erasure_request_create, erasure_request_run
from compliance.models import ErasureRequest
from contacts.activities import id_chunks
from contacts.consent import leads_unsubscribe
from contacts.models import Channel, ConsentEvent, EmailStatus, Lead
from contacts.queries import suppression_hash
from leadcrm.middleware import SESSION_KEY
from leadcrm.models import AuditLog, User, Workspace

AUDIT_ENTRIES = int(os.environ.get("BENCH_AUDIT_ENTRIES", "1000000"))
ERASE = int(os.environ.get("BENCH_ERASE", "5000"))
UNSUBSCRIBED_SHARE = 0.02
AUDIT_MARK = "bench.synthetic"


def _line(name: str, value: float, unit: str, floor: float) -> None:
    ratio = value / floor if floor else 0
    print(
        f"bench {name} value={value:.1f} unit={unit} floor={floor:.1f} ratio={ratio:.2f}",
        flush=True,
    )


def _unsubscribes_ensure(workspace: Workspace) -> None:
    leads = Lead.objects.filter(workspace=workspace, deleted_at__isnull=True)
    have = leads.filter(email_status=EmailStatus.UNSUBSCRIBED).count()
    wanted = int(leads.count() * UNSUBSCRIBED_SHARE)
    if have >= wanted * 0.9:
        return
    print(f"Unsubscribing {wanted - have:,} bench leads (once)…", flush=True)
    started = time.perf_counter()
    ids = list(
        leads.exclude(email_status=EmailStatus.UNSUBSCRIBED)
        .order_by("?")
        .values_list("pk", flat=True)[: wanted - have]
    )
    channels = [Channel.LINK, Channel.LINK, Channel.LINK, Channel.MANUAL, Channel.IMPORT]
    for i, chunk in enumerate(id_chunks(ids)):
        with transaction.atomic():
            leads_unsubscribe(
                workspace=workspace,
                actor=None,
                leads=Lead.objects.filter(pk__in=chunk),
                channel=channels[i % len(channels)],
                source="Newsletter footer",
            )
    # Spread the opt-outs over the last year, as a real workspace's would be.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ConsentEvent._meta.db_table}
               SET occurred_at = now() - (id %% 365) * interval '1 day'
                                       - (id %% 1440) * interval '1 minute'
             WHERE workspace_id = %s AND status = 'opted_out'
            """,
            [workspace.pk],
        )
        cursor.execute(  # the lead's copy of its latest consent event follows
            """
            UPDATE contacts_lead l SET consent_captured_at = e.occurred_at
              FROM contacts_consentevent e
             WHERE e.lead_id = l.id AND e.status = 'opted_out' AND l.workspace_id = %s
               AND l.email_status = 'unsubscribed'
            """,
            [workspace.pk],
        )
        cursor.execute("VACUUM ANALYZE contacts_consentevent")
        cursor.execute("VACUUM ANALYZE contacts_lead")
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)


def _audit_ensure(workspace: Workspace, user: User) -> None:
    have = AuditLog.objects.filter(workspace=workspace).count()
    if have >= AUDIT_ENTRIES * 0.9:
        return
    missing = AUDIT_ENTRIES - have
    print(f"Inserting {missing:,} synthetic audit entries (once)…", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO leadcrm_auditlog
                (workspace_id, actor_id, actor_label, action, object_type, object_id,
                 object_repr, changes, created_at)
            SELECT %(ws)s, %(user)s, %(email)s,
                   (ARRAY['lead.update', 'lead.create', 'lead.consent', 'segment.add_leads',
                          'lead.bulk_update', 'import.finish'])[1 + g %% 6],
                   'contacts.lead', (SELECT max(id) FROM contacts_lead) - g %% 900000,
                   'Lead ' || g, '{"status": ["new", "contacted"]}'::jsonb,
                   now() - g * interval '20 seconds'
              FROM generate_series(1, %(n)s) AS g
            """,
            {"ws": workspace.pk, "user": user.pk, "email": user.email, "n": missing},
        )
        cursor.execute("VACUUM ANALYZE leadcrm_auditlog")
    print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)


def pages_bench(workspace: Workspace, user: User) -> None:
    from bench.run import BOUNDED_COUNT, p50, sql_runner

    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = workspace.pk
    session.save()
    ws = {"ws": workspace.pk}
    surname = (
        Lead.objects.filter(workspace=workspace, email_status=EmailStatus.UNSUBSCRIBED)
        .values_list("last_name", flat=True)
        .order_by("-id")
        .first()
    )
    unsubscribed = (
        "FROM contacts_consentevent e JOIN contacts_lead l ON l.id = e.lead_id "
        "WHERE e.workspace_id = %(ws)s AND e.status = 'opted_out' "
        "AND l.email_status = 'unsubscribed' AND l.deleted_at IS NULL {extra} "
        "AND NOT EXISTS (SELECT 1 FROM contacts_consentevent n WHERE n.lead_id = e.lead_id "
        "AND n.status = 'opted_out' AND (n.occurred_at, n.id) > (e.occurred_at, e.id))"
    )

    def unsubscribes_sql(extra: str = "", offset: int = 0, params=ws):
        where = unsubscribed.format(extra=extra)
        return [
            (
                "SELECT l.id, l.first_name, l.last_name, l.email, l.status, e.occurred_at, "
                f"e.channel, e.source {where} ORDER BY e.occurred_at DESC, e.id DESC "
                f"LIMIT 50 OFFSET {offset}",
                params,
            ),
            (f"SELECT COUNT(*) FROM (SELECT 1 {where} LIMIT 10001) s", params),
        ]

    search = {**ws, "t": f"%{surname.casefold()}%"}
    object_id = AuditLog.objects.filter(workspace=workspace).values_list("object_id").first()[0]
    audit_where = "workspace_id = %(ws)s"
    audit_page = (
        "SELECT id, actor_id, actor_label, action, object_type, object_id, object_repr, "
        "changes, created_at FROM leadcrm_auditlog WHERE {where} "
        "ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET {offset}"
    )

    def audit_sql(where: str, offset: int = 0, params=ws):
        return [
            (audit_page.format(where=where, offset=offset), params),
            (
                BOUNDED_COUNT.replace("contacts_lead", "leadcrm_auditlog").format(where=where),
                params,
            ),
        ]

    object_params = {**ws, "id": object_id}
    object_where = audit_where + " AND object_type = 'contacts.lead' AND object_id = %(id)s"
    cases = [
        ("unsubscribes_first_page", "/pipeline/unsubscribes/", unsubscribes_sql()),
        (
            "unsubscribes_page_200",
            "/pipeline/unsubscribes/?page=200",
            unsubscribes_sql(offset=9950),
        ),
        (
            "unsubscribes_search",
            f"/pipeline/unsubscribes/?q={surname}",
            unsubscribes_sql("AND l.search_text LIKE %(t)s", params=search),
        ),
        ("audit_log_first_page", "/settings/audit/", audit_sql(audit_where)),
        ("audit_log_page_200", "/settings/audit/?page=200", audit_sql(audit_where, 9950)),
        (
            "audit_log_one_lead",
            f"/settings/audit/?object_type=contacts.lead&object_id={object_id}",
            audit_sql(object_where, params=object_params),
        ),
    ]
    for name, url, statements in cases:

        def request(url=url):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        _line(name, p50(request), "ms", p50(sql_runner(statements)))


def _erase_floor(workspace: Workspace, ids: list[int]) -> None:
    """The hand-written ideal of leads_erase for these leads, in one transaction."""
    emails = list(Lead.objects.filter(pk__in=ids).values_list("email", flat=True))
    hashes = [suppression_hash(email) for email in emails]
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM contacts_importissue WHERE lead_id = ANY(%s) OR email_hash = ANY(%s)",
            [ids, hashes],
        )
        cursor.execute(
            "UPDATE leadcrm_auditlog SET object_repr = 'Erased lead #' || object_id, "
            "changes = '{}' WHERE workspace_id = %s AND object_type = 'contacts.lead' "
            "AND object_id = ANY(%s)",
            [workspace.pk, [str(i) for i in ids]],
        )
        for table in (
            "contacts_activity",
            "contacts_consentevent",
            "contacts_lead_tags",
            "contacts_importsnapshot",
            "segments_segmentmembership",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE lead_id = ANY(%s)", [ids])
        cursor.execute(
            "DELETE FROM pipeline_sequencesend WHERE enrollment_id IN "
            "(SELECT id FROM pipeline_sequenceenrollment WHERE lead_id = ANY(%s))",
            [ids],
        )
        cursor.execute("DELETE FROM pipeline_sequenceenrollment WHERE lead_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM contacts_lead WHERE id = ANY(%s)", [ids])
        cursor.execute(
            "INSERT INTO contacts_suppressedemail (workspace_id, email_hash, reason, created_at) "
            "SELECT %s, h, 'erased', %s FROM unnest(%s::text[]) AS h ON CONFLICT DO NOTHING",
            [workspace.pk, now, hashes],
        )


def erasure_bench(workspace: Workspace, user: User) -> None:
    from bench.scoring import _settle

    newest = list(
        Lead.objects.filter(workspace=workspace)
        .order_by("-id")
        .values_list("pk", flat=True)[: 2 * ERASE]
    )
    ours_ids, floor_ids = sorted(newest[:ERASE]), sorted(newest[ERASE:])
    activities = (
        Lead.objects.filter(pk__in=ours_ids[:1000]).values("activities").count() * ERASE // 1000
    )
    print(f"# erasing {ERASE:,} leads (~{activities:,} activities) each way", flush=True)
    _settle()
    started = time.perf_counter()
    _erase_floor(workspace, floor_ids)
    floor = time.perf_counter() - started
    _settle()
    started = time.perf_counter()
    request = erasure_request_create(
        workspace=workspace,
        actor=user,
        origin=ErasureRequest.Origin.SELECTION,
        lead_ids=ours_ids,
        enqueue=False,
    )
    erasure_request_run(request.pk)
    ours = time.perf_counter() - started
    request.refresh_from_db()
    assert request.status == ErasureRequest.Status.DONE, request.error
    _line("erasure_bulk", request.leads_erased / ours, "leads/s", len(floor_ids) / floor)


def compliance_bench(workspace: Workspace, user: User) -> None:
    _unsubscribes_ensure(workspace)
    _audit_ensure(workspace, user)
    pages_bench(workspace, user)
    erasure_bench(workspace, user)
