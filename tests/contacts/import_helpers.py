"""Running files through the import pipeline in tests (PRODUCT I1–I7), as the pages do:
upload → configure → dry run → start → run, each step by its service in contacts.importing.jobs.
"""

import csv
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.importing import jobs
from contacts.models import ImportJob, ImportStatus, Lead


def csv_bytes(*rows: list[Any]) -> bytes:
    """A CSV file (header first) as a spreadsheet would save it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue().encode()


def upload(ws, actor, content: bytes, name: str = "leads.csv") -> ImportJob:
    return jobs.import_upload(workspace=ws, actor=actor, upload=SimpleUploadedFile(name, content))


def configure(
    job: ImportJob,
    actor=None,
    *,
    mapping: dict[str, str] | None = None,
    mode: str = "upsert",
    fill_blanks: bool = False,
    defaults: dict[str, Any] | None = None,
    new_fields: dict[str, dict] | None = None,
    opt_in_confirmed: bool = False,
) -> ImportJob:
    """The guessed mapping with `mapping` (header → target key) overriding it; the defaults
    the upload proposes, overridden by `defaults`."""
    keys = list(job.mapping)
    for header, key in (mapping or {}).items():
        keys[job.headers.index(header)] = key
    return jobs.import_configure(
        job,
        actor=actor,
        mapping=keys,
        new_fields=new_fields,
        defaults={**job.defaults, **(defaults or {})},
        mode=mode,
        fill_blanks=fill_blanks,
        opt_in_confirmed=opt_in_confirmed,
    )


def check(job: ImportJob, actor=None) -> ImportJob:
    """The dry run, synchronously; the job comes back CHECKED with its summary."""
    job = jobs.import_check_start(job, actor=actor, enqueue=False)
    jobs.import_check_run(job.pk, job.run_token)
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKED, (job.status, job.error)
    return job


def start(job: ImportJob, actor=None) -> ImportJob:
    return jobs.import_start(job, actor=actor, enqueue=False)


def run(job: ImportJob) -> ImportJob:
    jobs.import_run_batches(job.pk, job.run_token)
    job.refresh_from_db()
    return job


def import_file(ws, actor, content: bytes, name: str = "leads.csv", **options: Any) -> ImportJob:
    """The whole pipeline; the job comes back ended (DONE unless something failed)."""
    job = configure(upload(ws, actor, content, name), actor, **options)
    job = check(job, actor)
    return run(start(job, actor))


def dry_run(ws, actor, content: bytes, name: str = "leads.csv", **options: Any) -> ImportJob:
    job = configure(upload(ws, actor, content, name), actor, **options)
    return check(job, actor)


def counts(job: ImportJob) -> dict[str, int]:
    """The real run's counts in the dry run's shape."""
    return {
        "rows": job.rows_done,
        "create": job.created,
        "update": job.updated,
        "unchanged": job.unchanged,
        "invalid": job.invalid,
        "skipped": dict(job.skip_reasons),
    }


def dry_counts(job: ImportJob) -> dict[str, Any]:
    summary = dict(job.dry_run)
    summary.pop("seconds", None)
    summary.pop("issues_listed", None)
    return summary


def lead(ws, email: str) -> Lead:
    return Lead.objects.get(workspace=ws, email__iexact=email, deleted_at__isnull=True)


def issues(job: ImportJob, *, dry_run: bool = False) -> list[tuple[int, str, str]]:
    """(row, column, reason) of every error-report line, in row order."""
    return list(
        job.issues.filter(dry_run=dry_run)
        .order_by("row_number", "id")
        .values_list("row_number", "column", "reason")
    )


def tag_names(lead: Lead) -> list[str]:
    return sorted(lead.tags.values_list("name", flat=True))
