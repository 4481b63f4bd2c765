"""The staff pages fit a 1280-px screen: Table 2 with its device and time columns, the answer
balance, the queues and the question page, nothing off to the side; and a training run's
progress moves on the model page without a reload."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.annotator.views.test_review import version_make

pytestmark = pytest.mark.django_db(transaction=True)

COLUMNS = [
    "A-Count",
    "A-Comp",
    "A avg",
    "V-Count",
    "V-Loc",
    "V avg",
    "AV-Ext",
    "AV-Loc",
    "AV-Count",
    "AV-Comp",
    "AV-Temp",
    "AV avg",
    "All",
]

OVERFLOW = """() => {
  const page = document.documentElement.scrollWidth - window.innerWidth;
  const tables = [...document.querySelectorAll("table")].map(
    (table) => table.getBoundingClientRect().right - window.innerWidth);
  // A table in a scrolling box fits when the box has nothing to scroll to.
  const boxes = [...document.querySelectorAll(".scroll")].map(
    (box) => box.scrollWidth - box.clientWidth);
  return Math.max(page, ...tables, ...boxes, 0);
}"""


@pytest.mark.parametrize("path", ["/review/model/", "/review/dashboard/", "/review/"])
def test_staff_pages_fit_1280_pixels(chromium, live_server, catalogue, path):
    from annotator.models import ModelVersion

    for _ in range(2):
        columns = dict.fromkeys(COLUMNS, 0.6123)
        version_make({"columns": columns}, {"question_only": {"columns": columns}})
    ModelVersion.objects.update(device="cuda (NVIDIA H200)")
    get_user_model().objects.create_superuser("root", password="a-long-test-password")
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "a-long-test-password")
    page.click("button[type=submit], input[type=submit]")
    page.goto(f"{live_server.url}{path}")
    assert page.evaluate(OVERFLOW) <= 0
    if path == "/review/model/":
        time_header = page.locator("table.metrics th", has_text="Time")
        assert time_header.bounding_box()["x"] + time_header.bounding_box()["width"] <= 1280


def test_a_running_runs_progress_moves_without_a_reload(chromium, live_server, catalogue):
    from annotator import modelloop
    from annotator.models import TrainingRun

    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=0)
    modelloop.training_run_claim(run)
    modelloop.training_run_progress(run, {"stage": "qa", "epoch": 1, "epochs": 30, "loss": 3.0})
    get_user_model().objects.create_superuser("root", password="a-long-test-password")
    page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "a-long-test-password")
    page.click("button[type=submit], input[type=submit]")
    page.goto(f"{live_server.url}/review/model/")
    runs = page.locator("#runs")
    expect(runs).to_contain_text("epoch 1/30")
    modelloop.training_run_progress(run, {"stage": "qa", "epoch": 2, "epochs": 30, "loss": 2.5})
    expect(runs).to_contain_text("epoch 2/30 · loss 2.500", timeout=10_000)
