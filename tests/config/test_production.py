"""DJANGO_ENV=production: `check --deploy` is clean, a secret is required, https is assumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import SECRET_KEY_MISSING

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "a-production-secret-" + "x" * 40


def run(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process under exactly these variables (and none of this shell's
    Django ones), as docker-compose.yml starts the web container."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    environment.update(
        AVQA_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV="production",
        DJANGO_ALLOWED_HOSTS="avqa.example.org",
        DATABASE_URL="postgresql://avqa:secret@postgres:5432/avqa",
        REDIS_URL="redis://redis:6379/0",
    )
    environment.update(variables)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


PROBE = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'debug': s.DEBUG, 'session_secure': s.SESSION_COOKIE_SECURE,"
    " 'csrf_secure': s.CSRF_COOKIE_SECURE, 'hsts': s.SECURE_HSTS_SECONDS,"
    " 'redirect': s.SECURE_SSL_REDIRECT, 'exempt': s.SECURE_REDIRECT_EXEMPT,"
    " 'proxy_header': s.SECURE_PROXY_SSL_HEADER, 'frames': s.X_FRAME_OPTIONS,"
    " 'nosniff': s.SECURE_CONTENT_TYPE_NOSNIFF, 'referrer': s.SECURE_REFERRER_POLICY,"
    " 'throttle_cache': s.CACHES['throttle']['BACKEND']}))"
)


def loaded(tmp_path: Path, **variables: str) -> dict:
    result = run(tmp_path, "shell", "-c", PROBE, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # after shell's "objects imported" line


@pytest.mark.slow
def test_check_deploy_is_clean(tmp_path):
    result = run(tmp_path, "check", "--deploy", "--fail-level", "DEBUG", DJANGO_SECRET_KEY=SECRET)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.slow
def test_it_refuses_to_start_without_a_secret_key(tmp_path):
    result = run(tmp_path, "check")
    assert result.returncode != 0
    assert SECRET_KEY_MISSING in result.stderr
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.slow
def test_the_key_can_come_from_a_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    result = run(tmp_path, "check", "--deploy", DJANGO_SECRET_KEY_FILE=str(key_file))
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_debug_is_refused(tmp_path):
    result = run(tmp_path, "check", DJANGO_SECRET_KEY=SECRET, DJANGO_DEBUG="true")
    assert "DJANGO_DEBUG=true is refused with DJANGO_ENV=production" in result.stderr


@pytest.mark.slow
def test_an_unknown_environment_is_refused(tmp_path):
    result = run(tmp_path, "check", DJANGO_ENV="prod")
    assert "must be local or production" in result.stderr


@pytest.mark.slow
def test_cookies_are_secure_and_https_is_enforced(tmp_path):
    settings = loaded(tmp_path, DJANGO_SECRET_KEY=SECRET)
    assert settings["debug"] is False
    assert settings["session_secure"] is settings["csrf_secure"] is True
    assert settings["hsts"] == 365 * 24 * 3600
    assert settings["redirect"] is True
    # The container healthcheck and the gpu worker reach gunicorn over plain http.
    assert settings["exempt"] == [r"^healthz$", r"^api/worker/"]
    assert settings["proxy_header"] is None
    assert (settings["frames"], settings["nosniff"], settings["referrer"]) == (
        "DENY",
        True,
        "same-origin",
    )
    assert settings["throttle_cache"] == "django.core.cache.backends.redis.RedisCache"


REDIRECTS = (
    "import json; from django.http import HttpResponse;"
    " from django.middleware.security import SecurityMiddleware;"
    " from django.test import RequestFactory;"
    " middleware = SecurityMiddleware(lambda request: HttpResponse());"
    " paths = ['/', '/healthz', '/api/worker/dataset/', '/accounts/login/'];"
    " print(json.dumps({path: getattr(middleware.process_request(RequestFactory()"
    ".get(path, HTTP_HOST='avqa.example.org')), 'url', None) for path in paths}))"
)


@pytest.mark.slow
def test_http_is_redirected_except_what_the_compose_network_reaches_directly(tmp_path):
    result = run(tmp_path, "shell", "-c", REDIRECTS, DJANGO_SECRET_KEY=SECRET)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "/": "https://avqa.example.org/",
        "/healthz": None,
        "/api/worker/dataset/": None,
        "/accounts/login/": "https://avqa.example.org/accounts/login/",
    }


@pytest.mark.slow
def test_behind_a_proxy_its_forwarded_protocol_is_believed(tmp_path):
    settings = loaded(tmp_path, DJANGO_SECRET_KEY=SECRET, DJANGO_TRUSTED_PROXIES="1")
    assert settings["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.slow
def test_the_redirect_can_be_left_to_the_proxy(tmp_path):
    assert (
        loaded(tmp_path, DJANGO_SECRET_KEY=SECRET, DJANGO_SECURE_SSL_REDIRECT="false")["redirect"]
        is False
    )


@pytest.mark.slow
def test_local_mode_serves_plain_http(tmp_path):
    settings = loaded(tmp_path, DJANGO_ENV="", DATABASE_URL="", REDIS_URL="")
    assert settings["session_secure"] is settings["redirect"] is False
    assert settings["hsts"] == 0
    assert settings["frames"] == "DENY"
    assert settings["throttle_cache"] == "django.core.cache.backends.filebased.FileBasedCache"


@pytest.mark.parametrize("variable", ["LOGIN_RATE_PER_IP", "API_RATE_PER_USER"])
@pytest.mark.slow
def test_a_malformed_rate_stops_start_up(tmp_path, variable):
    result = run(tmp_path, "check", DJANGO_SECRET_KEY=SECRET, **{variable: "lots"})
    assert f"{variable}: 'lots' is not a rate" in result.stderr


DATABASE = "import json; from django.conf import settings as s; print(json.dumps(s.DATABASES['default']['PASSWORD']))"  # noqa: E501


@pytest.mark.slow
def test_the_database_password_can_come_from_a_file(tmp_path):
    """As docker-compose.yml runs it: no password in DATABASE_URL, the `keys` volume's file."""
    password = tmp_path / "postgres_password"
    password.write_text("from-the-keys-volume\n")
    result = run(
        tmp_path,
        "shell",
        "-c",
        DATABASE,
        DJANGO_SECRET_KEY=SECRET,
        DATABASE_URL="postgresql://avqa@postgres:5432/avqa",
        DATABASE_PASSWORD_FILE=str(password),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == "from-the-keys-volume"
    password.write_text("")
    result = run(tmp_path, "check", DJANGO_SECRET_KEY=SECRET, DATABASE_PASSWORD_FILE=str(password))
    assert f"DATABASE_PASSWORD_FILE {password} is empty" in result.stderr


@pytest.mark.slow
def test_a_media_redirect_prefix_must_be_a_path(tmp_path):
    result = run(
        tmp_path, "check", DJANGO_SECRET_KEY=SECRET, DJANGO_MEDIA_ACCEL_REDIRECT="protected"
    )
    assert "DJANGO_MEDIA_ACCEL_REDIRECT='protected' must start and end with /" in result.stderr
