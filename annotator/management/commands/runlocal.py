"""Serve the app locally with a real Celery worker and beat beside it (what `make run` does).

Starts four processes (runserver, a worker on the default queue, the gpu worker on the gpu
queue, beat), streams their output, and stops all of them when one exits or on Ctrl-C. The gpu
worker gets the service account's API token and no database settings: it reaches the app
through the worker API, as it does in docker compose.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from annotator.accounts import model_worker_token


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args: object, addr: str, **_: object) -> None:
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
            key: value for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE")
        }  # fmt: skip
        gpu_env.update(AVQA_API_URL=f"http://{addr}", AVQA_API_TOKEN=model_worker_token())
        processes = {
            name: subprocess.Popen(command, env=gpu_env if name == "gpu-worker" else None)
            for name, command in commands.items()
        }
        self.stdout.write(self.style.SUCCESS(f"Serving on http://{addr}/ (Ctrl-C stops)"))
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                exited = [name for name, process in processes.items() if process.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} stopped; stopping the others.")
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
