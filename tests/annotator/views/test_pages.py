"""Ask and Answer without a browser: plain POSTs (no JavaScript), htmx swaps, and refusals."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from annotator import errors, services
from annotator.models import Question, Vote, WatchSession
from tests.annotator.helpers import ask, playing, snapshot, video_make

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, annotator):
    client.force_login(annotator)
    return client


def credit(session: WatchSession, seconds: float = 30.0) -> None:
    """Credit the page's viewing as the player's heartbeats would."""
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for position in range(10, int(seconds) + 1, 10):
            clock.shift(10)
            services.watch_heartbeat(
                annotator=session.annotator,
                watch_session=session,
                heartbeat=playing(float(position)),
            )


class TestAsk:
    def test_the_page_shows_the_next_video_a_locked_form_and_open_templates(self, signed_in, video):
        response = signed_in.get(reverse("ask"))
        assert response.status_code == 200
        page = response.content.decode()
        session = response.context["session"]
        assert session.video == video and session.annotator.username == "alice"
        assert reverse("video-stream", args=[video.pk]) in page
        assert reverse("api-heartbeat", args=[session.pk]) in page
        # All 33, the most needed first in a group of their own (none asked yet: all needed).
        needed, rest = response.context["needed"], response.context["templates"]
        assert len(needed) == 5 and len(needed) + len(rest) == 33
        assert page.index('label="Most needed now"') < page.index('label="Audio questions"')

    def test_choosing_a_template_shows_its_slot_dropdowns_and_a_preview(self, signed_in, video):
        session = signed_in.get(reverse("ask")).context["session"]
        response = signed_in.get(
            reverse("ask"), {"session": session.pk, "template": 29, "part": "form"}, **HTMX
        )
        assert [slot["name"] for slot in response.context["slots"]] == [
            "Object",
            "LR",
            "Object",
            "LR",
        ]
        assert (
            response.context["preview"]
            == "Is the accordion on the left louder than the accordion on the left?"
        )
        assert b"<video" not in response.content, (
            "only the form is swapped; the video keeps playing"
        )
        assert b"disabled" in response.content, "submitting waits for the watch gate"

    def test_a_plain_post_after_watching_saves_and_redirects(self, signed_in, video):
        session = signed_in.get(reverse("ask")).context["session"]
        credit(session)
        form = {
            "watch_session": session.pk,
            "template": 29,
            "slot": ["cello", "left", "violin", "right"],
        }
        response = signed_in.post(reverse("ask"), form, follow=True)
        assert response.redirect_chain == [(reverse("ask"), 302)]
        assert "Your question is saved" in response.content.decode()
        assert (
            Question.objects.get().text
            == "Is the cello on the left louder than the violin on the right?"
        )

    def test_an_htmx_post_returns_the_next_item(self, signed_in, video):
        session = signed_in.get(reverse("ask")).context["session"]
        credit(session)
        form = {"watch_session": session.pk, "template": 11}
        response = signed_in.post(reverse("ask"), form, **HTMX)
        assert response.status_code == 200
        assert response.context["session"] != session, "a fresh viewing for the next question"
        assert "Your question is saved" in response.content.decode()
        assert b"<html" not in response.content

    def test_before_30_seconds_the_post_is_refused_with_the_message(self, signed_in, video):
        session = signed_in.get(reverse("ask")).context["session"]
        credit(session, 20)
        before = snapshot()
        response = signed_in.post(
            reverse("ask"), {"watch_session": session.pk, "template": 11}, **HTMX
        )
        assert response.status_code == 403
        assert "20.0 seconds have been counted" in response.content.decode()
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("form", "status", "message"),
        [
            (
                {"template": 29, "slot": ["cello", "up", "violin", "right"]},
                400,
                "is not a valid LR",
            ),
            ({"template": 29, "slot": ["cello"]}, 400, "needs 4 slot value(s); 1 given"),
            ({"template": 77}, 400, "There is no question template"),
        ],
    )
    def test_forged_forms_are_refused_and_change_nothing(
        self, signed_in, video, form, status, message
    ):
        session = signed_in.get(reverse("ask")).context["session"]
        credit(session)
        before = snapshot()
        response = signed_in.post(reverse("ask"), {"watch_session": session.pk, **form})
        assert response.status_code == status and message in response.context["error"]
        assert snapshot() == before

    def test_a_template_no_longer_open_is_refused(self, signed_in, other_annotator, video):
        session = signed_in.get(reverse("ask")).context["session"]
        credit(session)
        ask(other_annotator, video, template_id=11, slot_values=[])
        response = signed_in.post(reverse("ask"), {"watch_session": session.pk, "template": 11})
        assert response.status_code == 409 and errors.TEMPLATE_TAKEN in response.content.decode()

    def test_someone_elses_viewing_is_refused(self, client, other_annotator, signed_in, video):
        theirs = services.watch_start(annotator=other_annotator, video=video)
        before = snapshot()
        response = signed_in.post(reverse("ask"), {"watch_session": theirs.pk, "template": 11})
        assert (
            response.status_code == 404
            and errors.WATCH_SESSION_NOT_FOUND in response.content.decode()
        )
        assert snapshot() == before
        assert "Start again" in response.content.decode()

    def test_skipping_moves_to_another_video(self, signed_in, video):
        other = video_make()
        response = signed_in.post(reverse("ask-skip"), {"video": video.pk}, **HTMX)
        assert response.context["video"] == other
        response = signed_in.post(reverse("ask-skip"), {"video": other.pk}, **HTMX)
        assert "Nothing to ask right now" in response.content.decode()


class TestAnswer:
    @pytest.fixture
    def question(self, other_annotator, video):
        return ask(other_annotator, video, template_id=31, slot_values=["violin", "first"])

    def test_the_buttons_are_the_answer_kind_with_keys_plus_invalid(self, signed_in, question):
        response = signed_in.get(reverse("answer"))
        assert [b["answer"] for b in response.context["buttons"]] == [
            "left",
            "middle",
            "right",
            "simultaneously",
        ]
        page = response.content.decode()
        assert "<kbd>1</kbd> left" in page and "<kbd>x</kbd> This question is invalid" in page
        assert "yes" not in [b["answer"] for b in response.context["buttons"]]

    def test_a_vote_after_watching_is_saved_and_the_next_item_loads(self, signed_in, question):
        session = signed_in.get(reverse("answer")).context["session"]
        credit(session)
        form = {"question": question.pk, "watch_session": session.pk, "answer": "middle"}
        response = signed_in.post(reverse("answer"), form, **HTMX)
        assert response.status_code == 200 and "Your answer is saved" in response.content.decode()
        assert Vote.objects.get().answer.text == "middle"

    def test_the_invalid_button_flags_the_question(self, signed_in, question):
        session = signed_in.get(reverse("answer")).context["session"]
        credit(session)
        response = signed_in.post(
            reverse("answer"),
            {"question": question.pk, "watch_session": session.pk, "invalid": "1"},
            follow=True,
        )
        assert Vote.objects.get().invalid is True
        # Confirmed as what it is, not as an answer.
        page = response.content.decode()
        assert "Your flag is saved" in page and "Your answer is saved" not in page

    def test_an_answer_not_on_the_buttons_is_refused(self, signed_in, question):
        session = signed_in.get(reverse("answer")).context["session"]
        credit(session)
        before = snapshot()
        form = {"question": question.pk, "watch_session": session.pk, "answer": "yes"}
        response = signed_in.post(reverse("answer"), form)
        assert (
            response.status_code == 400
            and "'yes' does not answer this question" in response.context["error"]
        )
        assert snapshot() == before

    def test_a_question_answered_meanwhile_moves_on_with_a_message(
        self, signed_in, question, make_annotator
    ):
        from tests.annotator.helpers import vote

        session = signed_in.get(reverse("answer")).context["session"]
        credit(session)
        vote(make_annotator("v1"), question, "left")
        vote(make_annotator("v2"), question, "left")
        form = {"question": question.pk, "watch_session": session.pk, "answer": "right"}
        response = signed_in.post(reverse("answer"), form, follow=True)
        assert "no longer open for answers" in response.content.decode()
        assert not Vote.objects.filter(annotator__username="alice").exists()

    def test_skipping_hides_the_question_for_this_session(self, signed_in, question):
        response = signed_in.post(reverse("answer-skip"), {"question": question.pk}, **HTMX)
        assert "Nothing to answer right now" in response.content.decode()

    def test_nothing_to_answer_looks_again_by_itself(self, signed_in):
        page = signed_in.get(reverse("answer")).content.decode()
        assert "Nothing to answer right now" in page
        poll = f'hx-get="{reverse("answer")}" hx-trigger="every 30s" hx-target="#work"'
        assert poll in page and "looks again every 30 seconds" in page


def test_people_outside_the_annotators_group_are_turned_away(client, outsider, video):
    client.force_login(outsider)
    for name in ("ask", "answer"):
        response = client.get(reverse(name))
        assert (
            response.status_code == 403 and "Not an annotator account" in response.content.decode()
        )
    assert not WatchSession.objects.exists()


def test_posts_without_csrf_are_refused(annotator, video):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    session = services.watch_start(annotator=annotator, video=video)
    before = snapshot()
    assert (
        client.post(reverse("ask"), {"watch_session": session.pk, "template": 11}).status_code
        == 403
    )
    assert snapshot() == before
