"""Background work of the contacts app. Tasks receive ids only, never personal data (C6)."""

import json

from django.db import connection, transaction
from django.db.models import Max, Min
from django_tasks import task

from contacts.models import CustomField, Lead

PURGE_BATCH_SIZE = 10_000


def _remove_key(workspace_id: int, key: str, first_id: int, last_id: int) -> int:
    """Remove `key` from the attributes of the workspace's leads with ids in [first, last]."""
    table = connection.ops.quote_name(Lead._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {table} SET attributes = attributes - %s "
            "WHERE workspace_id = %s AND attributes ? %s AND id BETWEEN %s AND %s"
        )
        params = [key, workspace_id, key, first_id, last_id]
    else:
        # A JSON path with the key quoted as a JSON string, as Django's SQLite lookups do.
        path = "$." + json.dumps(key)
        sql = (
            f"UPDATE {table} SET attributes = json_remove(attributes, %s) "
            "WHERE workspace_id = %s AND json_type(attributes, %s) IS NOT NULL "
            "AND id BETWEEN %s AND %s"
        )
        params = [path, workspace_id, path, first_id, last_id]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@task()
def custom_field_purge(field_id: int) -> int:
    """Remove a deleted field's values from every lead (trash included), then the field.

    Set-based in id ranges, one short transaction each, so leads stay writable meanwhile.
    Idempotent: a second run, or a run after the field is gone, changes nothing.
    """
    field = CustomField.objects.filter(pk=field_id, deleting=True).first()
    if field is None:
        return 0
    bounds = Lead.objects.filter(workspace_id=field.workspace_id).aggregate(
        first=Min("id"), last=Max("id")
    )
    purged = 0
    if bounds["first"] is not None:
        for start in range(bounds["first"], bounds["last"] + 1, PURGE_BATCH_SIZE):
            end = start + PURGE_BATCH_SIZE - 1
            purged += _remove_key(field.workspace_id, field.key, start, end)
    field.delete()
    return purged


@task()
def import_check(job_id: int, token: str) -> None:
    """The dry run of an import (PRODUCT I4): counts and problems, nothing written."""
    from contacts.importing.jobs import import_check_run

    import_check_run(job_id, token)


@task()
def import_run(job_id: int, token: str) -> None:
    """An import (PRODUCT I6), batch by batch; `token` tells a superseded run to stop."""
    from contacts.importing.jobs import import_run_batches

    import_run_batches(job_id, token)


@task()
def import_undo(job_id: int, token: str) -> None:
    """Undo a large import (PRODUCT I7) in one transaction."""
    from contacts.importing.undo import import_undo_run

    import_undo_run(job_id, token)


@task()
def score_recompute(job_id: int) -> None:
    """Recompute every lead's engagement and quality score (PRODUCT A3/A4)."""
    from contacts.recompute import score_recompute_run

    score_recompute_run(job_id)
