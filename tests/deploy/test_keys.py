"""deploy/keys.py, the compose `keys` service: secrets made once, .env values win, never shown."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from deploy.keys import write_keys

ROOT = Path(__file__).resolve().parent.parent.parent


def test_generated_once_then_kept(tmp_path):
    assert write_keys(tmp_path, {}) == [
        "django_secret_key: generated",
        "postgres_password: generated",
    ]
    first = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert set(first) == {"django_secret_key", "postgres_password"}
    assert all(len(value) >= 60 for value in first.values())
    assert first["django_secret_key"] != first["postgres_password"]
    assert write_keys(tmp_path, {}) == ["django_secret_key: kept", "postgres_password: kept"]
    assert {path.name: path.read_text() for path in tmp_path.iterdir()} == first
    # Read by the database's user and the app's user, written by no one after.
    assert stat.S_IMODE((tmp_path / "postgres_password").stat().st_mode) == 0o444


def test_a_value_from_the_environment_wins_and_is_not_printed(tmp_path):
    write_keys(tmp_path, {})
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "keys.py"), str(tmp_path)],
        env={"POSTGRES_PASSWORD": "chosen-by-the-operator"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "postgres_password: from POSTGRES_PASSWORD" in result.stdout
    assert "chosen-by-the-operator" not in result.stdout + result.stderr
    assert (tmp_path / "postgres_password").read_text() == "chosen-by-the-operator"
    assert "django_secret_key: kept" in result.stdout
