"""Settings come from the environment, strictly, with safe local defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parent.parent.parent

PROBE = (
    "import json; from django.conf import settings as s;"
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'],"
    " 'db': str(s.DATABASES['default']['NAME']), 'broker': s.CELERY_BROKER_URL,"
    " 'results': s.CELERY_RESULT_BACKEND, 'debug': s.DEBUG, 'per_video': s.QUESTIONS_PER_VIDEO}))"
)


def load(tmp_path, **variables: str) -> dict:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG")
    }
    environment.update(AVQA_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    environment.update(variables)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise AssertionError(result.stderr)
    return json.loads(result.stdout)


@pytest.mark.slow
def test_with_nothing_set_it_runs_on_sqlite_and_a_file_broker(tmp_path):
    loaded = load(tmp_path)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["db"] == str(tmp_path / "db.sqlite3")
    assert loaded["broker"] == "filesystem://"
    assert loaded["debug"] is False


@pytest.mark.slow
def test_database_url_and_redis_url_switch_to_postgresql_and_redis(tmp_path):
    loaded = load(
        tmp_path,
        DATABASE_URL="postgresql://avqa:secret@db:5432/avqa",
        REDIS_URL="redis://cache:6379/0",
    )
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["db"] == "avqa"
    assert loaded["broker"] == loaded["results"] == "redis://cache:6379/0"


@pytest.mark.slow
def test_rule_numbers_come_from_the_environment(tmp_path):
    assert load(tmp_path, QUESTIONS_PER_VIDEO="7")["per_video"] == 7


@pytest.mark.parametrize(
    "variables",
    [{"DJANGO_DEBUG": "ture"}, {"QUESTIONS_PER_VIDEO": "five"}, {"MAX_VOTES": "1"}],
)
@pytest.mark.slow
def test_a_malformed_value_stops_start_up(tmp_path, variables):
    with pytest.raises(AssertionError, match="ImproperlyConfigured"):
        load(tmp_path, **variables)


@pytest.mark.slow
def test_a_secret_key_is_generated_once_per_checkout_when_none_is_given(tmp_path):
    load(tmp_path)
    key = (tmp_path / "secret_key").read_text()
    load(tmp_path)
    assert (tmp_path / "secret_key").read_text() == key
    assert len(key) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


class TestReaders:
    def test_booleans_are_strict(self, monkeypatch):
        monkeypatch.setenv("FLAG", "yes")
        assert env.env_bool("FLAG", False) is True
        monkeypatch.setenv("FLAG", "nope")
        with pytest.raises(ImproperlyConfigured, match="not a boolean"):
            env.env_bool("FLAG", False)

    def test_numbers_are_checked(self, monkeypatch):
        monkeypatch.setenv("N", "3")
        assert env.env_int("N", 1, minimum=1) == 3
        monkeypatch.setenv("N", "0")
        with pytest.raises(ImproperlyConfigured, match="at least 1"):
            env.env_int("N", 1, minimum=1)
        monkeypatch.setenv("X", "nan")
        with pytest.raises(ImproperlyConfigured, match="finite"):
            env.env_float("X", 1.0)

    def test_unset_means_the_default(self, monkeypatch):
        monkeypatch.delenv("UNSET_THING", raising=False)
        assert env.env_list("UNSET_THING", ["a"]) == ["a"]
        assert env.env_str("UNSET_THING", "d") == "d"


def test_the_celery_apps_never_stop_reconnecting_to_the_broker():
    # Celery's default of 100 reconnection attempts lets a worker exit after ~46 minutes
    # without Redis; gpu work waits as rows, so the workers must be there when it returns.
    from config.celery import app
    from config.gpu_worker import app as gpu_app

    assert app.conf.broker_connection_max_retries is None
    assert gpu_app.conf.broker_connection_max_retries is None


@pytest.mark.slow
def test_the_gpu_worker_starts_without_django_settings(tmp_path):
    """As compose runs it: production mode, no secret key, no database settings."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL"))
    }
    environment.update(DJANGO_ENV="production", AVQA_VAR_DIR=str(tmp_path))
    probe = (
        "import sys; from config.gpu_worker import app; app.loader.init_worker(); "
        "app.loader.import_default_modules(); print('config.settings' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_gpu_worker_reads_its_variants_and_refuses_unknown_ones(monkeypatch):
    from config.gpu_worker import worker_config

    monkeypatch.setenv("AVQA_API_TOKEN", "t")
    monkeypatch.setenv("TRAIN_VARIANTS", "avst_plus, avst")
    monkeypatch.setenv("TRAIN_BASELINES", "none")
    config = worker_config()
    assert config.variants == ("avst_plus", "avst") and config.baselines == ()
    monkeypatch.delenv("TRAIN_VARIANTS")
    monkeypatch.delenv("TRAIN_BASELINES")
    assert worker_config().variants == ("avst", "avst_plus")  # the default: both, best kept
    monkeypatch.setenv("TRAIN_VARIANT", "av_q")  # the older, single-variant name still works
    config = worker_config()
    assert config.variants == ("av_q",)
    assert config.baselines == ("question_only", "audio_q", "visual_q")
    monkeypatch.setenv("TRAIN_VARIANTS", "avst,transformer")
    with pytest.raises(RuntimeError, match=r"unknown variant.*transformer"):
        worker_config()


@pytest.mark.slow
def test_a_request_warning_is_printed_once(tmp_path):
    """Django's default logging gave "django" its own console handler (in debug, as `make run`
    serves) besides the root's: each request warning was printed twice."""
    probe = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').warning('Not Found: /nowhere')"
    )
    environment = {**os.environ, "DJANGO_DEBUG": "true", "AVQA_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Not Found: /nowhere") == 1
