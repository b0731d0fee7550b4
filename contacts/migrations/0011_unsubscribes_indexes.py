"""PostgreSQL-only covering indexes for the Unsubscribes page (PRODUCT C3).

The page joins the workspace's opt-out consent events to its unsubscribed live leads. These
two partial indexes hold every column that join, its filters and sorts read, so a page's ids
come from index-only scans of a few megabytes at a million leads, whatever the page number:
- consent_ws_opted_out: a workspace's opt-outs, newest first, with their lead and channel;
- lead_ws_unsubscribed: a workspace's unsubscribed live leads, with their copy of the latest
  consent event (status, time: which opt-out is the latest), owner, and the sorted names.
"""

from django.db import migrations

from leadcrm.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [("contacts", "0010_import_issue_email_hash")]

    operations = [
        PostgresOnlySQL(
            "CREATE INDEX consent_ws_opted_out ON contacts_consentevent "
            "(workspace_id, occurred_at DESC, id DESC) INCLUDE (lead_id, channel) "
            "WHERE status = 'opted_out'",
            "DROP INDEX IF EXISTS consent_ws_opted_out",
        ),
        PostgresOnlySQL(
            "CREATE INDEX lead_ws_unsubscribed ON contacts_lead (workspace_id, id) "
            "INCLUDE (consent_status, consent_captured_at, owner_id, last_name, first_name, email) "
            "WHERE deleted_at IS NULL AND email_status = 'unsubscribed'",
            "DROP INDEX IF EXISTS lead_ws_unsubscribed",
        ),
    ]
