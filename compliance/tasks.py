"""Background work of the compliance app. Tasks receive ids only, never personal data (C6)."""

from django_tasks import task


@task()
def erasure_run(request_id: int) -> int:
    """Erase what a bulk erasure request holds; returns how many leads it erased in all."""
    from compliance.erasure import erasure_request_run

    request = erasure_request_run(request_id)
    return request.leads_erased if request else 0
