"""Synthetic leads in bulk, for load tests and benchmarks (PRODUCT 13 `generate_leads`).

On PostgreSQL the rows go in with COPY, lead ids reserved from the sequence first so the
activities, tag rows and consent events of a batch can reference them; elsewhere bulk_create.
"""

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection, models, transaction
from django.db.models import Max

from contacts.importing.writer import lead_ids_reserve
from contacts.models import Activity, Company, ConsentEvent, Lead
from contacts.scoring import leads_rescore, scoring_rules_ensure_defaults
from contacts.synthetic import (
    LeadGenerator,
    SyntheticLead,
    companies_ensure,
    custom_fields_ensure,
    lead_owners,
    leads_write_orm,
    tags_ensure,
)
from leadcrm.models import Workspace

Progress = Callable[[int, int, int, float], None]  # leads done, leads wanted, activities, seconds


@dataclass
class GenerateResult:
    leads: int
    activities: int
    write_seconds: float  # the rows themselves
    rescore_seconds: float
    rebuild_seconds: float  # indexes and foreign keys, after a bulk load on PostgreSQL
    seconds: float  # all of it


def leads_generate(
    *,
    workspace: Workspace,
    count: int,
    activities: float = 5,
    seed: int = 1,
    batch: int = 50_000,
    progress: Progress | None = None,
) -> GenerateResult:
    """Add `count` synthetic leads with about `activities` activities each to the workspace.

    One transaction. On PostgreSQL, a load at least as big as the lead table drops the
    tables' indexes and foreign keys and builds them again at the end (PostgreSQL's advice
    for populating a database); this locks the tables until it commits.
    """
    started = time.monotonic()
    with transaction.atomic():
        companies = companies_ensure(
            workspace=workspace, count=max(300, min(5000, count // 200)), seed=seed
        )
        tags = tags_ensure(workspace=workspace)
        attribute_keys = custom_fields_ensure(workspace=workspace)
        scoring_rules_ensure_defaults(workspace=workspace)  # else every score stays 0
        owner_ids, owner_weights = lead_owners(workspace=workspace)
        # Emails carry a number no earlier lead used (the reserved id on PostgreSQL, ids above
        # the current maximum elsewhere), so they are unique without looking anything up.
        next_n = (Lead.objects.aggregate(top=Max("id"))["top"] or 0) + 1
        generator = LeadGenerator(
            workspace=workspace,
            seed=seed,
            stream=f"generate:{next_n}",
            companies=companies,
            tags=tags,
            attribute_keys=attribute_keys,
            owner_ids=owner_ids,
            owner_weights=owner_weights,
            activities_per_lead=activities,
            email_for=lambda local, domain, n: f"{local}.{n}@{domain}",
        )
        use_copy = connection.vendor == "postgresql"
        tables = [m._meta.db_table for m in (Lead, Activity, ConsentEvent, Lead.tags.through)]
        if not use_copy:
            loading = contextlib.nullcontext()
        elif count >= _estimated_rows(Lead._meta.db_table):
            loading = _indexes_and_foreign_keys_rebuilt(tables)
        else:
            loading = _constraints_checked_per_statement()
        done = activity_count = 0
        with loading:
            while done < count:
                size = min(batch, count - done)
                if use_copy:
                    ids = lead_ids_reserve(size)
                else:
                    ids = list(range(next_n, next_n + size))
                    next_n += size
                leads = [generator.lead(n) for n in ids]
                if use_copy:
                    activity_count += _leads_copy(workspace=workspace, ids=ids, leads=leads)
                else:
                    activity_count += leads_write_orm(workspace=workspace, leads=leads)[1]
                done += size
                if progress:
                    progress(done, count, activity_count, time.monotonic() - started)
            written = time.monotonic()
            if use_copy:  # the planner needs to know the tables have grown before rescoring
                _analyze([*tables, Company._meta.db_table])
            # Before the indexes come back: rewriting a million rows is cheaper without them.
            leads_rescore(workspace=workspace)
            rescored_at = time.monotonic()
        if use_copy:
            _analyze([Lead._meta.db_table])  # again, for the new scores
    if use_copy and not connection.in_atomic_block:
        # Sets the visibility map, so bounded counts are index-only scans from the first page
        # (autovacuum would get there too, later). VACUUM cannot run inside a transaction.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {Lead._meta.db_table}")
    finished = time.monotonic()
    return GenerateResult(
        leads=done,
        activities=activity_count,
        write_seconds=written - started,
        rescore_seconds=rescored_at - written,
        rebuild_seconds=finished - rescored_at,
        seconds=finished - started,
    )


def _analyze(tables: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(tables))


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return max(0, int(cursor.fetchone()[0]))


@contextlib.contextmanager
def _constraints_checked_per_statement() -> Iterator[None]:
    """Foreign keys are deferred to commit; in one long transaction that queue would grow
    with every row, so check them as each COPY ends."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield


@contextlib.contextmanager
def _indexes_and_foreign_keys_rebuilt(tables: list[str]) -> Iterator[None]:
    """Drop the tables' secondary indexes and foreign keys; build them again on exit.

    Inside the caller's transaction, so a failure brings them back untouched. Re-adding a
    foreign key checks every row, and re-creating the unique email index every email.
    Primary keys and constraint-backed indexes stay.
    """
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Checks still deferred from earlier in the transaction would block ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])
            ORDER BY 1, 2
            """,
            [tables],
        )
        foreign_keys = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {qn(name)} {definition}")


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _leads_copy(*, workspace: Workspace, ids: list[int], leads: list[SyntheticLead]) -> int:
    """COPY one batch of leads with their activities, tags and consent events."""
    lead_fields = Lead._meta.concrete_fields
    # Every column is written: Django's defaults live in Python, not in the table.
    defaults = [(f.attname, f.get_default()) for f in lead_fields]
    json_positions = [i for i, f in enumerate(lead_fields) if isinstance(f, models.JSONField)]
    activity_columns = (
        "workspace_id, lead_id, type, occurred_at, source, actor_id, subject, body, url, "
        "data, created_at"
    )
    event_columns = (
        "workspace_id, lead_id, occurred_at, actor_id, channel, status_before, status, type, "
        "source, proof, gdpr_basis, country, user_agent"
    )
    activity_count = 0
    with connection.cursor() as cursor:
        columns = ", ".join(connection.ops.quote_name(f.column) for f in lead_fields)
        with cursor.copy(f"COPY {Lead._meta.db_table} ({columns}) FROM STDIN") as copy:
            for lead_id, lead in zip(ids, leads, strict=True):
                values = lead.fields
                values["id"] = lead_id
                row = [values.get(attname, default) for attname, default in defaults]
                for i in json_positions:
                    row[i] = _json(row[i])
                copy.write_row(row)
        table = Activity._meta.db_table
        with cursor.copy(f"COPY {table} ({activity_columns}) FROM STDIN") as copy:
            ws_id = workspace.pk
            for lead_id, lead in zip(ids, leads, strict=True):
                for type_, occurred_at, source, actor_id, subject, body, url in lead.activities:
                    copy.write_row(
                        (ws_id, lead_id, type_, occurred_at, source, actor_id)
                        + (subject, body, url, "{}", occurred_at)
                    )
                activity_count += len(lead.activities)
        table = Lead.tags.through._meta.db_table
        with cursor.copy(f"COPY {table} (lead_id, tag_id) FROM STDIN") as copy:
            for lead_id, lead in zip(ids, leads, strict=True):
                for tag_id in lead.tag_ids:
                    copy.write_row((lead_id, tag_id))
        table = ConsentEvent._meta.db_table
        with cursor.copy(f"COPY {table} ({event_columns}) FROM STDIN") as copy:
            for lead_id, lead in zip(ids, leads, strict=True):
                e = lead.consent_event
                if e:
                    copy.write_row(
                        (e["workspace_id"], lead_id, e["occurred_at"], e["actor_id"])
                        + (e["channel"], e["status_before"], e["status"], e["type"])
                        + (e["source"], e["proof"], e["gdpr_basis"], e["country"], "")
                    )
    return activity_count
