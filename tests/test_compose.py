"""docker-compose.yml, checked without a Docker engine: valid under the Compose specification
(the compose_spec parser, strict about keys and values), every command naming something this
project really has, no secrets in the file, and the gpu worker kept away from the database."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml
from compose_spec import PyOptions

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
GPU_OVERRIDE = ROOT / "docker-compose.gpu.yml"
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}")


def interpolate(text: str, environment: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} substitution."""

    def value(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if environment.get(name):
            return environment[name]
        if operator == ":?":
            raise KeyError(f"{name} is required: {argument}")
        return argument if operator == ":-" else ""

    return _VARIABLE.sub(value, text)


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    return {name: value for name, value in pairs}


SECRETS = {"DJANGO_SECRET_KEY": "s" * 50, "POSTGRES_PASSWORD": "p" * 20}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), {**env_example(), **SECRETS}))


def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def test_the_file_is_valid_under_the_compose_specification():
    text = interpolate(COMPOSE.read_text(), {**env_example(), **SECRETS})
    project = PyOptions(apply_merge=True).from_yaml(text)
    project.validate()
    assert project.service_names() == [
        "postgres", "redis", "init", "web", "worker", "beat", "gpu-worker",
    ]  # fmt: skip


def test_the_gpu_override_is_valid_and_only_adds_the_device():
    override = yaml.safe_load(GPU_OVERRIDE.read_text())
    assert set(override["services"]) == {"gpu-worker"}
    device = override["services"]["gpu-worker"]["deploy"]["resources"]["reservations"]
    assert device["devices"][0]["driver"] == "nvidia"
    base = yaml.safe_load(interpolate(COMPOSE.read_text(), {**env_example(), **SECRETS}))
    base["services"]["gpu-worker"].update(override["services"]["gpu-worker"])
    PyOptions(apply_merge=True).from_yaml(yaml.safe_dump(base)).validate()


def test_plain_up_needs_no_gpu(compose):
    for name, service in services(compose).items():
        assert "deploy" not in service, f"{name} reserves devices in the base file"


def test_the_secrets_are_required_from_the_environment_not_written_here():
    with pytest.raises(KeyError, match="DJANGO_SECRET_KEY"):
        interpolate(COMPOSE.read_text(), {**env_example(), "POSTGRES_PASSWORD": "x"})
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(COMPOSE.read_text(), {**env_example(), "DJANGO_SECRET_KEY": "x"})
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"SECRET|PASSWORD|TOKEN$", key):
                assert str(value).startswith("${"), f"{name}: {key} has a literal value"
    assert env_example()["DJANGO_SECRET_KEY"] == "" and env_example()["POSTGRES_PASSWORD"] == ""


def test_the_gpu_worker_gets_no_database_credentials(compose):
    worker = services(compose)["gpu-worker"]
    assert "env_file" not in worker
    assert not {"DATABASE_URL", "DJANGO_SECRET_KEY", "POSTGRES_PASSWORD"} & set(
        worker["environment"]
    )
    assert worker["environment"]["AVQA_API_URL"] == "http://web:8000"
    token_volume = "secrets:/run/avqa-secrets:ro"
    assert token_volume in worker["volumes"]
    assert "web" in services(compose)["web"]["environment"]["DJANGO_ALLOWED_HOSTS"].split(",")


def test_health_checks_and_named_volumes(compose):
    declared = set(compose["volumes"])
    for name in ("postgres", "redis", "web"):
        assert services(compose)[name]["healthcheck"]["test"], name
    assert {"pgdata", "media"} <= declared
    for name, service in services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared, f"{name} mounts undeclared volume {source}"
    assert "/var/lib/postgresql/data" in services(compose)["postgres"]["volumes"][0]


def _command(service: dict) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def test_every_command_names_a_real_module_or_target(compose):
    from django.core.management import get_commands
    from django.urls import resolve

    from config import settings

    checked = 0
    for name, service in services(compose).items():
        command = _command(service)
        if not command or service.get("image", "").startswith(("postgres", "redis")):
            continue
        if command[0] == "sh":
            scripts = [part.strip() for part in command[-1].split("&&")]
            for script in scripts:
                words = shlex.split(script)
                if words[:2] == ["python", "manage.py"]:
                    assert words[2] in get_commands(), f"{name}: no command {words[2]}"
                    checked += 1
            continue
        if command[0] == "gunicorn":
            module, attribute = command[1].split(":")
            assert callable(getattr(importlib.import_module(module), attribute))
        elif command[0] == "celery":
            from celery import Celery
            from celery.app.utils import find_app

            # Resolved the way `celery -A` resolves it.
            assert isinstance(find_app(command[2]), Celery), f"{name}: no app at {command[2]}"
            if "-Q" in command:
                queue = command[command.index("-Q") + 1]
                assert queue in (settings.CELERY_TASK_DEFAULT_QUEUE, settings.GPU_QUEUE or "gpu")
        else:
            pytest.fail(f"{name}: unexpected command {command}")
        checked += 1
    assert checked == 6  # gunicorn, two workers, beat, and init's two manage.py commands
    assert resolve("/healthz").url_name == "healthz"


def test_the_gpu_worker_runs_one_task_per_child_with_the_settings_of_design_4(compose):
    command = _command(services(compose)["gpu-worker"])
    assert command[command.index("--concurrency") + 1] == "1"
    assert command[command.index("--max-tasks-per-child") + 1] == "1"
    from config.gpu_worker import app

    assert app.conf.task_acks_late and app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_reject_on_worker_lost


def test_the_env_example_names_only_settings_the_project_reads():
    sources = "".join(path.read_text() for path in (ROOT / "config").glob("*.py"))
    compose_text = COMPOSE.read_text()
    for name in env_example():
        assert f'"{name}"' in sources or f"${{{name}" in compose_text, name


def test_the_image_installs_the_pinned_requirements_and_serves_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==", requirements, re.M)
    assert re.search(r"^whitenoise==", requirements, re.M)


def test_the_containers_run_the_production_settings(compose):
    from django.urls import resolve

    for name in ("init", "web", "worker", "beat"):
        assert services(compose)[name]["environment"]["DJANGO_ENV"] == "production", name
    # The healthcheck speaks plain http to gunicorn: the https redirect must let it through.
    assert "http://127.0.0.1:8000/healthz" in " ".join(
        services(compose)["web"]["healthcheck"]["test"]
    )
    assert resolve("/healthz").url_name == "healthz"
