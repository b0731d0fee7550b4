"""Writing many rows at once, the fastest way each database has."""

import json

from django.db import connection, models


def rows_insert(
    model: type[models.Model], names: list[str], rows: list[list], *, ignore_conflicts=False
) -> None:
    """Many rows of one model, each a list of values in `names` order: COPY on PostgreSQL,
    bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql" or ignore_conflicts:
        model.objects.bulk_create(
            [model(**dict(zip(names, row, strict=True))) for row in rows],
            batch_size=1000,
            ignore_conflicts=ignore_conflicts,
        )
        return
    fields = {f.attname: f for f in model._meta.concrete_fields}
    json_at = [i for i, n in enumerate(names) if isinstance(fields[n], models.JSONField)]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(fields[n].column) for n in names)
    copy_sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN"
    dumps = json.dumps
    # cursor.copy is psycopg's own: without the wrapper a unique violation is a
    # psycopg.IntegrityError, which the batch's retry (django.db.IntegrityError) misses.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.copy(copy_sql) as copy,
    ):
        for row in rows:
            for i in json_at:
                row[i] = dumps(row[i])
            copy.write_row(row)
