"""Serve the app locally with a real Celery worker and beat beside it (what `make run` does).

Starts three processes (runserver, a worker on the default and gpu queues, beat), streams
their output, and stops all of them when one exits or on Ctrl-C.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


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
                "default,gpu",
                "--concurrency",
                "1",
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
        processes = {name: subprocess.Popen(command) for name, command in commands.items()}
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
