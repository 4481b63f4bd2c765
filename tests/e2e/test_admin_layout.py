"""Every admin list an admin works in fits a 1280-px screen: no column is off to the side, neither
of the page nor of the list's own scrolling box."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_review_layout import OVERFLOW

pytestmark = pytest.mark.django_db(transaction=True)

# Django wraps each list's table in `.results`, a box that scrolls sideways when it is too wide.
LIST_OVERFLOW = OVERFLOW.replace('".scroll"', '".scroll, #changelist .results"')


def _lists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    )


def test_every_admin_list_fits_1280_pixels(chromium, live_server, world):
    from annotator import modelloop
    from annotator.models import TrainingRun

    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=0)
    modelloop.training_run_claim(run)
    modelloop.training_run_progress(run, {"stage": "qa", "epoch": 1, "epochs": 30, "loss": 3.0})
    page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    wide = {}
    for path in _lists():
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate(LIST_OVERFLOW)
        if overflow > 0:
            wide[path] = overflow
    assert wide == {}, f"pixels off to the side at 1280 px: {wide}"
