"""Refusals of the rules as API responses: {"detail": message, "code": …, "rule": …}."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotator.errors import RuleViolation


def exception_handler(error: Exception, context: dict) -> Response | None:
    if isinstance(error, RuleViolation):
        body = {"detail": error.message, "code": type(error).__name__, "rule": error.rule}
        return Response(body, status=error.status_code)
    return drf_exception_handler(error, context)
