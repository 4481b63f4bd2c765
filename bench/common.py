"""What the load benchmarks share: a fresh PostgreSQL database per level, and percentiles."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import urlparse


def service_arguments(parser: argparse.ArgumentParser, name: str, redis_db: int) -> None:
    """--database-url and --redis-url, from NAME_DATABASE_URL / NAME_REDIS_URL when set, else
    this machine's PostgreSQL (database avqa_<name>) and Redis (db `redis_db`)."""
    prefix = name.upper()
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            f"{prefix}_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/avqa_{name}"
        ),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get(f"{prefix}_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}"),
    )


def server_environment(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    """What the benchmarked app runs with: the databases of `args`, files under `workdir`,
    production's debug setting, and no gpu queue (the load measured is the web side's)."""
    return {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "AVQA_VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"),
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-" + "x" * 50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "GPU_QUEUE": "",
    }


def database_recreate(url: str) -> None:
    """Drop and create the database `url` names (its other sessions are ended)."""
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    connection = psycopg2.connect(parsed._replace(path="/postgres").geturl())
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
