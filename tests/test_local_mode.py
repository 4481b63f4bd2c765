"""`make run`'s local mode, end to end: no DATABASE_URL, no REDIS_URL, nothing but files.

Migrates and seeds a fresh var/ folder, starts `manage.py runlocal` (runserver, a Celery
worker, the gpu worker and beat), signs an annotator in, opens Ask and fetches its video, waits
for beat to send the prune task through the file broker to the worker, which deletes a stale
viewing, for the gpu worker to extract the demo videos' features, and, after "retrain now" on
a few accepted pairs, for model v1 and its predictions.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from tests import processes
from tests.processes import ROOT, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def local_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(AVQA_VAR_DIR=str(tmp_path / "var"), DJANGO_DEBUG="true")
    env.update(WATCH_PRUNE_INTERVAL_SECONDS="1", TRAIN_EPOCHS="2", TRAIN_MIN_PAIRS="1")
    return env


def manage(env, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_make_run_serves_the_demo_with_a_worker_and_beat(local_env, tmp_path):
    manage(local_env, "migrate", "--noinput")
    seeded = manage(
        local_env,
        "seed_demo",
        *("--videos", "2", "--annotators", "1", "--seconds", "40", "--collection", "0"),
    )
    password = re.search(r"annotator\s+annotator1\s+(\S+)", seeded).group(1)
    manage(
        local_env,
        "shell",
        "-c",
        "from datetime import timedelta; from django.utils import timezone;"
        "from annotator.models import Video, WatchSession;"
        "from django.contrib.auth.models import User;"
        "then = timezone.now() - timedelta(days=3);"
        "WatchSession.objects.create(annotator=User.objects.get(username='annotator1'),"
        " video=Video.objects.get(avqa_id='demo0001'), started_at=then, last_heartbeat_at=then)",
    )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = processes.start(
        [sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"], local_env
    )
    try:
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def login_page():
            with browser.open(f"{base}/accounts/login/", timeout=5) as response:
                return response.read().decode()

        page = wait_until(login_page)
        # "Serving on" is said once the server answers, not while it is still starting.
        wait_until(lambda: "Serving on" in processes.output_of(server), timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"username": "annotator1", "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}
        )
        with browser.open(request, timeout=10) as response:
            home = response.read().decode()
        assert "Hello, annotator1" in home
        assert "<strong>2</strong> videos you can ask about" in home

        with browser.open(f"{base}/ask/", timeout=10) as response:
            ask_page = response.read().decode()
        stream = re.search(r'<video src="([^"]+)"', ask_page).group(1)
        with browser.open(f"{base}{stream}", timeout=10) as response:
            assert response.headers["Content-Type"] == "video/mp4"
            assert len(response.read()) > 10_000

        database = sqlite3.connect(tmp_path / "var" / "db.sqlite3")

        def stale_viewing_pruned():
            # The stale viewing made before the start (the Ask page has made a fresh one since).
            query = "select count(*) from annotator_watchsession where id = 1"
            return database.execute(query).fetchone()[0] == 0

        wait_until(stale_viewing_pruned, timeout=90)

        def features_ready():
            # seed_demo queued the extraction; the gpu worker, with its token and no database
            # settings, did it through the worker API.
            query = "select count(*) from annotator_video where feature_status = 'ready'"
            return database.execute(query).fetchone()[0] == 2

        wait_until(features_ready, timeout=180)

        # Accepted pairs on the training video (demo0002), then "retrain now": the gpu worker
        # trains through the file broker and posts model v1 and its predictions back.
        manage(
            local_env,
            "shell",
            "-c",
            "from annotator import modelloop; from annotator.models import *;"
            "from django.contrib.auth.models import User;"
            "video = Video.objects.get(avqa_id='demo0002');"
            "author = User.objects.get(username='annotator1');"
            "[Question.objects.create(video=video, template_id=t, slot_values=s, author=author,"
            " status='accepted', accepted_answer=Answer.objects.get(text=a)) for t, s, a in"
            " [(1, ['cello'], 'yes'), (2, [], 'two'), (3, ['cello', 'violin'], 'no')]];"
            "modelloop.retrain_now(requested_by=None)",
        )

        def model_with_predictions():
            versions = database.execute("select count(*) from annotator_modelversion")
            predictions = database.execute("select count(*) from annotator_prediction")
            return versions.fetchone()[0] == 1 and predictions.fetchone()[0] == 3

        wait_until(model_with_predictions, timeout=240)
        database.close()
    finally:
        output = processes.stop(server)
    assert "celery@" in output and "beat: Starting" in output
    assert "gpu.extract_features" in output and "gpu.train" in output


def test_a_taken_port_is_refused_before_anything_starts(local_env):
    """`make run` on a port another server holds: a message naming `make run PORT=…`, exit
    status 1, and no "Serving on"."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=local_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {port} is taken" in result.stderr and "make run PORT=8001" in result.stderr
    assert "Serving on" not in result.stdout
