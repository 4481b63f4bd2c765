"""Serve the app locally with a real Celery worker and beat beside it (what `make run` does).

Starts four processes (runserver, a worker on the default queue, the gpu worker on the gpu
queue, beat), streams their output, says "Serving on …" once the web server answers, and stops
all of them when one exits (exit status 1) or on Ctrl-C. A port already taken is refused before
anything starts. The gpu worker gets the service account's API token and no database settings:
it reaches the app through the worker API, as it does in docker compose.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.accounts import model_worker_token

# How long the web server may take to answer its first request (migrations are done by then;
# loading torch in the workers competes with it for the CPU).
START_TIMEOUT_SECONDS = 180


def port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args: object, addr: str, **_: object) -> None:
        host, _, port = addr.rpartition(":")
        if port_taken(host or "127.0.0.1", int(port)):
            raise CommandError(
                f"Port {port} is taken (another server is running there?). "
                "Stop it, or choose another port: make run PORT=8001"
            )
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        commands = {
            "web": [sys.executable, "manage.py", "runserver", addr, "--noreload"],
            "worker": [
                *celery,
                "worker",
                "-Q",
                "default",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
            ],
            "gpu-worker": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config.gpu_worker",
                "worker",
                "-Q",
                settings.GPU_QUEUE or "gpu",
                "--concurrency",
                "1",
                "--max-tasks-per-child",
                "1",
                "--hostname",
                "gpu@%h",
                "--loglevel",
                "INFO",
            ],
            "beat": [
                *celery,
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        }
        gpu_env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE")
        }
        gpu_env.update(AVQA_API_URL=f"http://{addr}", AVQA_API_TOKEN=model_worker_token())
        processes = {
            name: subprocess.Popen(command, env=gpu_env if name == "gpu-worker" else None)
            for name, command in commands.items()
        }
        stopping = False
        failed = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Starting on http://{addr}/ …")
        started, serving = time.monotonic(), False
        try:
            while not stopping:
                exited = [name for name, process in processes.items() if process.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} stopped; stopping the others.")
                    failed = True
                    break
                if not serving:
                    if answers(f"http://{addr}/healthz"):
                        serving = True
                        ready = self.style.SUCCESS(f"Serving on http://{addr}/ (Ctrl-C stops)")
                        self.stdout.write(ready)
                    elif time.monotonic() - started > START_TIMEOUT_SECONDS:
                        self.stderr.write(
                            f"The web server did not answer within {START_TIMEOUT_SECONDS} s; "
                            "stopping."
                        )
                        failed = True
                        break
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if failed:
            raise CommandError("make run stopped: see the messages above.")
