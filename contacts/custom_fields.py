"""Custom fields (PRODUCT W5): their definitions, and the one validator of Lead.attributes.

Every path that writes Lead.attributes (lead services, import, bulk update, API, admin) passes
its values through attributes_clean(), so stored values always have one shape per type:
text → str, number → int or float, date → "YYYY-MM-DD", boolean → bool, choice → the choice.
"""

import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils.timezone import now

from contacts.models import CustomField, CustomFieldType, Lead
from contacts.tasks import custom_field_purge
from leadcrm.audit import audit_record
from leadcrm.models import User, Workspace

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}\Z")
KEY_MESSAGE = (
    "Use 1–50 lowercase letters, digits and underscores, starting with a letter "
    "(like “industry” or “annual_budget”)."
)
LABEL_MAX_LENGTH = 100
CHOICE_MAX_LENGTH = 100
TEXT_MAX_LENGTH = 1000
# Beyond 2**53 a JSON number stops being exact in SQLite's and browsers' doubles.
NUMBER_LIMIT = 10**15
# Plain decimals ("1234.5", "-3"); exponents too, since str() of a float may use one ("1e-05")
# and an exported value must import again. No thousands separators: "1,234" is ambiguous.
NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})


# Reads -------------------------------------------------------------------------------------


def attribute_equals(key: str, value: Any) -> Q:
    """A condition: custom field `key` holds `value` (a cleaned value)."""
    if connection.vendor == "postgresql":
        # Compiles to `attributes @> '{"key": value}'`, which the GIN index serves.
        return Q(attributes__contains={key: value})
    # SQLite has no JSON containment; a key lookup (json_extract) does the same job there.
    # The trailing __exact keeps a key named like a lookup ("contains") a key.
    return Q(**{f"attributes__{key}__exact": value})


def leads_with_attribute_value(workspace: Workspace | int, key: str, value: Any):
    """Live leads whose custom field `key` holds `value` (a cleaned value)."""
    return Lead.objects.for_workspace(workspace).alive().filter(attribute_equals(key, value))


# Definitions -------------------------------------------------------------------------------


def _label_clean(label: str, errors: dict[str, list[str]]) -> str:
    label = (label or "").strip()
    if not label:
        errors["label"] = ["Give the field a label."]
    elif len(label) > LABEL_MAX_LENGTH:
        errors["label"] = [f"Use at most {LABEL_MAX_LENGTH} characters."]
    return label


def _choices_clean(choices: Iterable[str], errors: dict[str, list[str]]) -> list[str]:
    cleaned: list[str] = []
    seen: set[str] = set()
    problems: list[str] = []
    for choice in choices:
        choice = str(choice).strip()
        if not choice:
            continue  # blank lines of the textarea
        if len(choice) > CHOICE_MAX_LENGTH:
            problems.append(f"“{choice[:30]}…” is longer than {CHOICE_MAX_LENGTH} characters.")
        elif choice.casefold() in seen:
            problems.append(f"“{choice}” is listed twice (choices ignore upper/lower case).")
        else:
            seen.add(choice.casefold())
            cleaned.append(choice)
    if not cleaned and not problems:
        problems.append("A choice field needs at least one choice.")
    if problems:
        errors["choices"] = problems
    return cleaned


def _key_clean(workspace: Workspace, key: str, errors: dict[str, list[str]]) -> str:
    key = (key or "").strip()
    if not KEY_RE.match(key):
        errors["key"] = [KEY_MESSAGE]
        return key
    taken = CustomField.objects.for_workspace(workspace).filter(key=key).first()
    if taken is not None and taken.deleting:
        errors["key"] = [
            f"The key “{key}” belongs to a field that is being deleted; it stays reserved "
            "until its values are removed from every lead. Choose another key, or try later."
        ]
    elif taken is not None and taken.is_retired:
        errors["key"] = [f"The retired field “{taken.label}” has the key “{key}”; restore it."]
    elif taken is not None:
        errors["key"] = [f"The field “{taken.label}” already has the key “{key}”."]
    return key


def _refuse_if_deleting(field: CustomField) -> None:
    if field.deleting:
        raise ValidationError(f"The field “{field.label}” is being deleted.")


@transaction.atomic
def custom_field_create(
    *,
    workspace: Workspace,
    actor: User | None,
    key: str,
    label: str,
    type: str,
    choices: Iterable[str] = (),
    required: bool = False,
) -> CustomField:
    errors: dict[str, list[str]] = {}
    key = _key_clean(workspace, key, errors)
    label = _label_clean(label, errors)
    if type not in CustomFieldType.values:
        errors["type"] = ["Choose one of the types offered."]
    cleaned_choices = _choices_clean(choices, errors) if type == CustomFieldType.CHOICE else []
    if errors:
        raise ValidationError(errors)
    last = CustomField.objects.for_workspace(workspace).aggregate(last=Max("position"))["last"]
    field = CustomField(
        workspace=workspace,
        key=key,
        label=label,
        type=type,
        choices=cleaned_choices,
        required=bool(required),
        position=(last or 0) + 1,
    )
    field.full_clean()
    try:
        with transaction.atomic():
            field.save()
    except IntegrityError:  # the same key created by someone else a moment ago
        raise ValidationError({"key": [f"A field with the key “{key}” already exists."]}) from None
    audit_record(
        actor=actor,
        workspace=workspace,
        action="custom_field.create",
        obj=field,
        changes={
            "key": [None, field.key],
            "label": [None, field.label],
            "type": [None, field.type],
            "choices": [None, field.choices],
            "required": [None, field.required],
        },
    )
    return field


@transaction.atomic
def custom_field_update(
    *,
    field: CustomField,
    actor: User | None,
    label: str,
    choices: Iterable[str],
    required: bool,
) -> CustomField:
    """Change what may change; the key and the type are fixed once created (W5)."""
    _refuse_if_deleting(field)
    errors: dict[str, list[str]] = {}
    label = _label_clean(label, errors)
    new_choices: list[str] = []
    if field.type == CustomFieldType.CHOICE:
        new_choices = _choices_clean(choices, errors)
        if "choices" not in errors:
            in_use = []
            for removed in (c for c in field.choices if c not in new_choices):
                count = leads_with_attribute_value(field.workspace_id, field.key, removed).count()
                if count:
                    leads = "lead uses" if count == 1 else "leads use"
                    in_use.append(f"“{removed}” cannot be removed: {count:,} {leads} it.")
            if in_use:
                errors["choices"] = in_use
    if errors:
        raise ValidationError(errors)
    changes = {}
    for name, new in [("label", label), ("choices", new_choices), ("required", bool(required))]:
        old = getattr(field, name)
        if old != new:
            changes[name] = [old, new]
            setattr(field, name, new)
    if changes:
        field.full_clean()
        field.save(update_fields=list(changes))
        audit_record(
            actor=actor,
            workspace=field.workspace,
            action="custom_field.update",
            obj=field,
            changes=changes,
        )
    return field


@transaction.atomic
def custom_field_retire(*, field: CustomField, actor: User | None) -> CustomField:
    """Hide the field everywhere; its values stay on the leads (W5)."""
    _refuse_if_deleting(field)
    if field.retired_at is None:
        field.retired_at = now()
        field.save(update_fields=["retired_at"])
        audit_record(
            actor=actor,
            workspace=field.workspace,
            action="custom_field.retire",
            obj=field,
            changes={"retired_at": [None, field.retired_at.isoformat()]},
        )
    return field


@transaction.atomic
def custom_field_restore(*, field: CustomField, actor: User | None) -> CustomField:
    _refuse_if_deleting(field)
    if field.retired_at is not None:
        old = field.retired_at
        field.retired_at = None
        field.save(update_fields=["retired_at"])
        audit_record(
            actor=actor,
            workspace=field.workspace,
            action="custom_field.restore",
            obj=field,
            changes={"retired_at": [old.isoformat(), None]},
        )
    return field


@transaction.atomic
def custom_field_move(
    *, field: CustomField, actor: User | None, direction: Literal["up", "down"]
) -> CustomField:
    """Swap the field with its neighbour in its list (active fields, or retired ones).

    Positions of all live fields are renumbered 1…n on the way, so fields that share a
    position (the admin can leave them so) still move.
    """
    _refuse_if_deleting(field)
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
    fields = list(
        CustomField.objects.for_workspace(field.workspace_id)
        .live()
        .select_for_update()
        .order_by("position", "id")
    )
    current = next((f for f in fields if f.pk == field.pk), None)
    if current is None:
        raise ValidationError(f"The field “{field.label}” is being deleted.")
    siblings = [f for f in fields if f.is_retired == current.is_retired]
    index = siblings.index(current)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(siblings):
        return field  # already first or last
    a, b = fields.index(siblings[index]), fields.index(siblings[other])
    fields[a], fields[b] = fields[b], fields[a]
    old_position = current.position
    changed = []
    for position, f in enumerate(fields, start=1):
        if f.position != position:
            f.position = position
            changed.append(f)
    CustomField.objects.bulk_update(changed, ["position"])
    field.position = current.position
    audit_record(
        actor=actor,
        workspace=field.workspace,
        action="custom_field.reorder",
        obj=field,
        changes={"position": [old_position, field.position]},
    )
    return field


@transaction.atomic
def custom_field_delete(*, field: CustomField, actor: User | None) -> CustomField:
    """Hide the field at once and purge its values in the background (W5).

    The row stays, marked `deleting`, until the purge task is done, so its key stays reserved
    and a new field of the same key never sees the old values.
    """
    if not field.deleting:
        field.deleting = True
        field.save(update_fields=["deleting"])
        audit_record(
            actor=actor,
            workspace=field.workspace,
            action="custom_field.delete",
            obj=field,
            changes={"deleting": [False, True]},
        )
    field_id = field.pk
    transaction.on_commit(lambda: custom_field_purge.enqueue(field_id))
    return field


# Values ------------------------------------------------------------------------------------


def _text_clean(value: Any, field: CustomField) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError("Enter text.")
    value = value.strip()
    if "\x00" in value:
        raise ValidationError("Text cannot contain null characters.")
    if len(value) > TEXT_MAX_LENGTH:
        raise ValidationError(
            f"Use at most {TEXT_MAX_LENGTH:,} characters (this has {len(value):,})."
        )
    return value


def _number_clean(value: Any, field: CustomField) -> int | float:
    message = "Enter a number, like 1234.5 or -3 (no thousands separators)."
    if isinstance(value, str):
        if not NUMBER_RE.match(value.strip()):
            raise ValidationError(message)
        value = Decimal(value.strip())
    if isinstance(value, float) and math.isfinite(value):
        value = Decimal(value)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValidationError(message)  # also NaN and infinity
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(message)
    if abs(value) >= NUMBER_LIMIT:
        raise ValidationError(f"Enter a number between -{NUMBER_LIMIT:,} and {NUMBER_LIMIT:,}.")
    if value == int(value):
        return int(value)
    return float(value)


def _date_clean(value: Any, field: CustomField) -> str:
    message = "Enter a date as YYYY-MM-DD, like 2025-03-31."
    if isinstance(value, datetime):
        # Spreadsheet date cells arrive as midnight datetimes; any other time is not a date.
        if value.tzinfo is not None or value.time() != datetime.min.time():
            raise ValidationError(message)
        value = value.date()
    if isinstance(value, str):
        value = value.strip()
        if not DATE_RE.match(value):
            raise ValidationError(message)
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{value} is not a date in the calendar.") from None
    if not isinstance(value, date):
        raise ValidationError(message)
    return value.isoformat()


def _boolean_clean(value: Any, field: CustomField) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValidationError("Enter yes or no (true/false, y/n and 1/0 work too).")


def _choice_clean(value: Any, field: CustomField) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        wanted = value.strip().casefold()
        for choice in field.choices:
            if choice.casefold() == wanted:
                return choice
    allowed = ", ".join(field.choices)
    raise ValidationError(f"“{value}” is not one of the choices: {allowed}.")


CLEANERS = {
    CustomFieldType.TEXT: _text_clean,
    CustomFieldType.NUMBER: _number_clean,
    CustomFieldType.DATE: _date_clean,
    CustomFieldType.BOOLEAN: _boolean_clean,
    CustomFieldType.CHOICE: _choice_clean,
}


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def attributes_clean(
    *,
    workspace: Workspace | int,
    values: dict,
    partial: bool,
    existing: dict | None = None,
    definitions: Iterable[CustomField] | None = None,
) -> dict:
    """Validate custom field values and return the lead's new `attributes`.

    `values` maps keys to strings (forms, CSV) or Python values; None or "" clears a key.
    With `partial`, only the keys given are checked (bulk update, API PATCH); otherwise every
    active required field must end up with a value. Keys in `existing` whose field is gone or
    being deleted are dropped, so a save never brings back purged values. Raises
    ValidationError({key: [message, …]}) listing every problem at once.

    A caller cleaning many leads (import) passes the workspace's CustomField rows, loaded
    once, as `definitions`; otherwise they are read here.
    """
    if definitions is None:
        definitions = CustomField.objects.for_workspace(workspace)
    fields = {f.key: f for f in definitions}
    result = {
        key: value
        for key, value in (existing or {}).items()
        if key in fields and not fields[key].deleting
    }
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        key = str(key)
        field = fields.get(key)
        if field is None:
            errors[key] = [f"There is no custom field “{key}” in this workspace."]
        elif field.deleting:
            errors[key] = [f"The field “{field.label}” is being deleted; it takes no values."]
        elif field.is_retired:
            errors[key] = [f"The field “{field.label}” is retired; its values cannot change."]
        elif _is_blank(value):
            result.pop(key, None)
        else:
            try:
                result[key] = CLEANERS[field.type](value, field)
            except ValidationError as error:
                errors[key] = error.messages
    to_check = fields.values() if not partial else (fields[k] for k in values if k in fields)
    for field in to_check:
        if (
            field.required
            and not field.deleting
            and not field.is_retired
            and field.key not in errors
            and field.key not in result
        ):
            errors[field.key] = [f"“{field.label}” is required."]
    if errors:
        raise ValidationError(errors)
    return result
