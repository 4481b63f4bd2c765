"""Request bodies capped before anything reads them.

Django limits the form fields it keeps in memory (DATA_UPLOAD_MAX_MEMORY_SIZE) but not the file
parts of a multipart body: without this, any client, signed in or not, could make a server
read and spool hundreds of megabytes to disk, even for an answer of 401 or 429. So every body
is judged by its declared length first, against REQUEST_MAX_BYTES; the gpu worker's API
(checkpoints, predictions) has WORKER_REQUEST_MAX_BYTES, and the admin's video upload its own
check (annotator/uploads.py, IMPORT_MAX_BYTES). A chunked body declares no length, and a WSGI
app reads such a body as empty: it is refused with 411 rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

TOO_LARGE = "The request body is larger than {limit} bytes, the most this server accepts here."
LENGTH_REQUIRED = "Send the body with a Content-Length: chunked request bodies are not accepted."


def body_limit(path: str) -> int | None:
    """The most bytes a body sent to `path` may declare; None where a view checks its own."""
    if path == reverse("admin:annotator_video_upload"):
        return None
    if path.startswith("/api/worker/"):
        return settings.WORKER_REQUEST_MAX_BYTES
    return settings.REQUEST_MAX_BYTES


def _refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        code = "BodyTooBig" if status == 413 else "LengthRequired"
        return JsonResponse({"detail": message, "code": code, "rule": ""}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # Closing the connection: the unread chunks must not be taken for a next request.
            response = _refusal(request, 411, LENGTH_REQUIRED)
            response["Connection"] = "close"
            return response
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body it cannot size
        limit = body_limit(request.path)
        if limit is not None and length > limit:
            response = _refusal(request, 413, TOO_LARGE.format(limit=limit))
            response["Connection"] = "close"
            return response
        return self.get_response(request)
