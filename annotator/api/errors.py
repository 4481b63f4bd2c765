"""Refusals of the rules as API responses: {"detail": message, "code": …, "rule": …}."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.errors import RuleViolation
from annotator.throttling import RATE_RULE

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable for a moment; nothing was saved. Try again."
BODY_TOO_BIG = "The request body is larger than this API accepts."
REQUEST_REFUSED = "The request was refused as malformed."
NESTED_TOO_DEEP = "The JSON body is nested too deeply."
# Seconds a client is asked to wait before it sends the request again.
DATABASE_RETRY_AFTER = 5


def exception_handler(error: Exception, context: dict) -> Response | None:
    if isinstance(error, RuleViolation):
        body = {"detail": error.message, "code": type(error).__name__, "rule": error.rule}
        return Response(body, status=error.status_code)
    if isinstance(error, OperationalError | InterfaceError):
        # The connection was lost (a database restart, a failover, a killed backend). Every
        # write use case is one transaction, so what it had written was rolled back with the
        # connection, and Django opens a new connection for the next request.
        logger.error("database unavailable during %s: %s", context["request"].path, error)
        body = {"detail": DATABASE_UNAVAILABLE, "code": "DatabaseUnavailable", "rule": ""}
        return Response(body, status=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER)})
    # Django raises these while reading the body (DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields);
    # left alone they become an HTML 400 page, which no API client reads.
    if isinstance(error, RequestDataTooBig):
        return Response({"detail": BODY_TOO_BIG, "code": "BodyTooBig", "rule": ""}, status=413)
    if isinstance(error, SuspiciousOperation):
        return Response({"detail": REQUEST_REFUSED, "code": "Malformed", "rule": ""}, status=400)
    # json.loads recurses once per level, so a few kilobytes of "[[[[" exhaust the stack inside
    # whichever parser a view uses (DRF's token view brings its own). Views themselves do not
    # recurse, so here it can only be the body's nesting.
    if isinstance(error, RecursionError):
        return Response({"detail": NESTED_TOO_DEEP, "code": "Malformed", "rule": ""}, status=400)
    response = drf_exception_handler(error, context)
    if isinstance(error, Throttled) and response is not None:
        # DRF's handler has set the 429 and Retry-After; the body takes the project's shape.
        response.data = {"detail": str(error.detail), "code": "Throttled", "rule": RATE_RULE}
    elif (
        response is not None
        and isinstance(response.data, dict)
        and set(response.data) == {"detail"}
    ):
        # DRF's own refusals (not found, not signed in, bad method) take the same shape, so a
        # client reads `code` on every refusal: e.g. "NotFound" for a question decided meanwhile.
        code = "NotFound" if isinstance(error, Http404) else type(error).__name__
        response.data = {"detail": str(response.data["detail"]), "code": code, "rule": ""}
    return response
