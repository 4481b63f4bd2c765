"""Video files for signed-in people, with HTTP range requests so players can seek.

Behind the compose proxy (MEDIA_ACCEL_REDIRECT set), the view only checks who asks and names the
file in X-Accel-Redirect; nginx sends it, ranges included, and no gunicorn worker is held while a
slow client downloads. Otherwise whole files and ranges go out with sendfile(2) under gunicorn."""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from annotator import selectors
from annotator.models import Video

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _FilePart:
    """The bytes of an open file from `start`, `length` of them, read like a file. It gives the
    WSGI server the file's descriptor, positioned at `start`, so gunicorn sends the part with
    sendfile(2) up to the response's Content-Length without copying it through Python; a server
    without sendfile reads it, and never reads past the part."""

    def __init__(self, handle, start: int, length: int) -> None:
        handle.seek(start)
        self._handle, self._left = handle, length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._handle.read(size) if size > 0 else b""
        self._left -= len(data)
        return data

    def fileno(self) -> int:
        return self._handle.fileno()

    def close(self) -> None:
        self._handle.close()


@login_required
@require_GET
def video_stream(request: HttpRequest, pk: int) -> HttpResponse:
    """The video file; annotators see active videos, reviewers every video."""
    if selectors.is_reviewer(request.user):
        videos = Video.objects.all()
    elif selectors.is_annotator(request.user):
        videos = Video.objects.filter(is_active=True)
    else:
        videos = Video.objects.none()
    video = get_object_or_404(videos, pk=pk)
    try:
        size = video.file.size
    except FileNotFoundError:  # removed from the media folder by hand
        raise Http404 from None
    content_type = mimetypes.guess_type(video.file.name)[0] or "application/octet-stream"
    if settings.MEDIA_ACCEL_REDIRECT:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT + quote(video.file.name)
        return response
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if not match or match.groups() == ("", ""):
        response = FileResponse(video.file.open("rb"), content_type=content_type)
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # "bytes=-N": the last N bytes
        start, end = max(size - int(last), 0), size - 1
    if start > end or start >= size:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    length = end - start + 1
    response = FileResponse(
        _FilePart(video.file.open("rb"), start, length), status=206, content_type=content_type
    )
    response["Content-Length"] = str(length)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response
