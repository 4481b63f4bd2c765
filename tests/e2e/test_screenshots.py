"""The README's screenshots, taken from the running app in Chromium: the Ask page with its
most-needed templates and wanted answer, the Answer page on a phone with the gate's reason, the
reviewer's home, a question with its suggestion and heat maps over the frame, the model page
with the baselines, and the dashboard's answer balance.

They are written to var/screenshots/, or with AVQA_SCREENSHOTS=docs/screenshots to the files
the README shows (`AVQA_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest
tests/e2e/test_screenshots.py` refreshes them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotator import accounts, services
from annotator.models import Prediction, Question
from tests.annotator.helpers import ask, vote
from tests.annotator.views.test_review import version_make
from tests.e2e.test_review_layout import COLUMNS

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"
OUT = Path(os.environ.get("AVQA_SCREENSHOTS", "var/screenshots"))


def _map(row: int, column: int) -> list[list[float]]:
    grid = [[0.3 / 196] * 14 for _ in range(14)]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            grid[row + dy][column + dx] = 0.7 / 9 + 0.3 / 196
    return grid


@pytest.fixture
def world(catalogue, clip_path, settings):
    settings.GOLD_SHARE = 0
    video = services.video_create(avqa_id="perf0001", source=clip_path, title="A performance")
    services.video_create(avqa_id="perf0002", source=clip_path, title="Another performance")
    people = {
        name: accounts.annotator_create(username=name, password=PASSWORD)
        for name in ("asker", "voter1", "voter2", "newcomer", "annotator1")
    }
    accepted = []
    for template_id, answer in ((1, "yes"), (7, "yes"), (9, "two"), (11, "indoor")):
        values = {1: ["piano"], 7: ["piano"]}.get(template_id)
        question = ask(people["asker"], video, template_id=template_id, slot_values=values)
        for voter in ("voter1", "voter2"):
            vote(people[voter], question, answer)
        accepted.append(question)
    Question.objects.filter(pk=accepted[0].pk).update(blind_score=0.93, blind_answer="yes")
    open_one = ask(people["voter1"], video, template_id=14, slot_values=["leftest"])
    columns = dict(
        zip(
            COLUMNS,
            [0.58, 0.51, 0.55, 0.63, 0.62, 0.63, 0.59, 0.38, 0.61, 0.5, 0.36, 0.5, 0.52],
            strict=True,
        )
    )
    baseline = {name: value * 0.7 for name, value in columns.items()}
    version = version_make({"columns": columns}, {"question_only": {"columns": baseline}})
    for question, answer, confidence in ((open_one, "piano", 0.71), (accepted[1], "yes", 0.88)):
        others = [a for a in question.template.answers if a != answer][:2]
        top3 = [{"answer": answer, "confidence": confidence}] + [
            {"answer": other, "confidence": (1 - confidence) * share}
            for other, share in zip(others, (0.7, 0.2), strict=False)
        ]
        Prediction.objects.create(
            version=version,
            question=question,
            answer=answer,
            confidence=confidence,
            top3=top3,
            audio_weights=[0.04, 0.06, 0.1, 0.3, 0.2, 0.1, 0.08, 0.05, 0.04, 0.03],
            visual_weights=[0.03, 0.05, 0.12, 0.35, 0.18, 0.1, 0.07, 0.05, 0.03, 0.02],
            spatial_maps={"segments": [2, 3, 4], "maps": [_map(7, 3), _map(7, 4), _map(6, 3)]},
        )
    accounts.reviewer_create(username="reviewer", password=PASSWORD)
    return {"open": open_one}


def signed_in(chromium, live_server, username: str, **context):
    page = chromium.new_context(**({"viewport": {"width": 1280, "height": 900}} | context))
    page = page.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text(f"Hello, {username}")
    return page


def test_the_readme_screenshots(chromium, live_server, world):
    OUT.mkdir(parents=True, exist_ok=True)
    shots = []

    def shot(page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / f"{name}.png", full_page=True)
        shots.append(name)

    page = signed_in(chromium, live_server, "annotator1")
    shot(page, "home")
    page.goto(f"{live_server.url}/ask/")
    page.select_option("#template-choice", label="Counting: Is there a <Object> sound?")
    page.select_option("select[name=slot]", "cello")
    page.evaluate("document.querySelector('video').play()")
    page.wait_for_function("() => document.querySelector('video').currentTime > 6")
    page.evaluate("document.querySelector('video').pause()")
    expect(page.locator(".watch-reason")).to_contain_text("Paused")
    shot(page, "ask")

    phone = signed_in(
        chromium, live_server, "newcomer", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    phone.goto(f"{live_server.url}/answer/")
    phone.evaluate("document.querySelector('video').muted = true")
    phone.evaluate("document.querySelector('video').play()")
    expect(phone.locator(".watch-reason")).to_contain_text("Muted", timeout=10_000)
    shot(phone, "answer-phone")

    review = signed_in(chromium, live_server, "reviewer")
    shot(review, "reviewer-home")
    review.goto(f"{live_server.url}/review/questions/{world['open'].pk}/")
    review.wait_for_function(
        "() => [...document.querySelectorAll('.heat-map img')].every(i => i.complete)"
    )
    shot(review, "review-question")
    review.goto(f"{live_server.url}/review/model/")
    shot(review, "model")
    review.goto(f"{live_server.url}/review/dashboard/")
    shot(review, "dashboard")
    assert all((OUT / f"{name}.png").stat().st_size > 10_000 for name in shots)
