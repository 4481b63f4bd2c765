"""Wait until the database answers.

    manage.py wait_for_database [--seconds N]

For one-shot containers (`init` in docker-compose.yml) that may start before the database
does: `docker compose restart` restarts every service at once, ignoring the order `up`
follows, and a migration that ran before PostgreSQL listened would fail the start. Tries once a
second; exits 1 with the last error after N seconds (60).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError, connection


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=60.0)

    def handle(self, *args: object, seconds: float, **_: object) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                connection.ensure_connection()
                return
            except OperationalError as error:
                connection.close()
                if time.monotonic() >= deadline:
                    message = f"the database did not answer in {seconds:g} s: {error}"
                    raise CommandError(message) from None
                self.stderr.write(f"waiting for the database: {str(error).strip()}")
                time.sleep(1)
