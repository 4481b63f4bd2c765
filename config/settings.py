"""Settings, all from environment variables (see README "Configuration").

With nothing set, the app runs in local mode: SQLite and a file-system Celery broker under
`var/`, so `make run` needs no server. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# Local state of a checkout: the SQLite database, media, the file broker, a generated secret key.
VAR_DIR = Path(env_str("AVQA_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    """The key from the environment, from a file it names, or one generated once per checkout."""
    key = env_str("DJANGO_SECRET_KEY", "")
    if key:
        return key
    key_file = env_str("DJANGO_SECRET_KEY_FILE", "")
    if key_file:
        try:
            key = Path(key_file).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(f"DJANGO_SECRET_KEY_FILE: {error}") from None
        if not key:
            raise ImproperlyConfigured(f"DJANGO_SECRET_KEY_FILE {key_file} is empty")
        return key
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
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

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

# --- The collection rules (DESIGN.md §2). Defaults are the paper's. -------------------------
# W1: seconds of credited watching that unlock one submission on a video.
WATCH_MIN_SECONDS = env_float("WATCH_MIN_SECONDS", 30.0, minimum=0.0)
# W1: most seconds one heartbeat can credit, however long since the previous one; the player
# sends one every few seconds, so a longer gap means the tab stalled or the clock is being gamed.
HEARTBEAT_MAX_CREDIT_SECONDS = env_float("HEARTBEAT_MAX_CREDIT_SECONDS", 10.0, minimum=0.1)
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

# --- Celery ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
else:
    # Local mode: a broker made of files, so a worker and beat run beside runserver with no
    # server. Producers and consumers share one folder.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = None
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "prune-stale-watch-sessions": {
        "task": "annotator.tasks.watch_sessions_prune",
        "schedule": env_float("WATCH_PRUNE_INTERVAL_SECONDS", 3600.0, minimum=1.0),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
