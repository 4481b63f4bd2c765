"""Every page works under the content-security policy (config/csp.py): Chromium reports no
violation and no console error on the annotator's pages, the reviewer's, the admin's and the API
docs, and htmx, the player's heartbeats and the video stream still work."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from config import csp

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"

# Runs before the page's own scripts on every navigation (Playwright injects it outside the
# page's policy), so a violation during parsing is caught as well as one after an htmx swap.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ` +
    `${event.sourceFile}:${event.lineNumber}`
  );
});
"""


class Browser:
    """One signed-in browser tab that remembers every violation and console error it saw."""

    def __init__(self, chromium, live_server) -> None:
        self.url = live_server.url
        self.context = chromium.new_context(viewport={"width": 1100, "height": 900})
        self.context.add_init_script(LISTEN)
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"error: {error}"))
        self.page.on("response", self._response)

    def _console(self, message) -> None:
        # The admin's pages name no icon, so the browser asks for /favicon.ico: a 404 that has
        # nothing to do with the policy.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            self.problems.append(f"console: {message.text} at {message.location['url']}")

    def _response(self, response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status}: {response.url}")

    def open(self, path: str) -> Page:
        self.collect()
        response = self.page.goto(f"{self.url}{path}")
        assert response is not None and response.status == 200, (path, response)
        assert response.headers["content-security-policy"] == csp.policy_for(path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def sign_in(self, username: str, path: str = "/accounts/login/") -> None:
        self.open(path)
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def collect(self) -> None:
        """Move the current document's violations into `problems` (before it navigates)."""
        try:
            seen = self.page.evaluate("window.__violations || []")
        except Exception:  # no document yet
            return
        self.problems += [f"{self.page.url}: {violation}" for violation in seen]

    def assert_clean(self) -> None:
        self.collect()
        assert self.problems == []
        self.context.close()


def test_the_annotators_pages_work_under_the_policy(chromium, live_server, world):
    browser = Browser(chromium, live_server)
    browser.sign_in("voter3")
    expect(browser.page.locator("h1")).to_contain_text("Hello, voter3")
    browser.open("/")

    page = browser.open("/ask/")
    # htmx: choosing a template swaps in its slot lists.
    page.select_option("#template-choice", label="Counting: Is there a <Object> sound?")
    page.select_option("select[name=slot]", "piano")
    expect(page.locator(".preview")).to_have_text("Is there a piano sound?")
    # The watch bar's width comes from a data attribute, set through the CSSOM.
    assert page.locator(".watch-fill").evaluate("element => element.style.width") == "0%"
    # The video streams (media-src) and the player's heartbeats go out (connect-src).
    page.evaluate("document.querySelector('video').play()")
    expect(page.locator(".watch-label .credited")).not_to_have_text("0", timeout=15_000)
    assert page.evaluate("document.querySelector('video').readyState") >= 2

    page = browser.open("/answer/")
    expect(page.locator("h1.question-text")).to_have_text("Where is the performance?")
    browser.assert_clean()


def test_the_reviewers_pages_work_under_the_policy(chromium, live_server, world):
    browser = Browser(chromium, live_server)
    browser.sign_in("reviewer")
    browser.open("/review/")
    page = browser.open(f"/review/questions/{world['accepted'].pk}/")
    # Grounding strips and heat maps: positions and shades from data attributes.
    cells = page.locator(".strip-row .cell")
    expect(cells).to_have_count(20)
    assert cells.last.evaluate("element => element.style.opacity") == "1"
    expect(page.locator(".heat-map img").first).to_have_js_property("complete", True)
    browser.open("/review/model/")
    page = browser.open("/review/dashboard/")
    expect(page.locator(".legend .swatch").first).to_be_visible()
    browser.assert_clean()


def test_the_admin_and_the_api_docs_work_under_the_policy(chromium, live_server, world):
    browser = Browser(chromium, live_server)
    browser.sign_in("root", path="/admin/login/")
    expect(browser.page.locator("#site-name")).to_be_visible()
    browser.open("/admin/")
    browser.open("/admin/annotator/question/")
    browser.open(f"/admin/annotator/question/{world['accepted'].pk}/change/")
    page = browser.open("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("AVQA collection API")
    browser.assert_clean()


def test_an_inline_script_is_refused_and_reported(chromium, live_server, db):
    """The listener above does see violations: a script injected into the page as inline code
    (what an escaping bug would let through) does not run."""
    browser = Browser(chromium, live_server)
    page = browser.open("/accounts/login/")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.body.append(script);
        }"""
    )
    assert page.evaluate("window.injected === undefined")
    page.wait_for_function("() => window.__violations.length > 0")  # the event is async
    browser.collect()
    assert any("script-src-elem blocked inline" in problem for problem in browser.problems)
