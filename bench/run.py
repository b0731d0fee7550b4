"""`make bench`: the leads list at BENCH_LEADS leads on PostgreSQL, against raw-SQL floors.

Prints two lines per page (PRODUCT 13):
    bench <name> value=<ms> unit=ms floor=<ms> ratio=<value/floor>
    bench <name>_sql value=<ms> unit=ms floor=<ms> ratio=<value/floor>
The first value is the whole request through Django's test client (middleware, permission
checks, queries, template rendering); the second is the time of its queries on leads.
The floor is the best hand-written SQL for the same rows (page and bounded count), run on
the same tables in the same process. Targets: request ≤ 150 ms, SQL ≤ 3 × floor.
Data is generated once into workspace "bench" and reused by later runs (generate_leads;
delete the workspace to start over).

Segment previews (G2) print one line each: the live count of the seed examples and of a
3-level nested rule through the rules compiler, against hand-written SQL for the same count.
Targets: ≤ 3 × floor, and ≤ 500 ms.

Imports (I6) come last, in bench/imports.py (rows/s against COPY floors, dry run, memory).
Scoring (A2/A3) in bench/scoring.py: events/s through the services, the full recompute.
Compliance (C3/C6/C7) in bench/compliance.py: the Unsubscribes and Audit log pages, bulk
erasure in leads/s.
BENCH_ONLY=pages|segments|scoring|compliance|imports runs one part.
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
# Measure what production runs: DEBUG off (cached templates, no query log, manifest statics).
for name, value in {
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdefghij",
    "SUPPRESSION_KEY": "bench-only-suppression-key",
    "ALLOWED_HOSTS": "testserver",
    "SECURE_SSL_REDIRECT": "0",
}.items():
    os.environ.setdefault(name, value)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from contacts.models import Lead  # noqa: E402
from leadcrm.middleware import SESSION_KEY  # noqa: E402
from leadcrm.models import Membership, User, Workspace  # noqa: E402
from leadcrm.roles import OWNER, ensure_default_roles  # noqa: E402

LEADS = int(os.environ.get("BENCH_LEADS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
LIVE = "workspace_id = %(ws)s AND deleted_at IS NULL"
COLUMNS = "l.id, l.first_name, l.last_name, l.email, l.status, l.score, l.tier, l.last_activity_at"
SAAS = LIVE + ' AND attributes @> \'{"industry": "SaaS"}\''
BOUNDED_COUNT = "SELECT COUNT(*) FROM (SELECT 1 FROM contacts_lead WHERE {where} LIMIT 10001) s"


def p50(fn) -> float:
    fn()
    fn()  # warm caches and the plan
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def sql_p50(request) -> float:
    """The time the page's lead queries take (the work the floor does), timed per execute.

    Session, membership, preference and menu queries (~3 ms, the same on every page) are left
    out; the tags prefetch stays in, although the floor has no tags.
    """
    totals = []
    for _ in range(RUNS):
        spent = [0.0]

        def timed(execute, sql, params, many, context, spent=spent):
            if "contacts_lead" not in sql:
                return execute(sql, params, many, context)
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent[0] += time.perf_counter() - started

        with connection.execute_wrapper(timed):
            request()
        totals.append(spent[0] * 1000)
    return statistics.median(totals)


def sql_runner(statements: list[tuple[str, dict]]):
    def run():
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()

    return run


def page_sql(where: str, order: str, offset: int = 0) -> str:
    return (
        f"SELECT {COLUMNS}, c.name, u.email FROM contacts_lead l "
        "LEFT JOIN contacts_company c ON c.id = l.company_id "
        "LEFT JOIN leadcrm_user u ON u.id = l.owner_id "
        f"WHERE l.{where.replace('AND deleted_at', 'AND l.deleted_at')} "
        f"ORDER BY {order} LIMIT 50 OFFSET {offset}"
    )


def setup() -> tuple[Workspace, User]:
    if connection.vendor != "postgresql":
        sys.exit("make bench needs DATABASE_URL=postgres://… (the targets are for PostgreSQL).")
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    ensure_default_roles()
    workspace, _ = Workspace.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user, created = User.objects.get_or_create(email="bench-owner@bench.test")
    if created:
        user.set_password("bench")
        user.save()
    from django.contrib.auth.models import Group

    Membership.objects.get_or_create(
        user=user, workspace=workspace, defaults={"role": Group.objects.get(name=OWNER)}
    )
    have = Lead.objects.filter(workspace=workspace).count()
    if have < LEADS:
        print(f"Generating {LEADS - have:,} leads into workspace 'bench' (once)…", flush=True)
        call_command("generate_leads", workspace="bench", count=LEADS - have)
    return workspace, user


def main() -> None:
    workspace, user = setup()
    only = os.environ.get("BENCH_ONLY", "")
    if only in ("", "pages"):
        pages_bench(workspace, user)
    if only in ("", "segments"):
        segment_count_bench(workspace)
    if only in ("", "scoring"):
        from bench.scoring import scoring_bench

        scoring_bench(workspace)
    if only in ("", "compliance"):
        from bench.compliance import compliance_bench

        compliance_bench(workspace, user)
    if only in ("", "imports"):
        from bench.imports import import_bench

        import_bench(workspace, user)


def pages_bench(workspace: Workspace, user: User) -> None:
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = workspace.pk
    session.save()
    ws = {"ws": workspace.pk}
    surname = (
        Lead.objects.filter(workspace=workspace)
        .values_list("last_name", flat=True)
        .order_by("-id")
        .first()
    )
    rare = f"{surname}zq"  # a surname no one has: the worst case for a trigram search
    term = rare.casefold()

    cases = [
        (
            "list_default",
            "/pipeline/leads/?view=all",
            [
                (page_sql(LIVE, "l.created_at DESC, l.id DESC"), ws),
                (BOUNDED_COUNT.format(where=LIVE), ws),
            ],
        ),
        (
            "list_status_score",
            "/pipeline/leads/?status=qualified&sort=-score",
            [
                (page_sql(LIVE + " AND status = 'qualified'", "l.score DESC, l.id DESC"), ws),
                (BOUNDED_COUNT.format(where=LIVE + " AND status = 'qualified'"), ws),
            ],
        ),
        (
            "list_search_rare_surname",
            f"/pipeline/leads/?q={rare}",
            [
                (
                    page_sql(LIVE + " AND search_text LIKE %(t)s", "l.created_at DESC, l.id DESC"),
                    {**ws, "t": f"%{term}%"},
                ),
                (
                    BOUNDED_COUNT.format(where=LIVE + " AND search_text LIKE %(t)s"),
                    {**ws, "t": f"%{term}%"},
                ),
            ],
        ),
        (
            "list_search_surname",
            f"/pipeline/leads/?q={surname}",
            [
                (
                    page_sql(LIVE + " AND search_text LIKE %(t)s", "l.created_at DESC, l.id DESC"),
                    {**ws, "t": f"%{surname.casefold()}%"},
                ),
                (
                    BOUNDED_COUNT.format(where=LIVE + " AND search_text LIKE %(t)s"),
                    {**ws, "t": f"%{surname.casefold()}%"},
                ),
            ],
        ),
        (
            "list_custom_field",
            "/pipeline/leads/?cf_industry=SaaS",
            [
                (
                    page_sql(SAAS, "l.created_at DESC, l.id DESC"),
                    ws,
                ),
                (
                    BOUNDED_COUNT.format(where=SAAS),
                    ws,
                ),
            ],
        ),
        (
            "list_page_200",
            "/pipeline/leads/?view=all&page=200",
            [
                (page_sql(LIVE, "l.created_at DESC, l.id DESC", offset=199 * 50), ws),
                (BOUNDED_COUNT.format(where=LIVE), ws),
            ],
        ),
        (
            "list_htmx_partial",
            "/pipeline/leads/?status=new&sort=-score&page=2",
            [
                (page_sql(LIVE + " AND status = 'new'", "l.score DESC, l.id DESC", offset=50), ws),
                (BOUNDED_COUNT.format(where=LIVE + " AND status = 'new'"), ws),
            ],
        ),
    ]
    statuses = ["new", "contacted", "engaged", "qualified", "converted", "unsubscribed"]
    cases.append(
        (
            "kanban_board",
            "/pipeline/kanban/",
            [
                (
                    page_sql(LIVE + f" AND status = '{s}'", "l.score DESC, l.id DESC").replace(
                        "LIMIT 50", "LIMIT 26"
                    ),
                    ws,
                )
                for s in statuses
            ]
            + [(BOUNDED_COUNT.format(where=LIVE + f" AND status = '{s}'"), ws) for s in statuses],
        )
    )
    print(f"# {Lead.objects.filter(workspace=workspace).count():,} leads, p50 of {RUNS} runs")
    for name, url, statements in cases:
        headers = {"HX-Request": "true"} if name.endswith("partial") else {}

        def request(url=url, headers=headers):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)

        value = p50(request)
        sql = sql_p50(request)
        floor = p50(sql_runner(statements))
        for label, measured in ((name, value), (f"{name}_sql", sql)):
            print(
                f"bench {label} value={measured:.1f} unit=ms floor={floor:.1f} "
                f"ratio={measured / floor:.2f}",
                flush=True,
            )

    kanban_move_bench(client, workspace)


def kanban_move_bench(client: Client, workspace: Workspace) -> None:
    """One drag on the board: New ↔ Contacted, back and forth, with the card's version."""
    lead = Lead.objects.filter(workspace=workspace, status="new").order_by("-id").first()
    state = {"to": "contacted"}

    def move():
        current = Lead.objects.only("version").get(pk=lead.pk)
        response = client.post(
            f"/pipeline/kanban/leads/{lead.pk}/move/",
            {"status": state["to"], "version": current.version},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200, response.content
        state["to"] = "new" if state["to"] == "contacted" else "contacted"

    floor_state = {"to": "contacted"}

    def floor():
        from django.db import transaction

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE contacts_lead SET status = %s, version = version + 1, updated_at = now() "
                "WHERE id = %s RETURNING version",
                [floor_state["to"], lead.pk],
            )
            cursor.execute(
                "INSERT INTO contacts_activity (workspace_id, lead_id, type, occurred_at, source, "
                "subject, body, url, data, created_at) VALUES (%s, %s, 'status_changed', now(), "
                "'kanban', '', '', '', '{}', now())",
                [workspace.pk, lead.pk],
            )
            cursor.execute(
                "INSERT INTO leadcrm_auditlog (workspace_id, actor_label, action, object_type, "
                "object_id, object_repr, changes, created_at) VALUES (%s, '', 'lead.update', "
                "'contacts.lead', %s, '', '{}', now())",
                [workspace.pk, str(lead.pk)],
            )
        floor_state["to"] = "new" if floor_state["to"] == "contacted" else "contacted"

    value, floor_ms = p50(move), p50(floor)
    print(
        f"bench kanban_move value={value:.1f} unit=ms floor={floor_ms:.1f} "
        f"ratio={value / floor_ms:.2f}",
        flush=True,
    )


def segment_count_bench(workspace: Workspace) -> None:
    """A segment preview's live count (G2): the seed examples and a 3-level nested rule, as
    rules_count(…) (what the preview shows), compiling included, against hand-written
    SQL counting the same leads at the same "now"."""
    from django.utils import timezone

    from contacts.models import Tag
    from segments.rules import rules_clean, rules_count

    now = timezone.now()
    tag = Tag.objects.get(workspace=workspace, name="vip")
    params = {
        "ws": workspace.pk,
        "tag": tag.pk,
        "opened_since": now - timedelta(days=30),
        "active_since": now - timedelta(days=60),
    }
    lead_where = "l.workspace_id = %(ws)s AND l.deleted_at IS NULL"
    cases = [
        (
            "segment_us_technology",
            [
                {"field": "cf.industry", "op": "is", "value": "Technology"},
                {"field": "country", "op": "is", "value": "US"},
            ],
            f"SELECT COUNT(*) FROM contacts_lead l WHERE {lead_where} "
            "AND l.attributes @> '{\"industry\": \"Technology\"}' AND l.country = 'US'",
        ),
        (
            "segment_opened_30d",
            [{"field": "last_opened", "op": "less_than_days_ago", "value": 30}],
            # A semi join on the window's opens, read from the covering index
            # activity_ws_type_time_lead (workspace, type, occurred_at) INCLUDE lead_id.
            f"SELECT COUNT(*) FROM contacts_lead l WHERE {lead_where} AND EXISTS ("
            "SELECT 1 FROM contacts_activity a WHERE a.workspace_id = %(ws)s "
            "AND a.lead_id = l.id AND a.type = 'email_opened' "
            "AND a.occurred_at >= %(opened_since)s)",
        ),
        (
            "segment_score_over_50",
            [{"field": "score", "op": "gt", "value": 50}],
            f"SELECT COUNT(*) FROM contacts_lead l WHERE {lead_where} AND l.score > 50",
        ),
        (
            "segment_nested_3_levels",
            [
                {"field": "status", "op": "in", "value": ["new", "contacted"]},
                {
                    "match": "any",
                    "children": [
                        {"field": "score", "op": "gt", "value": 40},
                        {
                            "match": "all",
                            "children": [
                                {"field": "tag", "op": "has", "value": tag.pk},
                                {"field": "last_activity", "op": "less_than_days_ago", "value": 60},
                            ],
                        },
                    ],
                },
            ],
            # The OR split into two disjoint counts: the first is an index-only range of
            # lead_ws_status_score, the second a seq scan hash-joined with the tag's rows.
            f"SELECT (SELECT COUNT(*) FROM contacts_lead l WHERE {lead_where} "
            "AND l.status IN ('new', 'contacted') AND l.score > 40) + ("
            f"SELECT COUNT(*) FROM contacts_lead l WHERE {lead_where} "
            "AND l.status IN ('new', 'contacted') AND l.score <= 40 "
            "AND l.last_activity_at >= %(active_since)s AND EXISTS (SELECT 1 FROM "
            "contacts_lead_tags t WHERE t.lead_id = l.id AND t.tag_id = %(tag)s))",
        ),
    ]
    for name, children, floor_sql in cases:
        tree = rules_clean({"match": "all", "children": children}, workspace=workspace)

        def preview(tree=tree) -> int:
            return rules_count(tree, workspace=workspace, now=now)

        def floor(sql=floor_sql) -> int:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()[0]

        assert preview() == floor(), name  # the same leads, or the comparison means nothing
        value, floor_ms = p50(preview), p50(floor)
        print(
            f"bench {name} value={value:.1f} unit=ms floor={floor_ms:.1f} "
            f"ratio={value / floor_ms:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
