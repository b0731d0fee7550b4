"""Erasure-handler registry (PRODUCT 0, C6).

GDPR erasure deletes a lead and everything that cascades from it. Records that hold personal
data without a foreign key to the lead (an import's error rows, say) belong to higher apps,
which contacts must not import: those apps register a handler here from AppConfig.ready(),
and the erasure service calls every handler with ids (never personal data).
"""

from collections.abc import Callable, Sequence

from leadcrm.models import Workspace

# handler(*, workspace, lead_ids, email_hashes) -> {what: how many erased} or None
ErasureHandler = Callable[..., dict[str, int] | None]

_handlers: list[ErasureHandler] = []


def erasure_handler_register(handler: ErasureHandler) -> ErasureHandler:
    """Register once (usable as a decorator); registering the same function twice is a no-op."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def erasure_handlers() -> tuple[ErasureHandler, ...]:
    return tuple(_handlers)


def erasure_handlers_run(
    *, workspace: Workspace, lead_ids: Sequence[int], email_hashes: Sequence[str]
) -> dict[str, int]:
    """Call every registered handler, in registration order, inside the caller's transaction;
    returns what they report erasing, summed by name (for the erasure report)."""
    erased: dict[str, int] = {}
    for handler in _handlers:
        counts = handler(
            workspace=workspace, lead_ids=list(lead_ids), email_hashes=list(email_hashes)
        )
        for name, count in (counts or {}).items():
            erased[name] = erased.get(name, 0) + count
    return erased
