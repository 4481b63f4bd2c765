"""Rate limits: failed sign-ins per client IP and per username, annotator API calls per user.

Counters are sliding windows (the timestamps of recent events, newest first, as DRF keeps them)
in the "throttle" cache, which every gunicorn worker shares. Reading and writing a window are two
cache calls, not one atomic step: two concurrent requests can both pass the last free slot. It's
OK for a rate limit to be off by one or two under a race.

When the cache fails (Redis stopped), requests go through with a warning in the log: annotation
must keep working without Redis, and a few minutes without limits is the lesser harm.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from redis.exceptions import RedisError
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ErrorDetail, Throttled, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from config.env import parse_rate

logger = logging.getLogger(__name__)

LOGIN_THROTTLED = "Too many failed sign-ins. Try again in {seconds} seconds."
API_THROTTLED = "Too many requests. Try again in {seconds} seconds."
# The `rule` of a throttled API response ({"detail", "code", "rule"}, annotator/api/errors.py).
RATE_RULE = "rate-limit"

# Cache errors that mean "no counters now", not a bug: Redis down or unreachable, a file cache's
# folder unwritable.
CACHE_ERRORS = (RedisError, OSError)

# Patched by the tests that need to move past a window without waiting for it.
clock: Callable[[], float] = time.time


class RateLimited(Throttled):
    """A 429 with Retry-After and this message alone (DRF's own appends "Expected available
    in …" to any message)."""

    def __init__(self, *, wait: int, message: str) -> None:
        super().__init__(wait=wait)
        self.detail = ErrorDetail(message, code=self.default_code)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, behind DJANGO_TRUSTED_PROXIES reverse proxies,
    the address the outermost trusted proxy saw (X-Forwarded-For's entry that many from the
    end; the entries before it are the client's to forge)."""
    proxies = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "")


class Window:
    """Recent events under one cache key, at most `rate` of them in any window of its length."""

    def __init__(self, name: str, ident: str, rate: str) -> None:
        self.limit, self.seconds = parse_rate(rate)
        # surrogatepass: a username of lone surrogates (valid JSON \ud800) is still counted.
        digest = hashlib.sha256(ident.encode(errors="surrogatepass")).hexdigest()[:32]
        self.key = f"{name}:{digest}"

    def _recent(self, now: float) -> list[float]:
        history = caches["throttle"].get(self.key) or []
        return [moment for moment in history if moment > now - self.seconds]

    def _wait(self, history: list[float], now: float) -> int | None:
        if len(history) < self.limit:
            return None
        # The window frees a slot when its oldest counted event leaves it.
        return max(1, math.ceil(history[self.limit - 1] + self.seconds - now))

    def _store(self, history: list[float], now: float) -> None:
        caches["throttle"].set(self.key, [now, *history][: self.limit], self.seconds)

    def retry_after(self) -> int | None:
        """Seconds until one more event is allowed; None if it is allowed now."""
        now = clock()
        return self._wait(self._recent(now), now)

    def hit(self) -> int | None:
        """Count one event unless the window is full (one read, one write: every API request
        takes this path); seconds to wait if it is full."""
        now = clock()
        history = self._recent(now)
        wait = self._wait(history, now)
        if wait is None:
            self._store(history, now)
        return wait

    def add(self) -> None:
        now = clock()
        self._store(self._recent(now), now)

    def clear(self) -> None:
        caches["throttle"].delete(self.key)


def _fail_open(action: Callable[[], Any], default: Any = None) -> Any:
    try:
        return action()
    except CACHE_ERRORS as error:
        logger.warning("Rate-limit cache unavailable, letting the request through: %s", error)
        return default


# --- Sign-in ---------------------------------------------------------------------------------


def _login_windows(request: HttpRequest, username: str) -> list[Window]:
    # Case-folded: "Alice" and "alice" are guesses at the same account.
    return [
        Window("login-ip", client_ip(request), settings.LOGIN_RATE_PER_IP),
        Window("login-user", username.strip().casefold(), settings.LOGIN_RATE_PER_USERNAME),
    ]


def login_retry_after(request: HttpRequest, username: str) -> int | None:
    """Seconds this sign-in must wait, or None if it may be tried now."""
    waits = [
        wait
        for window in _login_windows(request, username)
        if (wait := _fail_open(window.retry_after)) is not None
    ]
    return max(waits) if waits else None


def login_failed(request: HttpRequest, username: str) -> None:
    for window in _login_windows(request, username):
        _fail_open(window.add)


def login_succeeded(request: HttpRequest, username: str) -> None:
    """The account's own count starts over; the address's does not (it may be guessing at many
    accounts and own one)."""
    _fail_open(_login_windows(request, username)[1].clear)


def login_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a Django login view (the login page, the admin's): a POST re-rendered with the form
    (200) is a failed sign-in, a redirect a successful one; over the limit, 429 and Retry-After
    without trying the password."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username = request.POST.get("username", "")
        wait = login_retry_after(request, username)
        if wait is not None:
            context = {
                "title": "Sign in",
                "error": LOGIN_THROTTLED.format(seconds=wait),
                "back": request.path,
            }
            response = render(request, "throttled.html", context, status=429)
            response["Retry-After"] = str(wait)
            return response
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            login_failed(request, username)
        elif 300 <= response.status_code < 400:
            login_succeeded(request, username)
        return response

    return wrapped


class TokenView(ObtainAuthToken):
    """A token for a username and password. Failed attempts count with the login page's, per
    client address and per username; over the limit, 429 with Retry-After."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A JSON body need not be an object; the serializer refuses those with a 400.
        data = request.data if hasattr(request.data, "get") else {}
        username = str(data.get("username", ""))
        wait = login_retry_after(request, username)
        if wait is not None:
            raise RateLimited(wait=wait, message=LOGIN_THROTTLED.format(seconds=wait))
        try:
            response = super().post(request, *args, **kwargs)
        except ValidationError:
            login_failed(request, username)
            raise
        login_succeeded(request, username)
        return response


obtain_auth_token = TokenView.as_view()


# --- Annotators' work: the API and the Ask and Answer pages ---------------------------------


def work_request(user: Any) -> int | None:
    """Count one request of a signed-in user's work; seconds to wait if it is one too many.

    The API and the work pages share the count, so a script cannot take tasks in bulk through
    the pages instead, and the player's heartbeats (API) and page loads add up to one budget.
    """
    return _fail_open(Window("work-user", str(user.pk), settings.API_RATE_PER_USER).hit)


class AnnotatorRateThrottle(BaseThrottle):
    """API_RATE_PER_USER requests per signed-in user, whatever address they come from."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if not request.user.is_authenticated:
            # Refused by the permission check anyway (it runs first); nothing to count.
            return True
        self.retry_after = work_request(request.user)
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


def work_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For the Ask and Answer pages (after login_required): over the user's rate, 429 with
    Retry-After; an htmx request gets the message where its item would go."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = work_request(request.user)
        if wait is None:
            return view(request, *args, **kwargs)
        context = {
            "title": "Slow down",
            "error": API_THROTTLED.format(seconds=wait),
            "back": reverse("home"),
        }
        template = "annotator/partials/messages.html" if request.htmx else "throttled.html"
        response = render(request, template, context, status=429)
        response["Retry-After"] = str(wait)
        return response

    return wrapped
