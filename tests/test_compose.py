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
    pairs = [
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return {name: value for name, value in pairs}


SECRETS = {"DJANGO_SECRET_KEY": "s" * 50, "POSTGRES_PASSWORD": "p" * 20}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), {**env_example(), **SECRETS}))


def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def test_the_file_is_valid_under_the_compose_specification():
    text = interpolate(COMPOSE.read_text(), {**env_example(), **SECRETS})
    # YAML merge keys resolved by a YAML loader, as both Compose v2 and v1 read them.
    project = PyOptions(apply_merge=True).from_yaml(yaml.safe_dump(yaml.safe_load(text)))
    project.validate()
    names = {"keys", "postgres", "redis", "init", "web", "proxy", "worker", "beat", "gpu-worker"}
    assert set(project.service_names()) == names


def test_debians_docker_compose_1_29_can_read_it():
    """1.29 refuses a top-level `name:` and other keys newer than the Compose specification it
    knows; the project's name comes from COMPOSE_PROJECT_NAME instead."""
    raw = yaml.safe_load(COMPOSE.read_text())
    assert set(raw) - {"x-image", "x-settings", "x-app"} == {"services", "volumes"}
    assert env_example()["COMPOSE_PROJECT_NAME"] == "avqa"


def test_it_starts_with_no_env_file_at_all():
    """Every variable has a default or is optional: `docker compose up` needs no set-up."""
    compose = yaml.safe_load(interpolate(COMPOSE.read_text(), {}))
    settings = services(compose)["web"]["environment"]
    assert settings["DJANGO_SECRET_KEY_FILE"] == "/run/avqa-keys/django_secret_key"
    assert settings["DJANGO_ALLOWED_HOSTS"] == "localhost,127.0.0.1,web"
    assert "env_file" not in services(compose)["web"]


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


def test_secrets_come_from_the_environment_or_the_keys_volume_never_from_this_file(compose):
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"SECRET|PASSWORD|TOKEN$", key) and not key.endswith("_FILE"):
                assert str(value).startswith("${"), f"{name}: {key} has a literal value"
    assert env_example()["DJANGO_SECRET_KEY"] == "" and env_example()["POSTGRES_PASSWORD"] == ""
    keys = services(compose)["keys"]
    assert keys["command"] == ["python", "deploy/keys.py", "/run/avqa-keys"]
    assert (ROOT / "deploy" / "keys.py").is_file()
    postgres = services(compose)["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/avqa-keys/postgres_password"
    assert postgres["depends_on"]["keys"]["condition"] == "service_completed_successfully"
    web = services(compose)["web"]["environment"]
    assert web["DATABASE_PASSWORD_FILE"] == "/run/avqa-keys/postgres_password"
    assert "@" in web["DATABASE_URL"] and ":" not in web["DATABASE_URL"].split("@")[0][13:]
    # The keys volume reaches the database and the app, not the gpu worker or the proxy.
    for name, service in services(compose).items():
        mounts = any(volume.startswith("keys:") for volume in service.get("volumes", []))
        assert mounts == (name not in ("redis", "gpu-worker", "proxy")), name


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
    assert not any("keys" in volume for volume in worker["volumes"])


def test_health_checks_and_named_volumes(compose):
    declared = set(compose["volumes"])
    for name in ("postgres", "redis", "web", "proxy"):
        assert services(compose)[name]["healthcheck"]["test"], name
    assert {"pgdata", "media"} <= declared
    for name, service in services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(("/", ".")):
                continue  # a folder of the host's (TLS_DIR set in .env)
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
        if not command or service.get("image", "").startswith(("postgres", "redis", "avqa-proxy")):
            continue
        if command[:2] == ["python", "deploy/keys.py"]:
            assert (ROOT / command[1]).is_file()
            checked += 1
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
    # keys, gunicorn, two workers, beat, and init's four manage.py commands
    assert checked == 9
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
        if name == "COMPOSE_PROJECT_NAME":
            continue  # read by compose itself
        assert f'"{name}"' in sources or f"${{{name}" in compose_text, name


def test_the_image_installs_the_pinned_requirements_and_serves_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11" in dockerfile
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
    assert "'http://127.0.0.1:8000/healthz', headers={'Host': 'web'}" in " ".join(
        services(compose)["web"]["healthcheck"]["test"]
    )
    assert resolve("/healthz").url_name == "healthz"


# --- The proxy ------------------------------------------------------------------------------
NGINX = ROOT / "deploy" / "nginx"


def nginx_template() -> str:
    return (NGINX / "avqa.conf.template").read_text()


def test_only_the_proxy_is_published_and_gunicorn_believes_only_it(compose):
    published = {name for name, service in services(compose).items() if service.get("ports")}
    assert published == {"proxy"}
    assert services(compose)["proxy"]["ports"] == ["443:443", "80:80"]
    web = services(compose)["web"]
    assert web["environment"]["DJANGO_TRUSTED_PROXIES"] == 1
    assert web["expose"] == ["8000"]


def test_the_proxy_sends_the_videos_that_the_view_names():
    from django.urls import reverse

    prefix = services(yaml.safe_load(interpolate(COMPOSE.read_text(), {})))["web"]["environment"][
        "DJANGO_MEDIA_ACCEL_REDIRECT"
    ]
    internal = re.search(
        r"location " + re.escape(prefix) + r" \{\s*internal;\s*alias /var/lib/avqa/media/;",
        nginx_template(),
    )
    assert internal, "no internal location for the view's X-Accel-Redirect"
    # The large body cap is on the admin's upload URL, exactly.
    upload = reverse("admin:annotator_video_upload")
    assert f"location = {upload} {{\n            client_max_body_size ${{PROXY_UPLOAD_MAX}};" in (
        nginx_template()
    )


def test_the_proxy_buffers_and_times_out_slow_clients():
    template = nginx_template()
    for directive in (
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "client_body_timeout 30s;",
        "client_header_timeout 30s;",
        "client_max_body_size ${PROXY_BODY_MAX};",
        "proxy_set_header X-Forwarded-Proto https;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "return 301 https://$host${HTTPS_SUFFIX}$request_uri;",
    ):
        assert directive in template, directive


def test_the_template_names_only_what_the_entrypoint_fills_in():
    entrypoint = (NGINX / "entrypoint.sh").read_text()
    filled = set(re.search(r"envsubst '([^']+)'", entrypoint).group(1).replace("$", "").split())
    used = set(re.findall(r"\$\{([A-Z_]+)\}", nginx_template()))
    assert used == {name.strip("{}") for name in filled}
    for name in used - {"HTTPS_SUFFIX"}:
        assert f"export {name}=" in entrypoint or f" {name}=" in entrypoint, name


def test_the_proxy_serves_the_static_files_init_collects(compose):
    init = services(compose)["init"]
    assert init["environment"]["STATIC_ROOT"] == "/var/lib/avqa/static"
    assert "collectstatic --noinput --clear" in init["command"][-1]
    assert "static:/var/lib/avqa/static" in init["volumes"]
    proxy = services(compose)["proxy"]
    assert "static:/var/lib/avqa/static:ro" in proxy["volumes"]
    assert "media:/var/lib/avqa/media:ro" in proxy["volumes"]
    assert "alias /var/lib/avqa/static/;" in nginx_template()
    assert proxy["volumes"][0] == "tls:/etc/avqa/tls"
    assert "https://127.0.0.1/healthz" in proxy["healthcheck"]["test"]


def test_the_dockerfiles_keep_their_public_base_images_behind_build_arguments():
    app = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in app and "FROM ${PYTHON_IMAGE}" in app
    proxy = (NGINX / "Dockerfile").read_text()
    assert "ARG NGINX_IMAGE=nginx:1.27" in proxy and "FROM ${NGINX_IMAGE}" in proxy
