"""Background work of the Pipeline pages. Tasks receive ids only, never personal data (C6)."""

from django_tasks import task

from contacts.services import leads_purge_trash
from pipeline.exports import export_job_run, export_jobs_purge


@task()
def trash_purge() -> int:
    """Delete for good the leads that have been in the trash longer than TRASH_DAYS (L6).

    Run daily (command `purge_trash`); idempotent, so a missed or repeated day does no harm.
    """
    return leads_purge_trash()


@task()
def export_run(job_id: int) -> None:
    """Build the file of a background export (I8); the job says what to export and for whom."""
    export_job_run(job_id)


@task()
def exports_purge() -> int:
    """Delete the exports older than EXPORT_KEEP_DAYS, files and rows.

    Run daily (command `purge_exports`); idempotent like the trash purge.
    """
    return export_jobs_purge()
