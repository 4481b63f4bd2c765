"""The deployment's secrets, written once into the folder given (the compose `keys` volume):
the Django secret key and the database password. A value set in the environment (.env) is
written every time, so changing it there takes effect; an unset one is generated on first start
and kept, so `docker compose up` needs no set-up and restarts keep sessions and the database.

The files are readable by every user of the containers that mount the volume (the database runs
as its own user, the app as another); only the database and the app containers mount it."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

KEYS = {"django_secret_key": "DJANGO_SECRET_KEY", "postgres_password": "POSTGRES_PASSWORD"}


def write_keys(folder: Path, environment: dict[str, str]) -> list[str]:
    """Writes each key; returns what happened to each, for the log (never the values)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for name, variable in KEYS.items():
        path = folder / name
        given = environment.get(variable, "").strip()
        if given:
            value, how = given, f"{name}: from {variable}"
        elif path.exists() and path.read_text().strip():
            done.append(f"{name}: kept")
            continue
        else:
            value, how = secrets.token_urlsafe(48), f"{name}: generated"
        partial = path.with_suffix(".partial")
        partial.write_text(value)
        partial.chmod(0o444)
        os.replace(partial, path)  # whole or not at all, even if this is killed
        done.append(how)
    return done


if __name__ == "__main__":
    for line in write_keys(Path(sys.argv[1]), dict(os.environ)):
        print(line)
