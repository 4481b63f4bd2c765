"""A Content-Security-Policy header on every response.

The pages load scripts and styles only from this server, as files: no inline <script>, no
style="" attributes, no eval (htmx runs with `allowEval` and its indicator <style> off, see
templates/base.html). So a slot value or a username that slipped past escaping still could not
run. Django 5.2 has no CSP of its own; this is the whole of it, so no package is needed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Directive -> sources. `data:` images: the favicon is an empty data: URL. Videos stream from
# this server (videos/<pk>/stream/, media/), so media-src is 'self' like everything else.
POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "media-src": ("'self'",),
    "connect-src": ("'self'",),
    "font-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}

# Third-party pages this project serves but does not write, relaxed only where they need it and
# only for their own paths. The API docs page (drf-spectacular's template around Swagger UI,
# served from this server by the sidecar) carries an inline <style>; its scripts stay files
# (SpectacularSwaggerSplitView serves the start-up script as one). Django's admin needs nothing.
RELAXED: dict[str, dict[str, tuple[str, ...]]] = {
    "/api/docs/": {"style-src": ("'self'", "'unsafe-inline'")},
}


def header_value(policy: dict[str, tuple[str, ...]]) -> str:
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())


HEADER = header_value(POLICY)
RELAXED_HEADERS = {
    prefix: header_value({**POLICY, **changes}) for prefix, changes in RELAXED.items()
}


def policy_for(path: str) -> str:
    for prefix, header in RELAXED_HEADERS.items():
        if path.startswith(prefix):
            return header
    return HEADER


class ContentSecurityPolicyMiddleware:
    """Sets the policy unless the response already carries one of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy_for(request.path)
        return response
