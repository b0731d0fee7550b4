"""An import from upload to history (PRODUCT I1–I7): the services the pages and the
`import_leads` command call, and the runs the background tasks execute.

    import_upload → import_configure → import_check (dry run, background)
        → import_start → import_run (background, checkpointed) → history, error report, undo

A run reads the file in fixed batches of BATCH_SIZE rows; each batch commits atomically with
the job's checkpoint (batches_done), so a worker killed mid-batch leaves no half-written
rows, and a resumed run (import_resume_if_stale) replans the committed batches read-only to
rebuild its in-file duplicate map, then continues after them.
"""

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from contacts import scoring
from contacts.activities import id_chunks
from contacts.custom_fields import KEY_RE, custom_field_create
from contacts.export import csv_text
from contacts.importing import writer
from contacts.importing.mapping import mapping_guess
from contacts.importing.reading import cleaned_batches
from contacts.importing.rows import CleanRow, RowCleaner, RowInvalid
from contacts.importing.sources import SourceError, SourceInfo, source_detect, source_rows
from contacts.importing.targets import (
    CUSTOM_PREFIX,
    NEW_FIELD,
    SKIP,
    TARGETS_BY_KEY,
    Kind,
    targets_for,
)
from contacts.models import (
    Activity,
    ActivityType,
    ConsentStatus,
    CustomField,
    CustomFieldType,
    ImportIssue,
    ImportJob,
    ImportMode,
    ImportStatus,
)
from contacts.queries import suppression_hash
from leadcrm.audit import audit_record
from leadcrm.models import Membership, User, Workspace

BATCH_SIZE = 5000
DRY_RUN_ISSUE_LIMIT = 10_000  # the preview lists this many problems; counts cover them all
STALE_AFTER = timedelta(minutes=2)  # a running import without a heartbeat for this long resumes
ACTIVE = (ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.UNDOING)


# Files ----------------------------------------------------------------------------------------


def _job_path(job: ImportJob) -> Path:
    return Path(settings.IMPORT_DIR) / job.file_path


def _file_delete(job: ImportJob) -> None:
    if job.file_path:
        _job_path(job).unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job.pk).update(file_path="")
        job.file_path = ""


@transaction.atomic
def import_upload(*, workspace: Workspace, actor: User | None, upload: UploadedFile) -> ImportJob:
    """Store the upload (streamed in chunks) and read its header; SourceError if unreadable."""
    name = os.path.basename(upload.name or "upload")[:255]
    if upload.size is not None and upload.size > settings.IMPORT_MAX_UPLOAD_BYTES:
        raise SourceError(f"“{name}” is larger than the most this workspace accepts in one file.")
    relative = Path(str(workspace.pk)) / f"{uuid.uuid4().hex}{Path(name).suffix.lower()[:10]}"
    path = Path(settings.IMPORT_DIR) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    try:
        info = source_detect(path, file_name=name)
    except BaseException:  # unreadable (SourceError) or anything else: keep no orphan file
        path.unlink(missing_ok=True)
        raise
    custom = custom_fields_for(workspace)
    job = ImportJob.objects.create(
        workspace=workspace,
        created_by=actor,
        file_name=name,
        file_path=str(relative),
        file_size=path.stat().st_size,
        file_kind=info.kind,
        file_info=info.as_json(),
        headers=info.headers,
        mapping=mapping_guess(info.headers, targets_for(custom)),
        defaults={"status": "new", "consent_status": "unknown", "consent_type": "imported"},
    )
    audit_record(
        actor=actor,
        workspace=workspace,
        action="import.upload",
        obj=job,
        changes={"file_name": name, "size": job.file_size, "kind": info.kind},
    )
    return job


def import_sample(job: ImportJob, limit: int = 5) -> list[tuple[int, list[str]]]:
    """The first data rows as they are in the file (for the mapping page)."""
    if not job.file_path:
        return []
    rows = []
    try:
        for row in source_rows(_job_path(job), SourceInfo.from_json(job.file_info)):
            rows.append(row)
            if len(rows) >= limit:
                break
    except SourceError:
        pass  # the rows before the damage; the dry run reports it (job.error)
    return rows


# Settings -------------------------------------------------------------------------------------


def custom_fields_for(workspace: Workspace | int) -> list[CustomField]:
    return list(CustomField.objects.for_workspace(workspace).active())


def members_lookup(workspace: Workspace | int) -> dict[str, int]:
    """casefolded email and full name → user id, for Owner cells and the owner default."""
    lookup: dict[str, int] = {}
    members = Membership.objects.filter(workspace=workspace).select_related("user")
    for membership in members:
        user = membership.user
        lookup[user.email.casefold()] = user.pk
        name = " ".join(user.get_full_name().split())
        if name:
            lookup.setdefault(name.casefold(), user.pk)
    return lookup


def _new_field_clean(
    raw: dict, existing: set[str], taken: set[str], errors: list[str]
) -> dict | None:
    key = str(raw.get("key", "")).strip()
    label = str(raw.get("label", "")).strip() or key.replace("_", " ").capitalize()
    type_ = str(raw.get("type", "text"))
    choices = [c.strip() for c in str(raw.get("choices", "")).split(",") if c.strip()]
    if not KEY_RE.match(key):
        errors.append(
            f"“{key or '(blank)'}” is not a usable key for a new field: use lowercase "
            "letters, digits and underscores, starting with a letter."
        )
        return None
    if key in existing or key in taken:
        errors.append(f"A field with the key “{key}” already exists; map the column to it.")
        return None
    if type_ not in CustomFieldType.values:
        errors.append(f"Choose a type for the new field “{label}”.")
        return None
    if type_ == CustomFieldType.CHOICE and not choices:
        errors.append(f"The choice field “{label}” needs its choices, separated by commas.")
        return None
    taken.add(key)
    return {"key": key, "label": label[:100], "type": type_, "choices": choices}


def defaults_clean(workspace: Workspace, raw: dict[str, Any]) -> dict[str, Any]:
    """The defaults for blank cells (I3), validated like cells; ValidationError lists problems."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key in ("status", "consent_status", "consent_type", "gdpr_basis"):
        value = str(raw.get(key) or "")
        if value and value not in dict(TARGETS_BY_KEY[key].choices):
            errors[key] = ["Choose one of the values offered."]
        elif value:
            cleaned[key] = value
    if cleaned.get("status") == "unsubscribed":
        errors["status"] = ["An import cannot mark every lead unsubscribed by default."]
    if cleaned.get("consent_status") == ConsentStatus.OPTED_OUT:
        errors["consent_status"] = ["Use the Unsubscribes tools to opt people out in bulk."]
    for key, limit in (("source", 100), ("consent_source", 200)):
        value = " ".join(str(raw.get(key) or "").split())
        if len(value) > limit:
            errors[key] = [f"Use at most {limit} characters."]
        elif value:
            cleaned[key] = value
    owner = str(raw.get("owner") or "").strip()
    if owner:
        members = members_lookup(workspace)
        user_id = members.get(owner.casefold())
        if user_id is None and owner.isdigit() and int(owner) in members.values():
            user_id = int(owner)
        if user_id is None:
            errors["owner"] = ["Choose a member of this workspace."]
        else:
            cleaned["owner_id"] = user_id
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split(",")
    tags = [" ".join(str(t).split()) for t in tags if str(t).strip()]
    if any(len(t) > 60 for t in tags):
        errors["tags"] = ["A tag can have at most 60 characters."]
    elif tags:
        cleaned["tags"] = tags
    if cleaned.get("consent_status") == ConsentStatus.OPTED_IN and not cleaned.get(
        "consent_source"
    ):
        errors["consent_source"] = ["Say where the consent of these people comes from."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def needs_opt_in_confirmation(job: ImportJob) -> bool:
    """Seed 003's warning: importing people as Opted In needs an explicit confirmation."""
    return job.defaults.get("consent_status") == ConsentStatus.OPTED_IN or (
        "consent_status" in job.mapping
    )


@transaction.atomic
def import_configure(
    job: ImportJob,
    *,
    actor: User | None,
    mapping: list[str],
    new_fields: dict[str, dict] | None = None,
    defaults: dict[str, Any] | None = None,
    mode: str = ImportMode.UPSERT,
    fill_blanks: bool = False,
    opt_in_confirmed: bool = False,
) -> ImportJob:
    """Save the mapping, defaults and mode; any change sends the job back to its dry run."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportStatus.MAPPING, ImportStatus.CHECKED, ImportStatus.CHECKING):
        raise ValidationError("This import has started; its settings can no longer change.")
    errors: dict[str, list[str]] = {}
    mapping = [str(m or "") for m in mapping]
    if len(mapping) != len(job.headers):
        raise ValidationError("The mapping does not match the file's columns.")
    custom_keys = {f.key for f in custom_fields_for(job.workspace_id)}
    all_keys = set(
        CustomField.objects.for_workspace(job.workspace_id).values_list("key", flat=True)
    )
    seen: dict[str, str] = {}
    mapping_errors: list[str] = []
    cleaned_new: dict[str, dict] = {}
    taken: set[str] = set()
    for index, key in enumerate(mapping):
        header = job.headers[index]
        if key in (SKIP, NEW_FIELD):
            if key == NEW_FIELD:
                raw = (new_fields or {}).get(str(index)) or {}
                spec = _new_field_clean(raw, all_keys, taken, mapping_errors)
                if spec:
                    cleaned_new[str(index)] = spec
            continue
        if key.startswith(CUSTOM_PREFIX):
            valid = key.removeprefix(CUSTOM_PREFIX) in custom_keys
        else:
            valid = key in TARGETS_BY_KEY
        if not valid:
            mapping_errors.append(f"“{header}”: choose a field from the list.")
        elif key in seen:
            mapping_errors.append(
                f"“{header}” and “{seen[key]}” are both mapped to the same field."
            )
        else:
            seen[key] = header
    if "email" not in seen:
        mapping_errors.append("Map a column to Email: it is how leads are matched.")
    if mapping_errors:
        errors["mapping"] = mapping_errors
    if mode not in ImportMode.values:
        errors["mode"] = ["Choose create, update or both."]
    try:
        cleaned_defaults = defaults_clean(job.workspace, defaults or {})
    except ValidationError as error:
        errors.update(error.message_dict)
        cleaned_defaults = {}
    if errors:
        raise ValidationError(errors)
    job.mapping, job.new_fields, job.defaults = mapping, cleaned_new, cleaned_defaults
    job.mode, job.fill_blanks = mode, bool(fill_blanks)
    job.opt_in_confirmed = bool(opt_in_confirmed)
    if needs_opt_in_confirmation(job) and not job.opt_in_confirmed:
        raise ValidationError(
            {
                "opt_in_confirmed": [
                    "Importing people as Opted In without their actual consent violates CASL "
                    "and GDPR. Confirm that you hold their consent, or import them as Unknown "
                    "with consent type Imported and verify consent before mailing them."
                ]
            }
        )
    job.status, job.dry_run, job.rows_done = ImportStatus.MAPPING, {}, 0
    job.run_token = ""
    job.save()
    ImportIssue.objects.filter(job=job, dry_run=True).delete()
    return job


# Cleaning -------------------------------------------------------------------------------------


def _effective_fields(job: ImportJob) -> tuple[list[str], list[CustomField]]:
    """The mapping with new fields as cf.<key>, and the custom fields it uses (new ones
    unsaved until the import starts)."""
    custom = custom_fields_for(job.workspace_id)
    mapping = list(job.mapping)
    for index, spec in job.new_fields.items():
        mapping[int(index)] = CUSTOM_PREFIX + spec["key"]
        if not any(f.key == spec["key"] for f in custom):
            custom.append(
                CustomField(
                    workspace_id=job.workspace_id,
                    key=spec["key"],
                    label=spec["label"],
                    type=spec["type"],
                    choices=spec.get("choices", []),
                )
            )
    return mapping, custom


def _cleaner_args(job: ImportJob) -> dict[str, Any]:
    """What a RowCleaner for this import is built from, as plain (picklable) data."""
    mapping, custom = _effective_fields(job)
    return {
        "headers": job.headers,
        "mapping": mapping,
        "custom_fields": [
            {"key": f.key, "label": f.label, "type": f.type, "choices": f.choices} for f in custom
        ],
        "members": members_lookup(job.workspace_id),
        "defaults": job.defaults,
    }


def _cleaner(job: ImportJob) -> RowCleaner:
    return RowCleaner.from_args(_cleaner_args(job))


@dataclass
class PreviewRow:
    row_number: int
    cells: list[tuple[str, str, bool]]  # (target label, value as stored, from the defaults)
    problems: list[tuple[str, str]]


def import_preview(job: ImportJob, limit: int = 10) -> tuple[list[str], list[PreviewRow]]:
    """The first rows as they will be stored (I4): column labels and one PreviewRow each."""
    mapping, custom = _effective_fields(job)
    labels: dict[str, str] = {t.key: t.label for t in targets_for(custom)}
    cleaner = _cleaner(job)
    shown = [key for key in dict.fromkeys(mapping) if key]
    defaulted = [
        k for k in ("status", "source", "owner", "tags", "consent_status") if k not in shown
    ]
    columns = [labels.get(k, k) for k in shown] + [labels[k] for k in defaulted]
    owner_names = {v: k for k, v in members_lookup(job.workspace_id).items() if "@" in k}
    rows = []
    for row_number, values in import_sample(job, limit):
        try:
            row = cleaner.clean(row_number, values)
        except RowInvalid as error:
            rows.append(PreviewRow(row_number, [], [(p.column, p.reason) for p in error.problems]))
            continue
        cells = [(labels.get(k, k), _display(row, k, owner_names), False) for k in shown]
        for key in defaulted:
            cells.append((labels[key], _default_display(job, key, owner_names), True))
        rows.append(PreviewRow(row_number, cells, []))
    return columns, rows


def _display(row: CleanRow, key: str, owner_names: dict[int, str]) -> str:
    if key == "email":
        return row.email
    if key == "secondary_emails":
        return "; ".join(row.secondary_emails)
    if key == "full_name":
        return " ".join(filter(None, [row.fields.get("first_name"), row.fields.get("last_name")]))
    if key == "company":
        return row.company
    if key == "owner":
        return owner_names.get(row.owner_id, "")
    if key == "tags":
        return ", ".join(row.tags)
    if key.startswith(CUSTOM_PREFIX):
        value = row.attributes.get(key.removeprefix(CUSTOM_PREFIX), "")
    else:
        value = row.fields.get(key, row.consent.get(key, ""))
    target = TARGETS_BY_KEY.get(key)
    if target and target.kind == Kind.CHOICE and value:
        return dict(target.choices).get(value, value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value) if value is not None else ""


def _default_display(job: ImportJob, key: str, owner_names: dict[int, str]) -> str:
    defaults = job.defaults
    if key == "owner":
        return owner_names.get(defaults.get("owner_id"), "")
    if key == "tags":
        return ", ".join(defaults.get("tags", []))
    value = defaults.get(key, "")
    target = TARGETS_BY_KEY[key]
    return dict(target.choices).get(value, value) if target.choices else value


# Runs -----------------------------------------------------------------------------------------


def _batches(job: ImportJob) -> Iterator[tuple[list[CleanRow], list[RowInvalid], int]]:
    """The file's batches of BATCH_SIZE data rows, cleaned ahead of their writing."""
    info = SourceInfo.from_json(job.file_info)
    return cleaned_batches(_job_path(job), info, _cleaner_args(job), BATCH_SIZE)


def _context(job: ImportJob) -> writer.ImportContext:
    rules = scoring.rules_for(job.workspace_id)
    effect = scoring.activity_effect(rules, Activity(type=ActivityType.IMPORTED))
    return writer.ImportContext(
        workspace=job.workspace,
        actor=job.created_by,
        job=job,
        mode=job.mode,
        fill_blanks=job.fill_blanks,
        defaults=job.defaults,
        label=f"Import of {job.file_name}"[:200],
        imported_effect=effect,
        match_columns=writer.match_columns(_effective_fields(job)[0]),
    )


def _invalid_issues(
    job: ImportJob, invalid: list[RowInvalid], *, dry_run: bool
) -> list[ImportIssue]:
    # The row's email as written, hashed: erasure (C6) finds the row by it, valid or not.
    column = job.mapping.index("email") if "email" in job.mapping else None
    issues = []
    for error in invalid:
        email = ""
        if column is not None and column < len(error.values):
            email = str(error.values[column] or "").strip()
        email_hash = suppression_hash(email) if email else ""
        issues.extend(
            ImportIssue(
                job=job,
                dry_run=dry_run,
                row_number=error.row_number,
                kind=ImportIssue.Kind.INVALID,
                column=problem.column[:255],
                reason=problem.reason[:500],
                email_hash=email_hash,
                values=error.values,
            )
            for problem in error.problems
        )
    return issues


def import_check_start(job: ImportJob, *, actor: User | None, enqueue: bool = True) -> ImportJob:
    """Start the dry run of the whole file (I4) in the background (or, for the command, let
    the caller run import_check_run itself)."""
    from contacts.tasks import import_check

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status not in (ImportStatus.MAPPING, ImportStatus.CHECKED):
            raise ValidationError("This import is already being checked or has started.")
        token = secrets.token_hex(8)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.CHECKING,
            run_token=token,
            rows_done=0,
            dry_run={},
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        ImportIssue.objects.filter(job=job, dry_run=True).delete()
        if enqueue:
            transaction.on_commit(lambda: import_check.enqueue(job.pk, token))
    job.refresh_from_db()
    return job


def import_check_run(job_id: int, token: str) -> None:
    """The dry run: every row cleaned and planned, nothing written but the summary."""
    job = ImportJob.objects.select_related("workspace", "created_by").get(pk=job_id)
    if job.status != ImportStatus.CHECKING or job.run_token != token:
        return
    started = time.monotonic()
    ctx = _context(job)
    summary: dict[str, Any] = {
        "rows": 0,
        "create": 0,
        "update": 0,
        "unchanged": 0,
        "invalid": 0,
        "skipped": {},
    }
    stored = 0
    try:
        for valid, invalid, count in _batches(job):
            decisions = writer.batch_plan(ctx, valid)
            summary["rows"] += count
            summary["invalid"] += len(invalid)
            for d in decisions:
                if d.action == writer.SKIP:
                    summary["skipped"][d.reason] = summary["skipped"].get(d.reason, 0) + 1
                else:
                    summary[d.action] += 1
            if stored < DRY_RUN_ISSUE_LIMIT:
                issues = _invalid_issues(job, invalid, dry_run=True)
                skips = [d for d in decisions if d.action == writer.SKIP]
                issues += writer.issues_for(ctx, skips, dry_run=True)
                issues = sorted(issues, key=lambda i: i.row_number)[: DRY_RUN_ISSUE_LIMIT - stored]
                ImportIssue.objects.bulk_create(issues, batch_size=2000)
                stored += len(issues)
            updated = ImportJob.objects.filter(
                pk=job.pk, status=ImportStatus.CHECKING, run_token=token
            ).update(rows_done=summary["rows"], heartbeat_at=timezone.now())
            if not updated:
                return  # reconfigured or cancelled meanwhile
    except SourceError as error:
        ImportJob.objects.filter(pk=job.pk, run_token=token).update(
            status=ImportStatus.MAPPING, error=str(error), dry_run={}
        )
        return
    summary["seconds"] = round(time.monotonic() - started, 2)
    summary["issues_listed"] = stored
    ImportJob.objects.filter(pk=job.pk, status=ImportStatus.CHECKING, run_token=token).update(
        status=ImportStatus.CHECKED,
        dry_run=summary,
        rows_total=summary["rows"],
        rows_done=summary["rows"],
        heartbeat_at=timezone.now(),
        error="",
    )


def import_to_write(job: ImportJob) -> int:
    """How many leads the dry run says the import creates or updates (the button's N)."""
    return int(job.dry_run.get("create", 0)) + int(job.dry_run.get("update", 0))


def import_start(job: ImportJob, *, actor: User | None, enqueue: bool = True) -> ImportJob:
    """Create the new custom fields and queue the import itself (I6)."""
    from contacts.tasks import import_run

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportStatus.CHECKED:
            raise ValidationError("Check the file (the preview) before importing it.")
        if needs_opt_in_confirmation(job) and not job.opt_in_confirmed:
            raise ValidationError("Confirm the consent of people imported as Opted In.")
        existing = {f.key for f in CustomField.objects.for_workspace(job.workspace_id)}
        mapping = list(job.mapping)
        for index, spec in job.new_fields.items():
            if spec["key"] not in existing:
                custom_field_create(
                    workspace=job.workspace,
                    actor=actor,
                    key=spec["key"],
                    label=spec["label"],
                    type=spec["type"],
                    choices=spec.get("choices", []),
                )
            mapping[int(index)] = CUSTOM_PREFIX + spec["key"]
        job.mapping, job.new_fields = mapping, {}
        job.status, job.run_token = ImportStatus.QUEUED, secrets.token_hex(8)
        job.rows_done = job.batches_done = 0
        job.started_at, job.heartbeat_at = timezone.now(), timezone.now()
        job.save()
        ImportIssue.objects.filter(job=job, dry_run=True).delete()
        audit_record(
            actor=actor,
            workspace=job.workspace,
            action="import.start",
            obj=job,
            changes={
                "file_name": job.file_name,
                "mode": job.mode,
                "fill_blanks": job.fill_blanks,
                "mapping": dict(zip(job.headers, job.mapping, strict=True)),
                "defaults": job.defaults,
            },
        )
        token = job.run_token
        if enqueue:
            transaction.on_commit(lambda: import_run.enqueue(job.pk, token))
    return job


class _Superseded(Exception):
    """The job was cancelled, or another run took it over (stale resume)."""


def import_run_batches(job_id: int, token: str) -> None:
    """The import itself: every batch atomic with its checkpoint; resumes after the last one."""
    job = ImportJob.objects.select_related("workspace", "created_by").get(pk=job_id)
    if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING) or job.run_token != token:
        return
    ImportJob.objects.filter(pk=job.pk, run_token=token).update(
        status=ImportStatus.RUNNING, heartbeat_at=timezone.now()
    )
    ctx = _context(job)
    try:
        for number, (valid, invalid, count) in enumerate(_batches(job)):
            if number < job.batches_done:
                writer.batch_plan(ctx, valid)  # committed already: only rebuild the seen-maps
                _replan_heartbeat(job, token)  # a long replan must not look like a dead worker
                continue
            _batch_commit(job, token, ctx, number, valid, invalid, count)
    except _Superseded:
        return
    except SourceError as error:
        _finish(job, token, ImportStatus.FAILED, str(error))
        return
    except Exception as error:
        _finish(job, token, ImportStatus.FAILED, f"The import stopped: {error}"[:2000])
        raise
    _finish(job, token, ImportStatus.DONE, "")


def _replan_heartbeat(job: ImportJob, token: str) -> None:
    alive = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, run_token=token)
    if not alive.update(heartbeat_at=timezone.now()):
        raise _Superseded


def _batch_commit(job, token, ctx, number, valid, invalid, count) -> None:
    for attempt in range(3):
        ctx.mark()
        try:
            with transaction.atomic():
                locked = ImportJob.objects.select_for_update().get(pk=job.pk)
                if locked.status != ImportStatus.RUNNING or locked.run_token != token:
                    raise _Superseded
                decisions = writer.batch_plan(ctx, valid)
                outcome = writer.batch_apply(ctx, decisions, number=number)
                ImportIssue.objects.bulk_create(
                    _invalid_issues(job, invalid, dry_run=False), batch_size=2000
                )
                reasons = dict(locked.skip_reasons)
                for reason, n in outcome.skipped.items():
                    reasons[reason] = reasons.get(reason, 0) + n
                ImportJob.objects.filter(pk=job.pk).update(
                    rows_done=F("rows_done") + count,
                    batches_done=number + 1,
                    created=F("created") + len(outcome.created_ids),
                    updated=F("updated") + len(outcome.updated_ids),
                    unchanged=F("unchanged") + outcome.unchanged,
                    skipped=F("skipped") + sum(outcome.skipped.values()),
                    invalid=F("invalid") + len(invalid),
                    skip_reasons=reasons,
                    heartbeat_at=timezone.now(),
                )
            return
        except IntegrityError:
            # Someone wrote one of these emails meanwhile: plan the batch again.
            ctx.rollback()
            if attempt == 2:
                raise
        except BaseException:
            ctx.rollback()
            raise


def _finish(job: ImportJob, token: str, status: str, error: str) -> None:
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.run_token != token or locked.status not in (
            ImportStatus.RUNNING,
            ImportStatus.QUEUED,
        ):
            return
        locked.status, locked.error, locked.finished_at = status, error, timezone.now()
        locked.save(update_fields=["status", "error", "finished_at"])
        audit_record(
            actor=locked.created_by,
            workspace=locked.workspace,
            action="import.finish" if status == ImportStatus.DONE else "import.fail",
            obj=locked,
            changes={
                "created": locked.created,
                "updated": locked.updated,
                "unchanged": locked.unchanged,
                "skipped": locked.skipped,
                "invalid": locked.invalid,
                "error": error,
            },
        )
    _file_delete(locked)


@transaction.atomic
def import_discard(job: ImportJob, *, actor: User | None = None) -> None:
    """Forget an import that never started: its file and its row."""
    job = ImportJob.objects.select_for_update().filter(pk=job.pk).first()  # started since?
    if job is None:  # discarded twice (a double-click): already gone
        return
    if job.status not in (ImportStatus.MAPPING, ImportStatus.CHECKING, ImportStatus.CHECKED):
        raise ValidationError("Only an import that has not started can be discarded.")
    audit_record(
        actor=actor,
        workspace=job.workspace,
        action="import.discard",
        obj=job,
        changes={"status": job.status, "rows": job.rows_total},
    )
    _file_delete(job)
    ImportJob.objects.filter(pk=job.pk).delete()


@transaction.atomic
def import_cancel(job: ImportJob, *, actor: User | None) -> ImportJob:
    """Stop an import; what committed stays (and can be undone), the file is deleted."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.UNDONE):
        raise ValidationError("This import has already ended.")
    if job.status == ImportStatus.UNDOING:  # cancelling would abandon the undo midway
        raise ValidationError("This import is being undone.")
    if job.status == ImportStatus.CANCELLED:
        return job
    job.status, job.finished_at, job.run_token = ImportStatus.CANCELLED, timezone.now(), ""
    job.save(update_fields=["status", "finished_at", "run_token"])
    audit_record(actor=actor, workspace=job.workspace, action="import.cancel", obj=job)
    transaction.on_commit(lambda: _file_delete(job))
    return job


def import_resume_if_stale(job: ImportJob) -> bool:
    """A run whose worker died (no heartbeat for STALE_AFTER) starts again from its checkpoint."""
    from contacts.tasks import import_check, import_run, import_undo

    if job.status not in ACTIVE:
        return False
    cutoff = timezone.now() - STALE_AFTER
    if job.heartbeat_at and job.heartbeat_at > cutoff:
        return False
    token = secrets.token_hex(8)
    updated = ImportJob.objects.filter(
        pk=job.pk, status=job.status, run_token=job.run_token
    ).update(run_token=token, heartbeat_at=timezone.now())
    if not updated:
        return False
    task = {
        ImportStatus.CHECKING: import_check,
        ImportStatus.UNDOING: import_undo,  # one transaction: running it again is safe
    }.get(job.status, import_run)
    if job.status == ImportStatus.CHECKING:
        ImportIssue.objects.filter(job=job, dry_run=True).delete()
        ImportJob.objects.filter(pk=job.pk).update(rows_done=0)
    transaction.on_commit(lambda: task.enqueue(job.pk, token))
    job.refresh_from_db()
    return True


@dataclass
class Progress:
    rows_done: int
    rows_total: int | None
    percent: int
    rows_per_second: float
    eta_seconds: int | None
    reasons: dict[str, int] = field(default_factory=dict)


def import_progress(job: ImportJob) -> Progress:
    total = job.rows_total
    percent = min(100, int(job.rows_done * 100 / total)) if total else 0
    rate = 0.0
    if job.started_at and job.heartbeat_at and job.rows_done:
        seconds = (job.heartbeat_at - job.started_at).total_seconds()
        rate = job.rows_done / seconds if seconds > 0 else 0.0
    eta = int((total - job.rows_done) / rate) if rate and total else None
    if job.status in (ImportStatus.DONE, ImportStatus.CHECKED):
        percent, eta = 100, 0
    return Progress(job.rows_done, total, percent, round(rate), eta, dict(job.skip_reasons))


# Error report ---------------------------------------------------------------------------------


def import_error_report(job: ImportJob, *, dry_run: bool = False) -> Iterator[str]:
    """CSV of the rows not imported: the original cells, then row number, column and reason.

    One line per problem, in row order; fix the cells and import the file again.
    """

    issues = (
        ImportIssue.objects.filter(job=job, dry_run=dry_run)
        .order_by("row_number", "id")
        .values_list("values", "row_number", "column", "reason")
    )
    width = len(job.headers)
    rows = (
        [*(list(values) + [""] * width)[:width], row_number, column, reason]
        for values, row_number, column, reason in issues.iterator(chunk_size=2000)
    )
    return csv_text([*job.headers, "Row", "Column", "Problem"], rows)


def import_issues_erase(*, workspace, lead_ids: list[int], email_hashes: list[str]) -> dict:
    """Erasure handler (C6): delete the error-report rows that name an erased lead or carry
    one of the erased addresses, in dry runs and runs alike."""
    issues = ImportIssue.objects.filter(job__workspace=workspace)
    erased = 0
    for chunk in id_chunks(lead_ids):
        erased += issues.filter(lead_id__anyof=chunk).delete()[0]
    for chunk in id_chunks(email_hashes):
        erased += issues.filter(email_hash__anyof=chunk).delete()[0]
    return {"import error-report rows": erased} if erased else {}
