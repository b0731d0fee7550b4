from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from contacts.importing.jobs import (
    import_check_run,
    import_check_start,
    import_configure,
    import_discard,
    import_run_batches,
    import_start,
    import_upload,
)
from contacts.importing.sources import SourceError
from contacts.importing.targets import SKIP
from contacts.models import ImportMode, ImportStatus
from leadcrm.models import Membership, Workspace


class Command(BaseCommand):
    help = (
        "Import leads from a CSV, XLSX or vCard file through the same pipeline as "
        "Pipeline → Import (PRODUCT 13): mapping guessed from the headers, dry run, then the "
        "import in checkpointed batches. Prints the summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The file to import.")
        parser.add_argument("--workspace", required=True, help="Slug of the workspace.")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.UPSERT)
        parser.add_argument(
            "--fill-blanks", action="store_true", help="Updates never overwrite a non-empty value."
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COL=FIELD",
            help="Map a column (header or 1-based number) to a field: email, first_name, "
            "cf.<key>, or skip. Repeatable; unmapped columns keep the guessed mapping.",
        )
        parser.add_argument(
            "--default",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A default for blank cells: status, source, owner (email), tags (comma-"
            "separated), consent_status, consent_type, consent_source, gdpr_basis.",
        )
        parser.add_argument(
            "--confirm-opt-in",
            action="store_true",
            help="Confirm that people imported as Opted In gave their consent.",
        )
        parser.add_argument("--as", dest="actor", help="Email of the member doing the import.")
        parser.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")

    def handle(self, *args, file, workspace, mode, fill_blanks, map, default, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file {file}.")
        try:
            ws = Workspace.objects.get(slug=workspace)
        except Workspace.DoesNotExist:
            raise CommandError(f"No workspace with slug “{workspace}”.") from None
        actor = None
        if options["actor"]:
            membership = Membership.objects.filter(
                workspace=ws, user__email__iexact=options["actor"]
            ).first()
            if membership is None:
                raise CommandError(f"{options['actor']} is not a member of {ws.name}.")
            actor = membership.user
        try:
            with path.open("rb") as handle:
                job = import_upload(workspace=ws, actor=actor, upload=File(handle, name=path.name))
        except SourceError as error:
            raise CommandError(str(error)) from None
        try:
            self._run(job, actor, mode, fill_blanks, map, default, options)
        finally:
            job.refresh_from_db()
            if job.status in (ImportStatus.MAPPING, ImportStatus.CHECKED, ImportStatus.CHECKING):
                import_discard(job)  # a dry run (or a refused one) leaves no history

    def _run(self, job, actor, mode, fill_blanks, maps, defaults_given, options):
        mapping = self._mapping(job, maps)
        defaults = dict(job.defaults)
        for item in defaults_given:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--default {item}: use KEY=VALUE.")
            defaults[key.strip()] = value.strip()
        if "owner_id" in defaults:
            defaults.pop("owner_id")
        try:
            job = import_configure(
                job,
                actor=actor,
                mapping=mapping,
                defaults=defaults,
                mode=mode,
                fill_blanks=fill_blanks,
                opt_in_confirmed=options["confirm_opt_in"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        for header, key in zip(job.headers, job.mapping, strict=True):
            self.stdout.write(f"  {header} → {key or '(skip)'}")
        job = import_check_start(job, actor=actor, enqueue=False)
        import_check_run(job.pk, job.run_token)
        job.refresh_from_db()
        if job.status != ImportStatus.CHECKED:
            raise CommandError(job.error or "The file could not be checked.")
        summary = job.dry_run
        skipped = ", ".join(f"{n:,} {reason.lower()}" for reason, n in summary["skipped"].items())
        self.stdout.write(
            f"Dry run: {summary['rows']:,} rows: {summary['create']:,} to create, "
            f"{summary['update']:,} to update, {summary['unchanged']:,} unchanged, "
            f"{sum(summary['skipped'].values()):,} to skip{f' ({skipped})' if skipped else ''}, "
            f"{summary['invalid']:,} invalid ({summary['seconds']} s)."
        )
        if options["dry_run"]:
            return
        job = import_start(job, actor=actor, enqueue=False)
        import_run_batches(job.pk, job.run_token)
        job.refresh_from_db()
        if job.status != ImportStatus.DONE:
            raise CommandError(job.error or f"The import ended as {job.get_status_display()}.")
        seconds = max((job.finished_at - job.started_at).total_seconds(), 1e-9)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported: {job.created:,} created, {job.updated:,} updated, "
                f"{job.unchanged:,} unchanged, {job.skipped:,} skipped, {job.invalid:,} invalid "
                f"in {seconds:.1f} s ({job.rows_done / seconds:,.0f} rows/s). Import #{job.pk}."
            )
        )

    def _mapping(self, job, maps: list[str]) -> list[str]:
        mapping = list(job.mapping)
        for item in maps:
            column, sep, target = item.partition("=")
            if not sep:
                raise CommandError(f"--map {item}: use COL=FIELD.")
            column, target = column.strip(), target.strip()
            if column.isdigit() and 1 <= int(column) <= len(job.headers):
                index = int(column) - 1
            else:
                matches = [
                    i for i, h in enumerate(job.headers) if h.casefold() == column.casefold()
                ]
                if not matches:
                    raise CommandError(f"--map {item}: the file has no column “{column}”.")
                index = matches[0]
            mapping[index] = SKIP if target.lower() == "skip" else target
        return mapping
