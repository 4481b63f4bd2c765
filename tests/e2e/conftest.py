"""Browser tests: Debian's Chromium driven by Playwright against a live server on real videos."""

from __future__ import annotations

import os
import shutil
import time

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between
# browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


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

    return render_scene(Scene.random(11, duration_seconds=45.0),
                        tmp_path_factory.mktemp("clips") / "performance.mp4", fps=6)  # fmt: skip
