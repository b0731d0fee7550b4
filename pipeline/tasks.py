"""Background work of the Pipeline pages. Tasks receive ids only, never personal data (C6)."""

from django_tasks import task

from contacts.services import leads_purge_trash


@task()
def trash_purge() -> int:
    """Delete for good the leads that have been in the trash longer than TRASH_DAYS (L6).

    Run daily (command `purge_trash`); idempotent, so a missed or repeated day does no harm.
    """
    return leads_purge_trash()
