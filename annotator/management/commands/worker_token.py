"""Print the gpu worker's API token (creating its service account on first use).

    manage.py worker_token [--rotate] [--file PATH]

With --file the token is written to PATH (mode 600) instead of printed, for the gpu worker's
AVQA_API_TOKEN_FILE; docker compose's init service does this into a volume of secrets.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from annotator.accounts import model_worker_token


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rotate", action="store_true", help="Replace the current token.")
        parser.add_argument("--file", type=Path, help="Write the token here instead.")

    def handle(self, *args: object, rotate: bool, file: Path | None, **_: object) -> None:
        token = model_worker_token(rotate=rotate)
        if file is None:
            self.stdout.write(token)
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token + "\n")
        self.stdout.write(f"wrote the gpu worker's token to {file}")
