from django.db import models

from leadcrm.models import AuditLog, User, Workspace


def audit_record(
    *,
    actor: User | None,
    workspace: Workspace | None,
    action: str,
    obj: models.Model | None = None,
    changes: dict | None = None,
    object_repr: str | None = None,
) -> AuditLog:
    """Write one audit entry (PRODUCT C7). `changes` maps field -> [old, new] for updates.

    Called by the services that make the change, inside their transaction, so the entry and
    the change commit together or not at all.
    """
    return AuditLog.objects.create(
        workspace=workspace,
        actor=actor,
        actor_label=actor.email if actor else "",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(object_repr if object_repr is not None else str(obj or ""))[:200],
        changes=changes or {},
    )
