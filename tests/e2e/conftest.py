"""Browser tests: Debian's Chromium driven by Playwright against a live server on real videos."""

from __future__ import annotations

import os
import shutil
import time

import pytest

PASSWORD = "a-long-test-password"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between
# browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def chromium():
    if not shutil.which(CHROMIUM):
        message = f"needs Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + ", and CI=true forbids skipping")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def tabs_closed_before_the_flush(chromium):
    """Close every tab a test opened, before the database is emptied for the next test.

    A tab left open keeps its player's heartbeats and htmx polls going to the live server,
    which would write (under row locks) while pytest-django truncates the tables after a
    transactional test: PostgreSQL then reports a deadlock and the next test starts on rows the
    flush could not remove. This fixture is set up after pytest-django's database fixture, so
    it is torn down before the flush; the pause lets the server finish the requests it was
    answering when the tabs closed (each takes milliseconds)."""
    yield
    for context in list(chromium.contexts):
        context.close()
    time.sleep(0.5)


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory):
    """A 45-s synthetic performance (long enough for the 30-s gate), rendered once."""
    from qa_model.synthetic import Scene, render_scene

    return render_scene(
        Scene.random(11, duration_seconds=45.0),
        tmp_path_factory.mktemp("clips") / "performance.mp4",
        fps=6,
    )


@pytest.fixture
def world(catalogue, clip_path, settings):
    """A video with an accepted question, an open one, and version 1's predictions: enough for
    the review page to draw its grounding strips and heat maps and the charts their legends;
    a reviewer and a superuser to see them."""
    from django.contrib.auth import get_user_model

    from annotator import accounts, services
    from tests.annotator.helpers import ask, vote
    from tests.annotator.views.test_review import predict, version_make

    video = services.video_create(avqa_id="perf0001", source=clip_path, title="A performance")
    people = {
        name: accounts.annotator_create(username=name, password=PASSWORD)
        for name in ("asker", "voter1", "voter2", "voter3")
    }
    settings.GOLD_SHARE = 0  # the answer page offers the open question, never a gold one
    accepted = ask(people["asker"], video, template_id=7, slot_values=["piano"])
    for voter in ("voter1", "voter2"):
        vote(people[voter], accepted, "yes")
    ask(people["asker"], video, template_id=11, slot_values=[])
    predict(version_make(), accepted, "no", 0.9)
    accounts.reviewer_create(username="reviewer", password=PASSWORD)
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    return {"accepted": accepted}
