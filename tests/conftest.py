"""Suite-wide set-up: the CI service check, a media folder per test, the catalogue, people."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest


def _reachable(url: str, default_port: int) -> str | None:
    """None if a TCP connection to the URL's host opens, else why not."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as error:
        return f"{host}:{port} ({error})"


def pytest_sessionstart(session: pytest.Session) -> None:
    """On CI the suite runs on PostgreSQL and Redis; a missing service stops it loudly.

    Tests marked `postgres` or `redis` skip only outside CI, so without this check a broken
    service would quietly turn the race tests into skips.
    """
    if os.environ.get("CI", "").lower() != "true":
        return
    problems = []
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append(f"DATABASE_URL must name PostgreSQL on CI, got {database_url!r}")
    elif why := _reachable(database_url, 5432):
        problems.append(f"PostgreSQL unreachable at {why}")
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url.startswith("redis://"):
        problems.append(f"REDIS_URL must name Redis on CI, got {redis_url!r}")
    elif why := _reachable(redis_url, 6379):
        problems.append(f"Redis unreachable at {why}")
    if problems:
        pytest.exit("CI=true but: " + "; ".join(problems), returncode=3)


# Tests that start the deployment's processes (servers, workers, beat) from their own module;
# the others that do are found by the fixtures they use (below).
SYSTEM_MODULES = {"test_stack.py", "test_local_mode.py", "test_faults_redis.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what the fast loop leaves out (docs/testing.md): `browser` for the tests that drive
    Chromium, `system` for those that start processes or a live server. Marked here, from the
    fixtures a test uses, so a new test is sorted without anyone remembering to mark it."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "chromium" in fixtures:
            item.add_marker(pytest.mark.browser)
        if (
            item.path.name in SYSTEM_MODULES
            or "celery_worker_process" in fixtures
            or "live_server" in fixtures
        ):
            item.add_marker(pytest.mark.system)


def _requires(marker: str, available: bool, item: pytest.Item) -> None:
    if available:
        return
    message = f"needs {marker} (set DATABASE_URL / REDIS_URL)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{item.nodeid} {message}, and CI=true forbids skipping it")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _service_markers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        from django.db import connection

        _requires("PostgreSQL", connection.vendor == "postgresql", request.node)
    if request.node.get_closest_marker("redis"):
        from django.conf import settings

        _requires("Redis", settings.CELERY_BROKER_URL.startswith("redis://"), request.node)


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path) -> None:
    """Each test writes media into its own folder; passwords hash fast."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # No gpu work is sent unless a test starts a gpu worker on a queue of its own.
    settings.GPU_QUEUE = ""
    # Rate-limit counters start empty in every test, and the API's per-user limit is out of
    # reach of the tests that send many requests as one user (the fuzz test); the tests of the
    # limits set their own rates.
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        },
    }
    settings.API_RATE_PER_USER = "100000/s"
    # What the default cache holds (the templates' need, kept a minute) is per test too.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def catalogue(django_db_blocker) -> None:
    """The catalogue the data migration loads. Transactional tests empty the tables after
    themselves (a flush), so load it again when it is missing."""
    from annotator.catalogue import catalogue_sync
    from annotator.models import Answer, QuestionTemplate

    with django_db_blocker.unblock():
        if QuestionTemplate.objects.count() != 33 or Answer.objects.count() != 42:
            catalogue_sync()


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the database this test session uses (the test database)."""
    from django.db import connection

    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    return (
        f"postgresql://{credentials}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
        f"/{database['NAME']}"
    )


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker in its own process, on the configured broker (Redis when REDIS_URL
    is set, else the file broker), consuming a queue of its own so no other work reaches it."""
    import sys
    import uuid

    from tests import processes

    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = processes.start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        {**os.environ, "DATABASE_URL": database_url_for_subprocess()},
    )
    try:
        yield queue
    finally:
        processes.stop(worker)
