"""`manage.py worker_token`: the gpu worker's token, printed or written for a secrets volume."""

from __future__ import annotations

import io
import stat

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("worker_token", *args, stdout=out)
    return out.getvalue().strip()


def test_the_same_token_until_rotated(catalogue):
    first = run()
    assert run() == first and len(first) == 40
    rotated = run("--rotate")
    assert rotated != first
    assert list(Token.objects.values_list("key", flat=True)) == [rotated]
    user = Token.objects.get().user
    assert not user.has_usable_password() and not user.is_staff


def test_written_to_a_file_only_its_owner_reads(tmp_path, catalogue):
    target = tmp_path / "secrets" / "worker_token"
    assert "wrote" in run("--file", str(target))
    assert target.read_text().strip() == Token.objects.get().key
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
