"""An annotator's day in a real browser: watch, ask, answer; the gate and the pause."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from annotator import accounts, services
from annotator.models import Question, QuestionStatus, WatchSession
from tests.annotator.helpers import ask, watched

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"


@pytest.fixture
def video(catalogue, clip_path):
    return services.video_create(avqa_id="perf0001", source=clip_path, title="A performance")


@pytest.fixture
def people(catalogue):
    return {
        name: accounts.annotator_create(username=name, password=PASSWORD)
        for name in ("asker", "voter1", "voter2")
    }


def signed_in(chromium, live_server, username: str) -> Page:
    page = chromium.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text(f"Hello, {username}")
    return page


def play(page: Page) -> None:
    page.evaluate("document.querySelector('video').play()")


def playback_seconds(page: Page) -> float:
    return page.evaluate("document.querySelector('video').currentTime")


def test_ask_then_two_matching_answers_accept_the_question(
    chromium, live_server, video, people, settings, tmp_path
):
    settings.WATCH_MIN_SECONDS = 6
    page = signed_in(chromium, live_server, "asker")
    page.screenshot(path=tmp_path / "home.png", full_page=True)
    page.click("text=Ask →")
    expect(page.locator("h1")).to_have_text("Ask a question about this video")
    page.select_option("#template-choice", label="Counting: Is there a <Object> sound?")
    submit = page.locator("form.ask-form button[type=submit]")
    expect(submit).to_be_disabled()
    page.select_option("select[name=slot]", "piano")
    expect(page.locator(".preview")).to_have_text("Is there a piano sound?")
    play(page)
    expect(submit).to_be_enabled(timeout=20_000)
    page.screenshot(path=tmp_path / "ask.png", full_page=True)
    submit.click()
    expect(page.locator(".message.success")).to_contain_text(
        "Your question is saved: “Is there a piano sound?”"
    )
    question = Question.objects.get()
    assert (question.template_id, question.slot_values, question.author.username) == (
        1,
        ["piano"],
        "asker",
    )

    for voter in ("voter1", "voter2"):
        page = signed_in(chromium, live_server, voter)
        page.click("text=Answer →")
        expect(page.locator("h1.question-text")).to_have_text("Is there a piano sound?")
        buttons = page.locator("fieldset.answers button")
        expect(buttons).to_have_count(3)  # yes, no, and "This question is invalid"
        expect(page.locator("button[data-key='1']")).to_have_text("1 yes")
        play(page)
        expect(page.locator("button[data-key='1']")).to_be_enabled(timeout=20_000)
        if voter == "voter1":
            page.screenshot(path=tmp_path / "answer.png", full_page=True)
        page.keyboard.press("1")
        expect(page.locator(".message.success")).to_contain_text("Your answer is saved")
        expect(page.locator("h1")).to_have_text("Nothing to answer right now")

    question.refresh_from_db()
    assert question.status == QuestionStatus.ACCEPTED and question.accepted_answer.text == "yes"
    assert all(
        (tmp_path / f"{name}.png").stat().st_size > 10_000 for name in ("home", "ask", "answer")
    )


def test_the_default_gate_is_locked_at_25_seconds_and_opens_after_30(
    chromium, live_server, video, people
):
    ask(people["asker"], video, template_id=11, slot_values=[])
    page = signed_in(chromium, live_server, "voter1")
    page.goto(f"{live_server.url}/answer/")
    first = page.locator("button[data-key='1']")
    expect(first).to_be_disabled()
    play(page)
    # Functions, not expressions: Playwright evaluates an expression with eval, which the
    # content-security policy refuses.
    page.wait_for_function(
        "() => document.querySelector('video').currentTime >= 25", timeout=40_000
    )
    expect(first).to_be_disabled()
    assert WatchSession.objects.get(annotator=people["voter1"]).credited_seconds < 30
    page.wait_for_function(
        "() => document.querySelector('video').currentTime >= 30", timeout=15_000
    )
    expect(first).to_be_enabled(timeout=12_000)
    expect(page.locator(".watch-label")).to_have_text("Unlocked: you can submit")
    assert WatchSession.objects.get(annotator=people["voter1"]).credited_seconds >= 30


def test_pausing_stops_the_credit(chromium, live_server, video, people):
    page = signed_in(chromium, live_server, "asker")
    page.goto(f"{live_server.url}/ask/")
    play(page)
    page.wait_for_function(
        "() => document.querySelector('video').currentTime >= 11", timeout=20_000
    )
    page.evaluate("document.querySelector('video').pause()")
    page.wait_for_timeout(1_500)  # the pause heartbeat
    credited = WatchSession.objects.get(annotator=people["asker"]).credited_seconds
    assert 5 <= credited <= 12
    # The page says why, next to the bar, in a live region screen readers announce.
    reason = page.locator(".watch-reason[role=status]")
    expect(reason).to_have_text("Paused: the count goes on when the video plays.")
    bar = page.locator(".watch-bar[role=progressbar]")
    assert int(bar.get_attribute("aria-valuenow")) == int(credited)
    assert bar.get_attribute("aria-valuemax") == "30"
    page.wait_for_timeout(12_000)
    assert WatchSession.objects.get(annotator=people["asker"]).credited_seconds == credited
    assert playback_seconds(page) < 12.5


def test_the_gate_says_why_it_waits_and_offers_a_replay_when_the_clip_ends_short(
    chromium, live_server, video, people
):
    page = signed_in(chromium, live_server, "asker")
    page.goto(f"{live_server.url}/ask/")
    page.evaluate("document.querySelector('video').muted = true")
    play(page)
    reason = page.locator(".watch-reason")
    expect(reason).to_have_text("Muted: watching counts only with sound.", timeout=10_000)
    page.evaluate("document.querySelector('video').muted = false")
    expect(reason).to_have_text("", timeout=10_000)
    # Skipped to just before the end: the clip ends long before 30 s were counted.
    replay = page.locator("button.watch-replay")
    expect(replay).to_be_hidden()
    page.evaluate("document.querySelector('video').currentTime = 43")
    expect(reason).to_contain_text("The clip ended before the minimum", timeout=15_000)
    expect(replay).to_be_visible()
    replay.click()
    expect(replay).to_be_hidden()
    replaying = (
        "() => { const v = document.querySelector('video');"
        " return !v.paused && v.currentTime < 5; }"
    )
    page.wait_for_function(replaying)


def test_the_work_pages_fit_a_phone(chromium, live_server, video, people, tmp_path):
    ask(people["asker"], video, template_id=33, slot_values=["first"])
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "voter1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    for path in ("/", "/ask/", "/answer/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    expect(page.locator("fieldset.answers button")).to_have_count(23)  # 22 instruments + invalid
    page.screenshot(path=tmp_path / "answer-phone.png", full_page=True)


def test_keys_play_skip_answer_and_can_be_turned_off(chromium, live_server, video, people):
    """k plays and pauses, ? lists every key, the list can turn single keys off, and after an
    htmx swap the focus is on the new item's heading."""
    ask(people["asker"], video, template_id=11, slot_values=[])
    page = signed_in(chromium, live_server, "voter1")
    page.goto(f"{live_server.url}/answer/")
    paused = "() => document.querySelector('video').paused"
    page.keyboard.press("k")
    page.wait_for_function("() => !document.querySelector('video').paused")
    page.keyboard.press("k")
    page.wait_for_function(paused)
    page.keyboard.press("?")
    help_dialog = page.locator("#keys-help")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Skip this video or question")
    page.check("#keys-off")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("k")  # turned off: nothing plays
    page.wait_for_timeout(500)
    assert page.evaluate(paused)
    page.keyboard.press("?")
    page.uncheck("#keys-off")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("s")  # skip: the empty state swaps in, and takes the focus
    expect(page.locator("h1")).to_have_text("Nothing to answer right now")
    focused = page.evaluate("() => document.activeElement.tagName")
    assert focused == "H1"


def test_a_newcomer_qualifies_on_gold_before_their_answers_count(
    chromium, live_server, video, people, settings
):
    """The home page announces the round, the Answer page offers its gold questions one by one
    and says so, and passing is confirmed; ordinary questions come after."""
    settings.WATCH_MIN_SECONDS = 4
    settings.QUALIFICATION_QUESTIONS, settings.GOLD_SHARE = 2, 0
    reviewer = accounts.reviewer_create(username="reviewer", password=PASSWORD)
    golds = []
    for template_id, slot_values in ((11, []), (7, ["piano"])):
        question = ask(people["asker"], video, template_id=template_id, slot_values=slot_values)
        answer = question.template.answers[0]
        for voter in ("voter1", "voter2"):
            viewing = watched(people[voter], video)
            services.vote_cast(
                annotator=people[voter], question=question, watch_session=viewing, answer=answer
            )
        question.refresh_from_db()
        services.question_gold_set(reviewer=reviewer, question=question, gold=True)
        golds.append(question)
    newcomer = accounts.annotator_create(username="newcomer", password=PASSWORD)
    page = signed_in(chromium, live_server, "newcomer")
    expect(page.locator(".message.info")).to_contain_text("answer 2 qualification questions")
    page.click("text=Answer →")
    for number, question in enumerate(golds, 1):
        banner = page.locator(".qualification")
        expect(banner).to_contain_text(f"Qualification question {number} of 2")
        expect(page.locator("h1.question-text")).to_have_text(question.text)
        play(page)
        first = page.locator("button[data-key='1']")
        expect(first).to_be_enabled(timeout=20_000)
        first.click()
    expect(page.locator(".message.success")).to_contain_text("You passed the qualification")
    from annotator.qualification import qualification_of

    assert qualification_of(newcomer).state == "passed"
