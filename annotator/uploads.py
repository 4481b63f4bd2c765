"""The admin's video upload handler: files stream to temporary files on disk (never memory), and
an upload over IMPORT_MAX_BYTES, or bigger than the temporary folder's free space, is refused by
its declared length before a byte of it is written.

The declared length is enough: Django reads a WSGI body through a stream limited to
Content-Length, and reads nothing of a body that declares none, so no upload can grow past it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from annotator import video_import


class VideoUploadHandler(TemporaryFileUploadHandler):
    """After the request's files are read, `refusal` says why the upload was refused (None when
    it was not); a refused upload has no files."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.refusal: str | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        folder = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
        self.refusal = video_import.upload_refusal(content_length, folder=folder)
        if self.refusal is None:
            return None
        # Returning the (empty) data ends the parsing: the body is never read, let alone written.
        return QueryDict(), MultiValueDict()
