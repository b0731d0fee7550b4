"""PostgreSQL-only indexes: trigram search over search_text, JSON containment on attributes.

The leads search runs `search_text LIKE '%term%'` on an already case-folded column, so a
plain gin_trgm_ops index on the column is what the query uses (not UPPER(…)).
"""

from django.db import migrations

from leadcrm.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [
        PostgresOnlySQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            migrations.RunSQL.noop,
        ),
        PostgresOnlySQL(
            "CREATE INDEX lead_search_trgm ON contacts_lead "
            "USING gin (search_text gin_trgm_ops) WHERE deleted_at IS NULL",
            "DROP INDEX IF EXISTS lead_search_trgm",
        ),
        PostgresOnlySQL(
            "CREATE INDEX lead_attributes_gin ON contacts_lead "
            "USING gin (attributes jsonb_path_ops) WHERE deleted_at IS NULL",
            "DROP INDEX IF EXISTS lead_attributes_gin",
        ),
        PostgresOnlySQL(
            "CREATE INDEX lead_secondary_emails_gin ON contacts_lead "
            "USING gin (secondary_emails jsonb_path_ops) WHERE deleted_at IS NULL",
            "DROP INDEX IF EXISTS lead_secondary_emails_gin",
        ),
    ]
