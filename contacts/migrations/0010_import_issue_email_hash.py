"""Error-report rows remember the hash of their email, so GDPR erasure (C6) can find the rows
of an address it knows only as a hash. Rows written before this get theirs here; the hash is
written out as it was when this migration landed (HMAC-SHA256 of the NFC-normalised, stripped,
lower-cased address under SUPPRESSION_KEY)."""

import hashlib
import hmac
import unicodedata

from django.conf import settings
from django.db import migrations, models


def _hash(email: str) -> str:
    normalised = unicodedata.normalize("NFC", email.strip()).lower()
    return hmac.digest(settings.SUPPRESSION_KEY.encode(), normalised.encode(), hashlib.sha256).hex()


def email_hashes_fill(apps, schema_editor):
    ImportIssue = apps.get_model("contacts", "ImportIssue")
    ImportJob = apps.get_model("contacts", "ImportJob")
    email_column = {}
    for job_id, mapping in ImportJob.objects.values_list("id", "mapping").iterator():
        if isinstance(mapping, list) and "email" in mapping:
            email_column[job_id] = mapping.index("email")
    batch = []
    rows = ImportIssue.objects.filter(email_hash="").only("id", "job_id", "email", "values")
    for issue in rows.iterator(chunk_size=2000):
        email = issue.email
        column = email_column.get(issue.job_id)
        if not email and column is not None and column < len(issue.values or []):
            email = str(issue.values[column] or "")
        if email.strip():
            issue.email_hash = _hash(email)
            batch.append(issue)
        if len(batch) >= 2000:
            ImportIssue.objects.bulk_update(batch, ["email_hash"])
            batch = []
    if batch:
        ImportIssue.objects.bulk_update(batch, ["email_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0009_default_scoring_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="importissue",
            name="email_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="importissue",
            index=models.Index(
                condition=models.Q(("email_hash", ""), _negated=True),
                fields=["email_hash"],
                name="importissue_email_hash",
            ),
        ),
        migrations.AddIndex(
            model_name="importissue",
            index=models.Index(
                condition=models.Q(("lead__isnull", False)),
                fields=["lead"],
                name="importissue_lead",
            ),
        ),
        migrations.RunPython(email_hashes_fill, migrations.RunPython.noop, elidable=True),
    ]
