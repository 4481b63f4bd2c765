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
from qa_model.media import MediaError


class VideoUploadHandler(TemporaryFileUploadHandler):
    """After the request's files are read, `refusal` says why the upload was refused (None when
    it was not); a refused upload has no files."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.refusal: str | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        refusal = None
        if content_length > settings.IMPORT_MAX_BYTES:
            refusal = video_import.UPLOAD_TOO_BIG.format(
                size=video_import.size_text(content_length),
                limit=video_import.size_text(settings.IMPORT_MAX_BYTES),
            )
        else:
            folder = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
            try:
                video_import.require_free_space(folder, content_length, name="The upload")
            except MediaError as error:
                refusal = str(error)
        if refusal is None:
            return None
        # Returning the (empty) data ends the parsing: the body is never read, let alone written.
        self.refusal = refusal
        return QueryDict(), MultiValueDict()
