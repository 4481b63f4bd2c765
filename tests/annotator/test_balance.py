"""Bias caught while collecting: the question-only model's scores posted by the worker, the
answer balance per template, the Ask page ordered by need and naming the wanted answer, the
review queue of questions answerable without watching, and the scores in the export."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator import balance, modelloop
from annotator.export import dataset_export
from annotator.models import ModelVersion, Question, QuestionStatus, Video
from tests.annotator.api.conftest import script
from tests.annotator.api.test_worker import run_claimed
from tests.annotator.helpers import ask, video_make, vote
from tests.annotator.test_modelloop import RESULT

YES_NO = 1  # "Is there a <Object> sound?"


@pytest.fixture
def accepted(annotator, other_annotator, third_annotator):
    """accepted(template, answer, count): that many questions accepted with that answer, each
    on a video of its own."""

    def make(template_id: int, answer: str, count: int) -> list[Question]:
        made = []
        for _ in range(count):
            question = ask(annotator, video_make(), template_id=template_id)
            vote(other_annotator, question, answer)
            vote(third_annotator, question, answer)
            question.refresh_from_db()
            assert question.status == QuestionStatus.ACCEPTED
            made.append(question)
        return made

    return make


def version_make() -> ModelVersion:
    return modelloop.training_run_finish(
        run_claimed(), result=RESULT, checkpoint=SimpleUploadedFile("w.pt", b"weights")
    )[0]


def post_scores(api, version: ModelVersion, items: list[dict]):
    url = reverse("api-worker-blind-scores", args=[version.pk])
    return api.post(url, {"scores": items}, format="json")


class TestScoresFromTheWorker:
    def test_scores_are_stored_and_a_newer_retrain_replaces_them(self, worker_api, accepted):
        question = accepted(YES_NO, "yes", 1)[0]
        first = version_make()
        item = {"question_id": question.pk, "score": 0.91, "answer": "yes"}
        gone = {"question_id": 99_999, "score": 0.5, "answer": "no"}
        answer = post_scores(worker_api, first, [item, gone])
        assert answer.json() == {"stored": 1, "skipped": 1}
        question.refresh_from_db()
        assert (question.blind_score, question.blind_answer) == (0.91, "yes")

        second = version_make()
        post_scores(worker_api, second, [{**item, "score": 0.4, "answer": "no"}])
        # A late retry of the older version cannot undo the newer retrain's scores.
        late = post_scores(worker_api, first, [item])
        assert late.status_code == 409 and "not the newest" in late.json()["detail"]
        question.refresh_from_db()
        assert (question.blind_score, question.blind_answer) == (0.4, "no")

    @pytest.mark.parametrize(
        "change",
        [{"score": 1.5}, {"score": -0.1}, {"answer": "banana"}, {"question_id": 0}],
        ids=["above 1", "below 0", "unknown answer", "bad id"],
    )
    def test_a_malformed_post_stores_nothing(self, worker_api, accepted, change):
        question = accepted(YES_NO, "yes", 1)[0]
        items = [
            {"question_id": question.pk, "score": 0.9, "answer": "yes"},
            {"question_id": question.pk + 1, "score": 0.9, "answer": "yes", **change},
        ]
        assert post_scores(worker_api, version_make(), items).status_code == 400
        assert not Question.objects.filter(blind_score__isnull=False).exists()

    def test_a_question_twice_and_annotators_are_refused(self, worker_api, accepted, annotator):
        question = accepted(YES_NO, "yes", 1)[0]
        item = {"question_id": question.pk, "score": 0.9, "answer": "yes"}
        version = version_make()
        assert post_scores(worker_api, version, [item, item]).status_code == 400
        assert post_scores(script(annotator), version, [item]).status_code == 403
        assert not Question.objects.filter(blind_score__isnull=False).exists()


@pytest.mark.slow
def test_a_skewed_template_wants_its_rare_answer(accepted):
    accepted(YES_NO, "yes", 9)
    accepted(YES_NO, "no", 3)
    accepted(2, "two", 6)
    accepted(2, "one", 6)
    rows = {row.template.pk: row for row in balance.template_balance()}
    skewed, even = rows[YES_NO], rows[2]
    assert skewed.pairs == 12 and skewed.target_share == 0.5
    assert skewed.skew == pytest.approx(0.5)  # 75 % "yes": half way from 50 % to 100 %
    assert skewed.skewed and skewed.wanted_answer == "no"
    assert "are “yes” (75%)" in skewed.reason
    assert even.skew == 0 and even.wanted_answer is None
    # A yes/no template with only "yes" so far wants "no", which it has never had.
    rows[YES_NO].answers = rows[YES_NO].answers[:1]
    rows[YES_NO].answers[0].share = 1.0
    assert rows[YES_NO].wanted_answer == "no"


@pytest.mark.slow
def test_blind_answerable_pairs_are_counted_per_template_and_answer(accepted, settings):
    settings.BLIND_SCORE_WARNING = 0.8
    questions = accepted(2, "two", 4) + accepted(2, "one", 4)
    for question, score in zip(questions, (0.95, 0.9, 0.85, 0.1, 0.2, 0.3, 0.2, 0.1), strict=True):
        Question.objects.filter(pk=question.pk).update(blind_score=score, blind_answer="two")
    row = next(r for r in balance.template_balance() if r.template.pk == 2)
    assert (row.scored, row.blind) == (8, 3) and row.blind_share == pytest.approx(3 / 8)
    shares = {share.answer: share.blind_share for share in row.answers}
    assert shares == {"two": pytest.approx(3 / 4), "one": 0.0}
    assert row.blind_heavy and not row.skewed and row.wanted_answer == "one"


class TestTheAskPage:
    @pytest.mark.slow
    def test_the_most_needed_templates_come_first_with_the_wanted_answer(
        self, client, make_annotator, accepted
    ):
        accepted(YES_NO, "yes", 12)  # every pair "yes": skewed, and over-asked
        needs = balance.template_needs()
        assert needs[YES_NO].wanted_answer == "no"
        Video.objects.update(is_active=False)
        video_make()  # the one video open to ask on
        client.force_login(make_annotator("dave"))
        session = client.get(reverse("ask")).context["session"]
        html = client.get(
            reverse("ask"), {"session": session.pk, "template": YES_NO}
        ).content.decode()
        needed = html.split('<optgroup label="Most needed now">')[1].split("</optgroup>")[0]
        # The skewed template ties with the templates nobody has asked yet (need 1 each).
        assert needed.count("<option") == 5 and f'value="{YES_NO}" selected' in needed
        assert needs[YES_NO].need == needs[2].need == 1.0
        assert 'id="wanted-answer"' in html and "“no”" in html
        assert "are “yes” (100%)" in html

    @pytest.mark.slow
    def test_a_skewed_template_leads_when_the_others_have_their_share(self, accepted):
        accepted(YES_NO, "yes", 12)
        rows = balance.template_balance()
        for row in rows:  # as if every template had exactly its released share
            row.live_share = row.reference_share
        ranked = sorted(rows, key=lambda row: -row.need)
        assert ranked[0].template.pk == YES_NO


class TestTheReviewQueue:
    def test_the_most_blind_answerable_accepted_questions_first(
        self, client, reviewer, accepted, settings
    ):
        settings.BLIND_SCORE_WARNING = 0.8
        low, high, middle = accepted(YES_NO, "yes", 3)
        for question, score in ((low, 0.5), (high, 0.99), (middle, 0.85)):
            Question.objects.filter(pk=question.pk).update(blind_score=score, blind_answer="yes")
        assert list(balance.blind_answerable()) == [high, middle]
        client.force_login(reviewer)
        html = client.get(reverse("review-queue", args=["blind"])).content.decode()
        assert "Answerable without watching" in html

        def link(question):
            return f'href="{reverse("review-question", args=[question.pk])}"'

        assert html.index(link(high)) < html.index(link(middle))
        assert link(low) not in html and "0.99" in html

    def test_annotators_get_404(self, client, annotator):
        client.force_login(annotator)
        assert client.get(reverse("review-queue", args=["blind"])).status_code == 404


def test_the_export_manifest_carries_each_scored_question(accepted, tmp_path):
    scored, _ = accepted(YES_NO, "yes", 2)
    Question.objects.filter(pk=scored.pk).update(blind_score=0.93, blind_answer="yes")
    manifest = dataset_export().write(tmp_path)
    section = manifest["answerable_without_watching"]
    assert section["scores"] == {str(scored.pk): 0.93} and section["scored"] == 1
    assert json.loads((tmp_path / "manifest.json").read_text())["answerable_without_watching"]
