"""Every annotator and reviewer page, checked with axe-core in Chromium: no serious or critical
accessibility violation (WCAG 2.x A and AA rules)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"
AXE = Path(os.environ.get("AXE_CORE", "var/npm/node_modules/axe-core/axe.min.js"))
RESULTS = Path(os.environ.get("AXE_RESULTS", "var/axe-results.json"))

ANNOTATOR_PAGES = ["/", "/ask/", "/answer/", "/guidelines/"]
REVIEWER_PAGES = [
    "/",
    "/review/",
    "/review/queue/suggestions/",
    "/review/queue/blind/",
    "/review/model/",
    "/review/dashboard/",
    "/guidelines/",
]


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.exists():
        message = f"needs axe-core at {AXE} (make axe)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + ", and CI=true forbids skipping")
        pytest.skip(message)
    return AXE.read_text()


def violations(chromium, live_server, axe_source, username: str, paths: list[str]) -> dict:
    # The policy refuses inline scripts; axe is injected by the test, not by the page.
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    found = {"/accounts/login/": _check(page, axe_source)}
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        found[path] = _check(page, axe_source)
    context.close()
    return found


def _check(page, axe_source: str) -> list[dict]:
    page.evaluate(axe_source)
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {runOnly: ["wcag2a", "wcag2aa", "wcag21a",
                                                         "wcag21aa", "best-practice"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def _record(name: str, found: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    saved[name] = {path: [v["id"] for v in items] for path, items in found.items()}
    RESULTS.write_text(json.dumps(saved, indent=1))


def test_annotator_pages(chromium, live_server, axe_source, world):
    found = violations(chromium, live_server, axe_source, "voter3", ANNOTATOR_PAGES)
    _record("annotator", found)
    assert found == {path: [] for path in found}, json.dumps(found, indent=1)


def test_reviewer_pages(chromium, live_server, axe_source, world):
    question = world["accepted"]
    paths = [*REVIEWER_PAGES, f"/review/questions/{question.pk}/"]
    found = violations(chromium, live_server, axe_source, "reviewer", paths)
    _record("reviewer", found)
    assert found == {path: [] for path in found}, json.dumps(found, indent=1)
