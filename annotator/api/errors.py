"""Refusals of the rules as API responses: {"detail": message, "code": …, "rule": …}."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.errors import RuleViolation
from annotator.throttling import RATE_RULE

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable for a moment; nothing was saved. Try again."
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
    response = drf_exception_handler(error, context)
    if isinstance(error, Throttled) and response is not None:
        # DRF's handler has set the 429 and Retry-After; the body takes the project's shape.
        response.data = {"detail": str(error.detail), "code": "Throttled", "rule": RATE_RULE}
    return response
