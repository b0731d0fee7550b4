"""The app's own cap on uploaded files (PRODUCT I1).

Django's FILE_UPLOAD_MAX_MEMORY_SIZE only decides when an upload spills to a temporary file;
nothing in Django refuses a big one. This handler runs first in FILE_UPLOAD_HANDLERS, counts
each file's bytes as they stream in and, past settings.IMPORT_MAX_UPLOAD_BYTES, skips the rest
of that file (the other handlers drop what they wrote). The view sees no file and finds the
reason in `upload_refusal(request)`.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.template.defaultfilters import filesizeformat

_ATTRIBUTE = "_leadcrm_upload_refusal"


def upload_refusal(request) -> str:
    """Why an uploaded file was refused while it streamed in, or ""."""
    return getattr(request, _ATTRIBUTE, "")


class CappedUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if self.received > limit:
            if self.request is not None:
                setattr(
                    self.request,
                    _ATTRIBUTE,
                    f"“{self.file_name}” is larger than {filesizeformat(limit)}, the most "
                    "this workspace accepts in one file. Split it and import the parts.",
                )
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file object


class RefusableUploadForm(forms.Form):
    """A form with a `file` field whose upload CappedUploadHandler may have refused: built
    with refusal=upload_refusal(request), it puts the reason on the field (the file itself
    arrives as no file at all)."""

    def __init__(self, *args, refusal: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.refusal = refusal

    def clean_file(self):
        if self.refusal:
            raise ValidationError(self.refusal)
        return self.cleaned_data.get("file")
