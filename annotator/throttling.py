"""Rate limits: failed sign-ins per client IP and per username, annotator API calls per user.

This module holds the mechanism and what applies it to views (decorators, a DRF throttle); the
views live elsewhere: the login pages (config/urls.py wraps them in `login_rate_limited`), the
API's token (annotator/api/auth.py counts its attempts with `SignInAttempt`), the annotators' API
(`AnnotatorRateThrottle`) and the Ask and Answer pages (`work_rate_limited`).

Counters are sliding windows (the moments of recent events) in the "throttle" cache, which every
gunicorn worker shares. On Redis each check-and-count is one atomic step (a script): forty
parallel guesses against a limit of ten get ten tries, not thirteen. A sign-in attempt takes its
slot before the password is checked and gives it back when the password was right. On a cache
that is not Redis (local mode's files) the steps are atomic within one process only.

Usernames are counted as authentication reads them (Unicode NFKC, as Django's sign-in form
normalises them) and case-folded, so `ａdmin` and `Admin` are guesses at `admin`. A lock-out of a
username does not lock its owner out: a client that has signed in to that account before carries
a signed cookie, and its attempts are counted on their own (per account and client).

When the cache fails (Redis stopped), requests go through with a warning in the log: annotation
must keep working without Redis, and a few minutes without limits is the lesser harm.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from redis.exceptions import RedisError
from rest_framework.exceptions import ErrorDetail, Throttled
from rest_framework.request import Request
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


# Atomic on Redis: drop the events that left the window, then count one more unless it is full.
# Returns {added (0/1), the moment that frees a slot when full}.
_HIT = """
local key, now, seconds, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - seconds)
local count = redis.call('ZCARD', key)
if ARGV[5] == 'hit' and count >= limit then
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    return {0, oldest[2]}
end
if ARGV[5] == 'peek' then
    if count >= limit then
        local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
        return {0, oldest[2]}
    end
    return {0, ''}
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, math.ceil(seconds * 1000))
return {1, ''}
"""
_local_lock = threading.Lock()


class Window:
    """Recent events under one cache key, at most `rate` of them in any window of its length."""

    def __init__(self, name: str, ident: str, rate: str) -> None:
        self.limit, self.seconds = parse_rate(rate)
        # surrogatepass: a username of lone surrogates (valid JSON \ud800) is still counted.
        digest = hashlib.sha256(ident.encode(errors="surrogatepass")).hexdigest()[:32]
        self.key = f"{name}:{digest}"

    def _run(self, mode: str, member: str = "") -> tuple[bool, int | None]:
        """(counted, seconds to wait when full) for mode hit (count unless full), add (count)
        or peek (count nothing)."""
        cache, now = caches["throttle"], clock()
        if isinstance(cache, RedisCache):
            client = cache._cache.get_client(write=True)
            key = cache.make_and_validate_key(self.key)
            added, frees = client.eval(
                _HIT, 1, key, now, self.seconds, self.limit, member or _member(now), mode
            )
            return bool(added), self._wait(float(frees), now) if frees else None
        with _local_lock:
            events = [(t, m) for t, m in cache.get(self.key) or [] if t > now - self.seconds]
            if mode != "add" and len(events) >= self.limit:
                return False, self._wait(events[self.limit - 1][0], now)
            if mode == "peek":
                return False, None
            events.insert(0, (now, member or _member(now)))
            cache.set(self.key, events[: self.limit], self.seconds)
            return True, None

    def _wait(self, frees_at: float, now: float) -> int:
        # The window frees a slot when its oldest counted event leaves it.
        return max(1, math.ceil(frees_at + self.seconds - now))

    def retry_after(self) -> int | None:
        """Seconds until one more event is allowed; None if it is allowed now."""
        return self._run("peek")[1]

    def hit(self) -> int | None:
        """Count one event unless the window is full, in one atomic step; seconds to wait if it
        is full."""
        return self._run("hit")[1]

    def take(self, member: str) -> int | None:
        """Like hit, under a name that `give_back` can remove again."""
        return self._run("hit", member)[1]

    def give_back(self, member: str) -> None:
        cache = caches["throttle"]
        if isinstance(cache, RedisCache):
            client = cache._cache.get_client(write=True)
            client.zrem(cache.make_and_validate_key(self.key), member)
            return
        with _local_lock:
            events = [event for event in cache.get(self.key) or [] if event[1] != member]
            cache.set(self.key, events, self.seconds)

    def add(self) -> None:
        self._run("add")

    def clear(self) -> None:
        caches["throttle"].delete(self.key)


def _member(now: float) -> str:
    return f"{now:.6f}:{uuid.uuid4().hex[:12]}"


def _fail_open(action: Callable[[], Any], default: Any = None) -> Any:
    try:
        return action()
    except CACHE_ERRORS as error:
        logger.warning("Rate-limit cache unavailable, letting the request through: %s", error)
        return default


# --- Sign-in ---------------------------------------------------------------------------------


# A client that has signed in to an account carries this signed cookie naming it (by digest);
# its attempts at that account are counted apart, so others' failures cannot lock it out.
KNOWN_CLIENT_COOKIE = "avqa_signed_in_before"
KNOWN_CLIENT_DAYS = 365
_KNOWN_CLIENT_SALT = "annotator.throttling.known-client"
_KNOWN_CLIENT_ACCOUNTS = 10


def username_key(username: str) -> str:
    """A username as authentication reads it (Unicode NFKC, as Django's sign-in form normalises
    it, so the fullwidth `ａdmin` is `admin`), case-folded: every spelling that reaches one
    account is counted as one."""
    folded = unicodedata.normalize("NFKC", username).strip().casefold()
    return unicodedata.normalize("NFKC", folded)


def _account_digest(key: str) -> str:
    return hashlib.sha256(key.encode(errors="surrogatepass")).hexdigest()[:16]


def _known_client(request: HttpRequest) -> dict | None:
    try:
        value = signing.loads(
            request.COOKIES.get(KNOWN_CLIENT_COOKIE, ""),
            salt=_KNOWN_CLIENT_SALT,
            max_age=KNOWN_CLIENT_DAYS * 24 * 3600,
        )
    except signing.BadSignature:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("id"), str)):
        return None
    if not isinstance(value.get("accounts"), list):
        return None
    return value


class SignInAttempt:
    """One sign-in attempt, counted before the password is checked (one atomic step per window,
    so parallel guesses cannot all pass a full window) and given back if the password was right:
    per client address only failures count, and the account's count starts over."""

    def __init__(self, request: HttpRequest, username: str) -> None:
        key = username_key(username)
        self.digest = _account_digest(key)
        self.known = _known_client(request)
        if self.known and self.digest in self.known["accounts"]:
            account = Window(
                "login-known", f"{key}\0{self.known['id']}", settings.LOGIN_RATE_PER_USERNAME
            )
        else:
            account = Window("login-user", key, settings.LOGIN_RATE_PER_USERNAME)
        self.address = Window("login-ip", client_ip(request), settings.LOGIN_RATE_PER_IP)
        self.account = account
        self.member = _member(clock())

    def begin(self) -> int | None:
        """Take this attempt's slots; seconds to wait (and nothing taken) if a window is full."""
        wait = _fail_open(lambda: self.address.take(self.member))
        if wait is not None:
            return wait
        wait = _fail_open(lambda: self.account.take(self.member))
        if wait is not None:
            _fail_open(lambda: self.address.give_back(self.member))
        return wait

    def succeeded(self, response: HttpResponse) -> None:
        _fail_open(lambda: self.address.give_back(self.member))
        _fail_open(self.account.clear)
        known = self.known or {"id": uuid.uuid4().hex, "accounts": []}
        accounts = [self.digest, *(a for a in known["accounts"] if a != self.digest)]
        value = {"id": known["id"], "accounts": accounts[:_KNOWN_CLIENT_ACCOUNTS]}
        response.set_cookie(
            KNOWN_CLIENT_COOKIE,
            signing.dumps(value, salt=_KNOWN_CLIENT_SALT),
            max_age=KNOWN_CLIENT_DAYS * 24 * 3600,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )


def _throttled_page(request: HttpRequest, wait: int) -> HttpResponse:
    context = {
        "title": "Sign in",
        "error": LOGIN_THROTTLED.format(seconds=wait),
        "back": request.path,
    }
    response = render(request, "throttled.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


def login_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a Django login view (the login page, the admin's): a POST re-rendered with the form
    (200) is a failed sign-in, a redirect a successful one; over the limit, 429 and Retry-After
    without trying the password."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        attempt = SignInAttempt(request, request.POST.get("username", ""))
        wait = attempt.begin()
        if wait is not None:
            return _throttled_page(request, wait)
        response = view(request, *args, **kwargs)
        if 300 <= response.status_code < 400:
            attempt.succeeded(response)
        return response

    return wrapped


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
