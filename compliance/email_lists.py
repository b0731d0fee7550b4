"""Lists of email addresses typed or uploaded on the compliance pages (suppression, erasure).

An uploaded list is read with the import's readers (CSV in any encoding and delimiter, .xlsx,
vCard), from a private temporary copy that is deleted before this returns, together with the
upload itself: the addresses exist only in this request's memory, and callers turn them into
hashes or lead ids at once (PRODUCT C6). Every cell holding an "@" counts: a valid address is
kept (normalised, once), anything else is counted as not an address.
"""

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email

from compliance.erasure import email_normalise
from contacts.importing.sources import SourceError, source_detect, source_rows

MAX_ADDRESSES = 100_000  # per list; a larger request is split
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass
class EmailList:
    emails: list[str] = field(default_factory=list)  # normalised, unique, in first-seen order
    not_addresses: int = 0  # cells or words with an "@" that are not valid addresses

    def add(self, value: str, seen: set[str]) -> None:
        value = value.strip().strip("<>\"'")
        if "@" not in value:
            return
        try:
            validate_email(value)
        except ValidationError:
            self.not_addresses += 1
            return
        normalised = email_normalise(value)
        if normalised not in seen:
            seen.add(normalised)
            self.emails.append(normalised)
            if len(self.emails) > MAX_ADDRESSES:
                raise ValidationError(
                    f"The list holds more than {MAX_ADDRESSES:,} addresses. Split it and send "
                    "the parts one after the other."
                )


def emails_from_text(text: str) -> EmailList:
    """Addresses typed in a box: one per line, or separated by commas, semicolons or spaces."""
    found, seen = EmailList(), set()
    for word in _SEPARATORS.split(text or ""):
        found.add(word, seen)
    return found


def emails_from_upload(upload: UploadedFile) -> EmailList:
    """Every address in an uploaded CSV, .xlsx or vCard file; the upload is deleted after.

    Raises ValidationError with a message for the user when the file cannot be read."""
    tmp_dir = Path(settings.IMPORT_DIR) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="list-", dir=tmp_dir)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        info = source_detect(path, file_name=upload.name or "")
        found, seen = EmailList(), set()
        for cell in info.headers:
            found.add(str(cell or ""), seen)
        for _, values in source_rows(path, info):
            for cell in values:
                found.add(str(cell or ""), seen)
        return found
    except SourceError as error:
        raise ValidationError(str(error)) from error
    finally:
        path.unlink(missing_ok=True)
        upload.close()  # a TemporaryUploadedFile deletes its file on close
