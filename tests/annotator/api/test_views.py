"""Every API endpoint with the owner, another annotator and one who must see nothing; CSRF
enforced for browser sessions; refusals with their message and nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotator import errors
from annotator.models import Vote, WatchSession
from tests.annotator.api.conftest import script
from tests.annotator.helpers import ask, snapshot, video_make, vote, watched

pytestmark = pytest.mark.django_db

# Nothing in any response may reveal other people's work.
FORBIDDEN_KEYS = {
    "votes",
    "vote_count",
    "accepted_answer",
    "prediction",
    "predictions",
    "status_counts",
}


def keys(data) -> set[str]:
    if isinstance(data, dict):
        return set(data) | set().union(*(keys(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(keys(v) for v in data)) if data else set()
    return set()


def post(client, name, data=None, *args):
    return client.post(reverse(name, args=args), data or {}, format="json")


def cast(client, question, session_id, **body):
    return post(client, "api-vote", {"watch_session": session_id, **body}, question.pk)


def refused_unchanged(call, status, message=None):
    before = snapshot()
    response = call()
    assert response.status_code == status, response.content
    if message:
        assert response.json()["detail"] == message
    assert snapshot() == before
    return response


def beat(client, session_id, position, **overrides):
    body = {"position": position, "playing": True, "visible": True, "muted": False, "rate": 1.0}
    return post(client, "api-heartbeat", {**body, **overrides}, session_id)


def watch_via_api(client, video, seconds=30):
    """Start a viewing and play it for `seconds`, through the API, on a frozen advancing clock."""
    session = post(client, "api-watch-start", {"video": video.pk}).json()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for position in range(10, int(seconds) + 1, 10):
            clock.shift(10)
            state = beat(client, session["id"], float(position)).json()
    return state if seconds else session


class TestToken:
    def test_a_script_gets_a_token_and_uses_it(self, annotator, video):
        response = APIClient().post(
            reverse("api-token"), {"username": "alice", "password": "a-long-test-password"}
        )
        assert response.status_code == 200
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        assert client.get(reverse("api-next-video")).status_code == 200

    def test_a_wrong_password_gets_no_token(self, annotator):
        response = APIClient().post(reverse("api-token"), {"username": "alice", "password": "nope"})
        assert response.status_code == 400 and "token" not in response.json()

    def test_token_clients_need_no_csrf(self, annotator, video):
        assert post(script(annotator), "api-watch-start", {"video": video.pk}).status_code == 201


class TestWatchSessions:
    def test_the_owner_starts_a_viewing(self, owner_api, video):
        response = post(owner_api, "api-watch-start", {"video": video.pk})
        assert response.status_code == 201
        body = response.json()
        assert body["video"] == video.pk and body["credited_seconds"] == 0
        assert body["unlocked"] is False and body["required_seconds"] == settings.WATCH_MIN_SECONDS

    def test_a_viewing_to_answer_names_its_question(
        self, owner_api, make_annotator, other_annotator, third_annotator, video
    ):
        question = ask(other_annotator, video, template_id=1)
        body = {"video": video.pk, "question": question.pk}
        session = post(owner_api, "api-watch-start", body).json()
        assert WatchSession.objects.get(pk=session["id"]).answering == question
        other_video = video_make()
        elsewhere = {"video": other_video.pk, "question": question.pk}
        open_elsewhere = refused_unchanged(
            lambda: post(owner_api, "api-watch-start", elsewhere), 404
        )
        vote(third_annotator, question, "yes")
        vote(make_annotator("late"), question, "yes")  # accepted: hidden from others (A4)
        refused_unchanged(lambda: post(owner_api, "api-watch-start", body), 404)
        # Open or decided, on its video or another, the refusal is the same: opening viewings
        # maps nothing of others' questions.
        decided_elsewhere = post(owner_api, "api-watch-start", elsewhere)
        assert decided_elsewhere.json() == open_elsewhere.json()
        unknown = post(owner_api, "api-watch-start", {"video": other_video.pk, "question": 10**9})
        assert unknown.status_code == 404 and unknown.json() == open_elsewhere.json()

    def test_a_withdrawn_or_unknown_video_is_not_found(self, owner_api):
        withdrawn = video_make(is_active=False)
        refused_unchanged(lambda: post(owner_api, "api-watch-start", {"video": withdrawn.pk}), 404)
        refused_unchanged(lambda: post(owner_api, "api-watch-start", {"video": 999999}), 404)

    def test_one_who_is_not_an_annotator_can_do_nothing(self, outsider_api, video):
        response = refused_unchanged(
            lambda: post(outsider_api, "api-watch-start", {"video": video.pk}),
            403,
            errors.NOT_AN_ANNOTATOR,
        )
        assert response.json()["detail"] == errors.NOT_AN_ANNOTATOR

    def test_anonymous_requests_are_refused(self, video):
        response = APIClient().post(reverse("api-watch-start"), {"video": video.pk}, format="json")
        assert response.status_code == 401

    def test_a_post_without_csrf_is_refused(self, no_csrf_api, video):
        response = refused_unchanged(
            lambda: post(no_csrf_api, "api-watch-start", {"video": video.pk}), 403
        )
        assert "CSRF" in response.json()["detail"]

    def test_only_the_owner_sees_a_viewing(self, owner_api, other_api, outsider_api, video):
        session = post(owner_api, "api-watch-start", {"video": video.pk}).json()
        assert owner_api.get(reverse("api-watch-detail", args=[session["id"]])).status_code == 200
        assert other_api.get(reverse("api-watch-detail", args=[session["id"]])).status_code == 404
        assert (
            outsider_api.get(reverse("api-watch-detail", args=[session["id"]])).status_code == 403
        )


class TestHeartbeats:
    def test_heartbeats_credit_server_time_and_unlock_at_30_seconds(self, owner_api, video):
        state = watch_via_api(owner_api, video, seconds=30)
        assert state["credited_seconds"] == 30 and state["unlocked"] is True

    def test_a_forged_position_jump_earns_only_the_time_that_passed(self, owner_api, video):
        # The viewing starts on the frozen clock too, so exactly 2 s of server time pass.
        with time_machine.travel(timezone.now(), tick=False) as clock:
            session = post(owner_api, "api-watch-start", {"video": video.pk}).json()
            clock.shift(2)
            state = beat(owner_api, session["id"], 59.0).json()
        assert state["credited_seconds"] == 2 and not state["unlocked"]

    def test_each_answer_says_why_it_counted_less_than_the_time_that_passed(self, owner_api, video):
        with time_machine.travel(timezone.now(), tick=False) as clock:
            session = post(owner_api, "api-watch-start", {"video": video.pk}).json()
            clock.shift(5)
            state = beat(owner_api, session["id"], 5.0).json()
            assert (state["shortfall"], state["shortfall_text"]) == ("", "")
            clock.shift(5)
            state = beat(owner_api, session["id"], 10.0, volume=0.0).json()
            assert state["shortfall"] == "volume" and "volume is at 0" in state["shortfall_text"]
            clock.shift(5)
            state = beat(owner_api, session["id"], 10.0, playing=False).json()
            assert state["shortfall"] == "paused" and state["credited_seconds"] == 5

    def test_a_heartbeat_for_another_users_viewing_is_not_found(
        self, owner_api, other_api, other_annotator, video
    ):
        session = post(owner_api, "api-watch-start", {"video": video.pk}).json()
        refused_unchanged(
            lambda: beat(other_api, session["id"], 5.0), 404, errors.WATCH_SESSION_NOT_FOUND
        )
        refused_unchanged(lambda: beat(script(other_annotator), session["id"], 5.0), 404)

    def test_a_replayed_consumed_viewing_is_refused(self, owner_api, video):
        state = watch_via_api(owner_api, video)
        body = {"video": video.pk, "template": 11, "slot_values": [], "watch_session": state["id"]}
        post(owner_api, "api-question-create", body)
        refused_unchanged(
            lambda: beat(owner_api, state["id"], 45.0), 409, errors.WATCH_SESSION_CONSUMED
        )

    @pytest.mark.parametrize(
        "body",
        [{"position": "soon"}, {"position": -1}, {"playing": "maybe"}, {"rate": None}, {}],
    )
    def test_a_malformed_heartbeat_is_refused(self, owner_api, video, body):
        session = post(owner_api, "api-watch-start", {"video": video.pk}).json()
        full = {"position": 1.0, "playing": True, "visible": True, "muted": False, "rate": 1.0}
        payload = {**full, **body} if body else {}
        refused_unchanged(lambda: post(owner_api, "api-heartbeat", payload, session["id"]), 400)


class TestNextVideoAndTemplates:
    def test_the_next_video_comes_with_its_stream(self, owner_api, video):
        body = owner_api.get(reverse("api-next-video")).json()
        assert body == {
            "id": video.pk,
            "avqa_id": video.avqa_id,
            "title": video.title,
            "duration_seconds": video.duration_seconds,
            "stream_url": reverse("video-stream", args=[video.pk]),
        }

    def test_skipped_videos_are_excluded_and_nothing_left_is_204(self, owner_api, video):
        assert (
            owner_api.get(reverse("api-next-video"), {"exclude": str(video.pk)}).status_code == 204
        )
        assert owner_api.get(reverse("api-next-video"), {"exclude": "x"}).status_code == 400

    def test_templates_used_on_the_video_are_not_offered(self, owner_api, other_annotator, video):
        ask(other_annotator, video, template_id=29)
        templates = owner_api.get(reverse("api-open-templates", args=[video.pk])).json()
        assert 29 not in {t["id"] for t in templates} and len(templates) == 32
        comparison = next(t for t in templates if t["id"] == 28)
        assert [slot["name"] for slot in comparison["slots"]] == ["Object", "LR", "Object", "LR"]
        assert comparison["slots"][1]["choices"] == ["left", "middle", "right"]
        assert comparison["answers"] == ["yes", "no"]
        # Most needed first, as on the Ask page: the template just asked is no longer among the
        # under-asked ones.
        ranks = [t["need_rank"] for t in templates]
        assert ranks == sorted(ranks) and all(t["wanted_answer"] is None for t in templates)

    def test_outsiders_see_neither(self, outsider_api, video):
        assert outsider_api.get(reverse("api-next-video")).status_code == 403
        assert outsider_api.get(reverse("api-open-templates", args=[video.pk])).status_code == 403


class TestQuestions:
    def create(
        self, client, video, session_id, template=29, slots=("cello", "left", "violin", "right")
    ):
        return post(
            client,
            "api-question-create",
            {
                "video": video.pk,
                "template": template,
                "slot_values": list(slots),
                "watch_session": session_id,
            },
        )

    def test_the_owner_asks_after_watching(self, owner_api, video):
        state = watch_via_api(owner_api, video)
        response = self.create(owner_api, video, state["id"])
        assert response.status_code == 201
        body = response.json()
        assert body["text"] == "Is the cello on the left louder than the violin on the right?"
        assert body["status"] == "open" and not keys(body) & FORBIDDEN_KEYS

    def test_before_30_seconds_it_is_refused(self, owner_api, video):
        state = watch_via_api(owner_api, video, seconds=20)
        response = refused_unchanged(lambda: self.create(owner_api, video, state["id"]), 403)
        assert response.json()["code"] == "WatchTooShort" and response.json()["rule"] == "W1"

    def test_a_template_not_open_to_this_annotator_is_refused(
        self, owner_api, other_annotator, video
    ):
        ask(other_annotator, video, template_id=29)
        state = watch_via_api(owner_api, video)
        refused_unchanged(
            lambda: self.create(owner_api, video, state["id"]), 409, errors.TEMPLATE_TAKEN
        )

    def test_an_unknown_template_is_refused(self, owner_api, video):
        state = watch_via_api(owner_api, video)
        refused_unchanged(
            lambda: self.create(owner_api, video, state["id"], template=99),
            400,
            errors.UNKNOWN_TEMPLATE.format(template=99),
        )

    def test_slot_values_not_in_the_dropdown_are_refused(self, owner_api, video):
        state = watch_via_api(owner_api, video)
        response = refused_unchanged(
            lambda: self.create(
                owner_api, video, state["id"], slots=("cello", "above", "violin", "right")
            ),
            400,
        )
        assert "'above' is not a valid LR" in response.json()["detail"]

    def test_someone_elses_viewing_cannot_unlock_a_question(self, owner_api, other_api, video):
        state = watch_via_api(owner_api, video)
        refused_unchanged(
            lambda: self.create(other_api, video, state["id"]), 404, errors.WATCH_SESSION_NOT_FOUND
        )

    def test_a_replayed_viewing_is_refused(self, owner_api, video):
        state = watch_via_api(owner_api, video)
        assert self.create(owner_api, video, state["id"]).status_code == 201
        again = lambda: self.create(owner_api, video, state["id"], template=11, slots=())  # noqa: E731
        refused_unchanged(again, 409, errors.WATCH_SESSION_CONSUMED)

    def test_a_post_without_csrf_is_refused(self, no_csrf_api, annotator, video):
        session = watched(annotator, video)
        refused_unchanged(lambda: self.create(no_csrf_api, video, session.pk), 403)


class TestAnswering:
    @pytest.fixture
    def question(self, third_annotator, video):
        return ask(third_annotator, video, template_id=29)

    def test_the_next_question_shows_text_and_choices_only(self, owner_api, question):
        body = owner_api.get(reverse("api-next-question")).json()
        assert body["id"] == question.pk and body["answers"] == ["yes", "no"]
        assert body["text"] == question.text and body["video"]["id"] == question.video_id
        assert "status" not in body and not keys(body) & FORBIDDEN_KEYS

    def test_the_author_is_not_offered_their_own_question(self, question, third_annotator):
        from tests.annotator.api.conftest import browser

        assert browser(third_annotator).get(reverse("api-next-question")).status_code == 204

    def test_the_owner_votes_after_watching(self, owner_api, question, video):
        state = watch_via_api(owner_api, video)
        response = post(
            owner_api, "api-vote", {"watch_session": state["id"], "answer": "yes"}, question.pk
        )
        assert response.status_code == 201
        assert response.json()["answer"] == "yes" and not keys(response.json()) & FORBIDDEN_KEYS
        assert Vote.objects.get(question=question).annotator.username == "alice"

    def test_an_invalid_flag_is_a_vote(self, owner_api, question, video):
        state = watch_via_api(owner_api, video)
        response = post(
            owner_api, "api-vote", {"watch_session": state["id"], "invalid": True}, question.pk
        )
        assert response.status_code == 201 and response.json()["invalid"] is True

    def test_an_answer_of_the_wrong_kind_is_refused(self, owner_api, question, video):
        state = watch_via_api(owner_api, video)
        response = refused_unchanged(
            lambda: post(
                owner_api,
                "api-vote",
                {"watch_session": state["id"], "answer": "cello"},
                question.pk,
            ),
            400,
        )
        assert response.json()["code"] == "AnswerNotAllowed"

    def test_an_accepted_question_is_not_found_for_others(
        self, owner_api, question, video, make_annotator
    ):
        vote(make_annotator("v1"), question, "yes")
        vote(make_annotator("v2"), question, "yes")
        state = watch_via_api(owner_api, video)
        refused_unchanged(
            lambda: post(
                owner_api, "api-vote", {"watch_session": state["id"], "answer": "no"}, question.pk
            ),
            404,
        )

    def test_the_author_cannot_vote(self, question, video, third_annotator):
        from tests.annotator.api.conftest import browser

        client = browser(third_annotator)
        state = watch_via_api(client, video)
        refused_unchanged(
            lambda: cast(client, question, state["id"], answer="no"),
            403,
            errors.OWN_QUESTION,
        )

    def test_a_second_vote_is_refused(self, owner_api, question, video):
        first = watch_via_api(owner_api, video)
        cast(owner_api, question, first["id"], answer="yes")
        second = watch_via_api(owner_api, video)
        refused_unchanged(
            lambda: cast(owner_api, question, second["id"], answer="no"),
            409,
            errors.ALREADY_VOTED,
        )

    def test_outsiders_and_csrf_less_posts_are_refused(
        self, outsider_api, no_csrf_api, question, annotator
    ):
        assert outsider_api.get(reverse("api-next-question")).status_code == 403
        session = watched(annotator, question.video)
        refused_unchanged(
            lambda: post(
                no_csrf_api, "api-vote", {"watch_session": session.pk, "answer": "yes"}, question.pk
            ),
            403,
        )


class TestContributions:
    def test_only_your_own_work_without_answers_of_others(
        self, owner_api, other_api, annotator, other_annotator, third_annotator, video
    ):
        mine = ask(annotator, video, template_id=1)
        theirs = ask(other_annotator, video, template_id=7)
        vote(annotator, theirs, "yes")
        vote(third_annotator, mine, "no")
        body = owner_api.get(reverse("api-contributions")).json()
        assert [q["id"] for q in body["questions"]] == [mine.pk]
        assert [(v["question"], v["answer"]) for v in body["votes"]] == [(theirs.pk, "yes")]
        assert not (keys(body["questions"]) | keys(body["votes"])) & FORBIDDEN_KEYS
        assert other_api.get(reverse("api-contributions")).json()["questions"][0]["id"] == theirs.pk


class TestSchema:
    def test_the_schema_and_docs_are_served_locally(self, client):
        schema = client.get(reverse("api-schema"))
        assert schema.status_code == 200 and b"openapi: 3" in schema.content
        docs = client.get(reverse("api-docs"))
        assert docs.status_code == 200
        page = docs.content.decode()
        assert "swagger-ui" in page and "cdn" not in page.lower() and "https://" not in page


def test_watch_sessions_expire_from_the_api_too(owner_api, video):
    session = post(owner_api, "api-watch-start", {"video": video.pk}).json()
    WatchSession.objects.filter(pk=session["id"]).update(
        started_at=timezone.now() - timedelta(days=3)
    )
    from annotator.services import watch_sessions_prune

    watch_sessions_prune()
    assert owner_api.get(reverse("api-watch-detail", args=[session["id"]])).status_code == 404
