"""Settings, all from environment variables (see README "Configuration").

With nothing set, the app runs in local mode: SQLite and a file-system Celery broker under
`var/`, so `make run` needs no server. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.broker import DEFAULT_QUEUE, broker_settings
from config.env import (
    env_bool,
    env_file_str,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
)
from qa_model import contract

BASE_DIR = Path(__file__).resolve().parent.parent

# Local state of a checkout: the SQLite database, media, the file broker, a generated secret key.
VAR_DIR = Path(env_str("AVQA_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

# "production" (what docker-compose.yml runs) turns on everything that assumes HTTPS and a real
# secret; "local" (the default: `make run`, the test suite) serves plain http on this machine.
# An explicit switch, not DEBUG: the test suite and a local demo run with DEBUG off too.
DJANGO_ENV = env_str("DJANGO_ENV", "local").strip().lower()
if DJANGO_ENV not in ("local", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r} must be local or production")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG=true is refused with DJANGO_ENV=production")

SECRET_KEY_MISSING = (
    "DJANGO_ENV=production needs DJANGO_SECRET_KEY or DJANGO_SECRET_KEY_FILE "
    "(a generated key is for local mode only)"
)


def _secret_key() -> str:
    """The key from the environment, from a file it names, or (local mode only) one generated
    once per checkout."""
    key = env_file_str("DJANGO_SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured(SECRET_KEY_MISSING)
    generated = VAR_DIR / "secret_key"
    if not generated.exists():
        generated.touch(mode=0o600)
        generated.write_text(secrets.token_urlsafe(50))
    return generated.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "annotator",
]

MIDDLEWARE = [
    # First: a body too large (or of no declared length) is refused before anything reads it.
    "config.request_limits.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the app server itself (gunicorn in compose): no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL", "")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    # The password may come from a file instead of the URL (compose's `keys` volume).
    if _database_password := env_file_str("DATABASE_PASSWORD"):
        DATABASES["default"]["PASSWORD"] = _database_password
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # IMMEDIATE takes SQLite's write lock when a transaction begins, so two writers
            # serialise instead of one failing with "database is locked" on upgrade.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # A file, not memory, so test helpers in other processes (a Celery worker) see it.
            "TEST": {"NAME": VAR_DIR / "test-db.sqlite3"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# WhiteNoise serves from here (collectstatic fills it); it warns at every start if it is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes compressed copies that WhiteNoise serves (the Docker image runs it).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Behind nginx (docker-compose.yml), video files are sent by the proxy: after the permission
# check the view answers with X-Accel-Redirect to this prefix + the file's name under MEDIA_ROOT,
# an internal location of the proxy. Empty: the view sends the file itself (`make run`, tests).
MEDIA_ACCEL_REDIRECT = env_str("DJANGO_MEDIA_ACCEL_REDIRECT", "")
if MEDIA_ACCEL_REDIRECT and not (
    MEDIA_ACCEL_REDIRECT.startswith("/") and MEDIA_ACCEL_REDIRECT.endswith("/")
):
    raise ImproperlyConfigured(
        f"DJANGO_MEDIA_ACCEL_REDIRECT={MEDIA_ACCEL_REDIRECT!r} must start and end with /"
    )

REST_FRAMEWORK = {
    # Scripts send "Authorization: Token …"; the browser uses its session, with CSRF enforced.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotator.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AVQA collection API",
    "DESCRIPTION": (
        "Watch videos, ask questions from the MUSIC-AVQA templates and answer them, under the "
        "collection rules. Every refusal is a JSON object with `detail` (a message for a person), "
        "`code` and `rule`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's assets come from this server (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- The collection rules (docs/collection-rules.md). Defaults are the paper's. ------------
# W1: seconds of credited watching that unlock one submission on a video.
WATCH_MIN_SECONDS = env_float("WATCH_MIN_SECONDS", 30.0, minimum=0.0)
# W1: most seconds one heartbeat can credit, however long since the previous one; the player
# sends one every few seconds, so a longer gap means the tab stalled or the clock is being gamed.
HEARTBEAT_MAX_CREDIT_SECONDS = env_float("HEARTBEAT_MAX_CREDIT_SECONDS", 10.0, minimum=0.1)
# Offering work counts others' viewings still going on as submissions on their way: those
# credited within the last 2 x HEARTBEAT_MAX_CREDIT_SECONDS, started at most OFFER_LEASE_SECONDS
# ago (a viewing reserves its video slot or its question for that long at most), and only the
# OFFER_VIEWINGS_PER_ANNOTATOR most recently credited of each person (one person watches one
# video at a time; more open tabs reserve nothing more).
OFFER_LEASE_SECONDS = env_float("OFFER_LEASE_SECONDS", 3 * WATCH_MIN_SECONDS + 30, minimum=1.0)
OFFER_VIEWINGS_PER_ANNOTATOR = env_int("OFFER_VIEWINGS_PER_ANNOTATOR", 1, minimum=1)
# Unused watch sessions older than this are deleted by a periodic task.
WATCH_SESSION_MAX_AGE_HOURS = env_float("WATCH_SESSION_MAX_AGE_HOURS", 24.0, minimum=0.1)
# Q3: live questions a video takes.
QUESTIONS_PER_VIDEO = env_int("QUESTIONS_PER_VIDEO", 5, minimum=1)
# A3: matching votes that accept an answer.
ACCEPT_VOTES = env_int("ACCEPT_VOTES", 2, minimum=1)
# A5: "invalid question" votes that invalidate a question.
INVALID_VOTES = env_int("INVALID_VOTES", 2, minimum=1)
# A6: counted votes after which a question with no agreement goes to a reviewer.
MAX_VOTES = env_int("MAX_VOTES", 5, minimum=2)
if max(ACCEPT_VOTES, INVALID_VOTES) > MAX_VOTES:
    raise ImproperlyConfigured("MAX_VOTES must be at least ACCEPT_VOTES and INVALID_VOTES")

# --- Gold questions (annotator quality) ----------------------------------------------------
# Share of an annotator's answers spent on gold questions (accepted ones offered again).
GOLD_SHARE = env_float("GOLD_SHARE", 0.1, minimum=0.0)
# Annotators whose accuracy on at least GOLD_MIN_CHECKS gold questions falls below this are
# offered no more work (0 turns the bar off).
GOLD_MIN_ACCURACY = env_float("GOLD_MIN_ACCURACY", 0.0, minimum=0.0)
GOLD_MIN_CHECKS = env_int("GOLD_MIN_CHECKS", 5, minimum=1)
# The qualification round (annotator/qualification.py): a new annotator's answers count once
# they answered this many gold questions with at least this share right (0 questions: no round).
QUALIFICATION_QUESTIONS = env_int("QUALIFICATION_QUESTIONS", 3, minimum=0)
QUALIFICATION_PASS = env_float("QUALIFICATION_PASS", 0.66, minimum=0.0)

# --- Request bodies (config/request_limits.py) ----------------------------------------------
# The most bytes a request body may declare: forms and the annotator API need kilobytes (an
# admin action on many rows, some hundreds); the gpu worker's API carries checkpoints. The
# admin's video upload is checked against IMPORT_MAX_BYTES instead.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 4 * 1024**2, minimum=1024)
WORKER_REQUEST_MAX_BYTES = env_int("WORKER_REQUEST_MAX_BYTES", 1024**3, minimum=1024)

# --- Video import (annotator/video_import.py) --------------------------------------------------
# Files larger or longer than these are refused before anything is written; clips shorter than
# VIDEO_MIN_SECONDS are refused (the watch gate needs 30 s; the paper's clips are 60 s).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 4 * 1024**3, minimum=1)
IMPORT_MAX_SECONDS = env_float("IMPORT_MAX_SECONDS", 4 * 3600.0, minimum=1.0)
VIDEO_MIN_SECONDS = env_float("VIDEO_MIN_SECONDS", 40.0, minimum=1.0)
CLIP_SECONDS = env_float("CLIP_SECONDS", float(contract.CLIP_SECONDS), minimum=1.0)
# Clips taller than this are scaled down when an import transcodes them.
IMPORT_MAX_HEIGHT = env_int("IMPORT_MAX_HEIGHT", 720, minimum=64)
# Frames larger than this (width × height; 4K by default) are refused on the probe: a tiny file
# can declare frames that would take gigabytes each to decode.
IMPORT_MAX_PIXELS = env_int("IMPORT_MAX_PIXELS", 3840 * 2160, minimum=64 * 64)
# Likewise a frame rate: a few bytes per skipped frame at 1000 fps is hours of decoding.
IMPORT_MAX_FPS = env_float("IMPORT_MAX_FPS", 120.0, minimum=1.0)
# An import (or an admin upload) that would leave less than this free on its disk is refused.
IMPORT_FREE_MARGIN_BYTES = env_int("IMPORT_FREE_MARGIN_BYTES", 1024**3, minimum=0)

# --- The model in the loop (issue 5) ---------------------------------------------------------
# How often beat checks whether to retrain, and how many accepted pairs must have arrived since
# the last model version before it does (an admin's "retrain now" needs none).
RETRAIN_INTERVAL_SECONDS = env_float("RETRAIN_INTERVAL_SECONDS", 3600.0, minimum=1.0)
RETRAIN_MIN_NEW = env_int("RETRAIN_MIN_NEW", 200, minimum=1)
# A running training run (or feature extraction) whose worker has not reported for this long is
# taken to be dead: requeued while it has attempts left, then failed.
RUN_STALE_SECONDS = env_float("RUN_STALE_SECONDS", 1800.0, minimum=1.0)
RUN_MAX_ATTEMPTS = env_int("RUN_MAX_ATTEMPTS", 2, minimum=1)
# Train / val / test shares of videos in the dataset export (split by video, from the video id).
SPLIT_RATIOS = (
    env_float("SPLIT_TRAIN", 0.7, minimum=0.0),
    env_float("SPLIT_VAL", 0.1, minimum=0.0),
    env_float("SPLIT_TEST", 0.2, minimum=0.0),
)
if abs(sum(SPLIT_RATIOS) - 1.0) > 1e-6:
    raise ImproperlyConfigured("SPLIT_TRAIN + SPLIT_VAL + SPLIT_TEST must be 1")
# The queue the gpu worker consumes. Empty: gpu work is recorded (videos stay pending, runs
# queued) but not sent, for a deployment whose gpu worker is started later (or the test suite).
GPU_QUEUE = os.environ.get("GPU_QUEUE", contract.GPU_QUEUE).strip()
# The review queue lists accepted questions whose prediction disagrees with the crowd at or
# above this confidence.
REVIEW_MIN_CONFIDENCE = env_float("REVIEW_MIN_CONFIDENCE", 0.5, minimum=0.0)
# A question whose accepted answer the question-only model gives at least this probability is
# "answerable without watching": listed for review, counted on the dashboard.
BLIND_SCORE_WARNING = env_float("BLIND_SCORE_WARNING", 0.8, minimum=0.0)
# Users in this group authenticate the gpu worker (token auth) on the worker API, and nothing else.
MODEL_WORKERS_GROUP = "model-workers"

# --- Celery ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
# Hard limit on one gpu task (a training run); the broker's visibility timeout is set above it.
GPU_TASK_TIME_LIMIT_SECONDS = env_float(
    "GPU_TASK_TIME_LIMIT_SECONDS",
    contract.GPU_TASK_TIME_LIMIT_SECONDS,
    minimum=contract.GPU_TASK_TIME_LIMIT_MIN_SECONDS,
)
_broker = broker_settings(REDIS_URL, VAR_DIR, task_time_limit=GPU_TASK_TIME_LIMIT_SECONDS)
CELERY_BROKER_URL = _broker["broker_url"]
CELERY_RESULT_BACKEND = _broker["result_backend"]
CELERY_BROKER_TRANSPORT_OPTIONS = _broker["broker_transport_options"]
CELERY_TASK_DEFAULT_QUEUE = DEFAULT_QUEUE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep reconnecting however long the broker is away (Celery's default gives up after 100 tries,
# about 46 minutes, and the worker and beat exit); the gpu work waits as rows meanwhile.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Suggestions for questions asked after the active version was trained: beat looks for open
# questions without one this often and sends the gpu worker a predict task; a task not reported
# done after PREDICT_RESEND_SECONDS (a failed post, a lost worker) is sent again.
PREDICT_INTERVAL_SECONDS = env_float("PREDICT_INTERVAL_SECONDS", 30.0, minimum=1.0)
PREDICT_RESEND_SECONDS = env_float("PREDICT_RESEND_SECONDS", 600.0, minimum=10.0)

CELERY_BEAT_SCHEDULE = {
    "prune-stale-watch-sessions": {
        "task": "annotator.tasks.watch_sessions_prune",
        "schedule": env_float("WATCH_PRUNE_INTERVAL_SECONDS", 3600.0, minimum=1.0),
    },
    "retrain-check": {
        "task": contract.TASK_RETRAIN_CHECK,
        "schedule": RETRAIN_INTERVAL_SECONDS,
    },
    "reap-stalled-gpu-work": {
        "task": contract.TASK_GPU_WORK_REAP,
        "schedule": max(RUN_STALE_SECONDS / 4, 5.0),
    },
    "predictions-check": {
        "task": contract.TASK_PREDICTIONS_CHECK,
        "schedule": PREDICT_INTERVAL_SECONDS,
    },
}

# --- Rate limits (annotator/throttling.py) ------------------------------------------------------
# Failed sign-ins (the login page, the admin's, api/auth/token/) per client IP and per username,
# in any window of the given length; a refused attempt gets 429 and Retry-After. Per IP counts
# failures only, so a lab of annotators behind one address can all sign in.
LOGIN_RATE_PER_IP = env_rate("LOGIN_RATE_PER_IP", "30/15m")
LOGIN_RATE_PER_USERNAME = env_rate("LOGIN_RATE_PER_USERNAME", "10/15m")
# Requests per user (not per IP) to the annotator API and the Ask and Answer pages, counted
# together. An honest annotator's player sends a heartbeat every 3-5 s (at most 20 a minute)
# plus a few questions, votes and "next" requests; a script grabbing tasks in bulk sends far
# more. The gpu worker's API is not limited.
API_RATE_PER_USER = env_rate("API_RATE_PER_USER", "120/min")
# The counters live where every gunicorn worker sees them: Redis when there is one, else files
# under VAR_DIR. A cache that fails lets requests through (annotation must go on without Redis);
# short timeouts, so a dead Redis costs a request milliseconds, not seconds.
if REDIS_URL:
    _throttle_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
else:
    _throttle_cache = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "cache" / "throttle",
        # One file per counter; the default 300 would cull live counters past 300 people.
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {**_throttle_cache, "KEY_PREFIX": "avqa-throttle"},
}

# --- HTTP security (README "Configuration"; `manage.py check --deploy` is clean in production)
# Headers that cost nothing over plain http apply in every mode.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Reverse proxies in front of gunicorn (TLS ends there). Only then are X-Forwarded-Proto (is
# this request https?) and X-Forwarded-For (the client's IP, for the rate limits) believed: a
# client reaching gunicorn directly could forge both.
TRUSTED_PROXIES = env_int("DJANGO_TRUSTED_PROXIES", 0, minimum=0)
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Plain http from inside the compose network: the container healthcheck and the gpu worker
    # (http://web:8000/api/worker/…) reach gunicorn directly, never through the TLS proxy.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^api/worker/"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    # The preload directive is consent only: the domain enters browsers' lists once submitted
    # to hstspreload.org.
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's own defaults give "django" a console handler of its own (in debug) that also
    # passes each record up to the root's: every request warning was printed twice. Here it
    # has none, and the root prints it once.
    "loggers": {"django": {"handlers": [], "level": env_str("LOG_LEVEL", "INFO")}},
}
