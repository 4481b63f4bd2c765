"""The web side never loads the ML stack: every page, the API, the admin and the management
commands run without importing torch (about 800 MB more per process). Only the gpu worker and
the `qa_model` command line train and extract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.processes import ROOT


@pytest.mark.slow
def test_every_page_the_admin_and_the_commands_run_without_torch(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(AVQA_VAR_DIR=str(tmp_path / "var"), MEDIA_ROOT=str(tmp_path / "media"))
    env.update(GPU_QUEUE="", LOG_LEVEL="ERROR", DJANGO_ALLOWED_HOSTS="testserver")
    result = subprocess.run(
        [sys.executable, "-m", "tests.web_walk", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    walk = json.loads(result.stdout.strip().splitlines()[-1])
    assert walk["failures"] == [], walk
    assert walk["statuses"]["200"] > 100, walk  # the walk really went through the site
    assert walk["imported"] == [], f"the web side imported {walk['imported']}"
