"""Review pages: staff only; the queues rank what most needs a look; a reviewer's decision
lands in the audit trail; the model page charts accuracy across versions."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from annotator import modelloop
from annotator.models import (
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    StatusChange,
    TrainingRun,
)
from tests.annotator.helpers import ask, video_make, vote
from tests.annotator.test_modelloop import RESULT

MAP = [[1 / 196] * 14 for _ in range(14)]


def version_make(metrics: dict | None = None, baselines: dict | None = None) -> ModelVersion:
    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=0)
    modelloop.training_run_claim(run)
    result = {**RESULT, "metrics": metrics or {}, "baselines": baselines or {}}
    return modelloop.training_run_finish(
        run, result=result, checkpoint=ContentFile(b"w", name="w.pt")
    )[0]


def predict(version: ModelVersion, question: Question, answer: str, confidence: float):
    return Prediction.objects.create(
        version=version,
        question=question,
        answer=answer,
        confidence=confidence,
        top3=[{"answer": answer, "confidence": confidence}],
        audio_weights=[0.1] * 10,
        visual_weights=[0.05] * 9 + [0.55],
        spatial_maps={"segments": [0, 4, 9], "maps": [MAP, MAP, MAP]},
    )


@pytest.fixture
def world(annotator, other_annotator, third_annotator, reviewer):
    """Accepted questions the model contradicts (surely, weakly), one it agrees with, an open
    one, a disputed one; and version 1's predictions for them."""
    video = video_make()
    people = (other_annotator, third_annotator)

    def accepted(template_id: int) -> Question:
        question = ask(annotator, video, template_id=template_id)
        for person in people:
            vote(person, question, question.template.answers[0])
        question.refresh_from_db()
        return question

    sure, weak, agreed = accepted(1), accepted(2), accepted(3)
    open_one = ask(annotator, video, template_id=4)
    version = version_make()
    predict(version, sure, sure.template.answers[1], 0.93)
    predict(version, weak, weak.template.answers[1], 0.31)
    predict(version, agreed, agreed.template.answers[0], 0.99)
    predict(version, open_one, open_one.template.answers[0], 0.7)
    disputed = ask(annotator, video_make(), template_id=1)
    Question.objects.filter(pk=disputed.pk).update(status=QuestionStatus.DISPUTED)
    return {
        "sure": sure,
        "weak": weak,
        "agreed": agreed,
        "open": open_one,
        "disputed": disputed,
        "version": version,
    }


@pytest.fixture
def staff(client, reviewer):
    client.force_login(reviewer)
    return client


URLS = [("review", []), ("review-queue", ["suggestions"]), ("review-model", [])]


class TestWhoSeesIt:
    @pytest.mark.parametrize(("name", "args"), URLS)
    def test_annotators_get_404_and_strangers_the_login_page(self, client, annotator, name, args):
        url = reverse(name, args=args)
        assert client.get(url).status_code == 302
        client.force_login(annotator)
        assert client.get(url).status_code == 404

    @pytest.mark.slow
    def test_an_annotator_cannot_open_a_question_for_review(self, client, world, annotator):
        client.force_login(annotator)
        url = reverse("review-question", args=[world["sure"].pk])
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "invalidate"}).status_code == 404
        assert Question.objects.get(pk=world["sure"].pk).status == QuestionStatus.ACCEPTED

    @pytest.mark.slow
    def test_the_annotators_pages_never_show_predictions(self, client, world, other_annotator):
        client.force_login(other_annotator)
        for name in ("home", "answer"):
            assert b"0.7" not in client.get(reverse(name)).content


class TestQueues:
    @pytest.mark.slow
    def test_confident_disagreements_first_weak_ones_and_agreements_left_out(self, staff, world):
        page = staff.get(reverse("review-queue", args=["disagreements"]))
        listed = [p.question for p in page.context["page"]]
        assert listed == [world["sure"]]

    @pytest.mark.slow
    def test_open_questions_with_the_models_suggestion(self, staff, world):
        page = staff.get(reverse("review-queue", args=["suggestions"]))
        assert [p.question for p in page.context["page"]] == [world["open"]]

    def test_disputed_questions(self, staff, world):
        page = staff.get(reverse("review-queue", args=["disputed"]))
        assert list(page.context["page"]) == [world["disputed"]]

    def test_without_a_model_it_says_so(self, staff, db):
        page = staff.get(reverse("review"))
        assert b"No model version yet" in page.content

    def test_an_unknown_queue_is_404(self, staff, db):
        assert staff.get(reverse("review-queue", args=["everything"])).status_code == 404


class TestQuestionPage:
    def test_it_shows_votes_prediction_strip_and_heat_maps(self, staff, world):
        question = world["sure"]
        page = staff.get(reverse("review-question", args=[question.pk]))
        html = page.content.decode()
        assert page.context["prediction"].confidence == 0.93
        assert len(page.context["segments"]) == 10
        assert page.context["segments"][-1]["visual_shade"] == 1.0  # the most attended second
        assert [m["second"] for m in page.context["heat_maps"]] == [0, 24, 54]
        # Shaded from the least to the most attended patch, with the real range in words: a
        # uniform map is shown as what it is, no patch preferred, not as an even red wash.
        uniform = page.context["heat_maps"][0]
        assert set(uniform["cells"]) == {0.0} and uniform["range"] == "0.51–0.51 %"
        assert "0.51–0.51 % per patch" in page.content.decode()
        assert html.count('class="cell"') == 20 and html.count("<figure") == 3
        assert "bob" in html and "carol" in html

    def test_overriding_the_answer_is_audited(self, staff, world, reviewer):
        question = world["sure"]
        new = question.template.answers[1]
        staff.post(
            reverse("review-question", args=[question.pk]),
            {"action": "accept", "answer": new, "note": "model was right"},
        )
        question.refresh_from_db()
        assert question.accepted_answer.text == new
        change = StatusChange.objects.filter(question=question).last()
        assert (change.cause, change.actor, change.note) == ("review", reviewer, "model was right")

    @pytest.mark.parametrize("action", ["invalidate", "reopen", "keep"])
    def test_each_action_lands_in_the_history(self, staff, world, action):
        question = world["sure"]
        before = question.history.count()
        staff.post(reverse("review-question", args=[question.pk]), {"action": action})
        question.refresh_from_db()
        assert question.history.count() == before + 1
        expected = {"invalidate": "invalid", "reopen": "open", "keep": "accepted"}[action]
        assert question.status == expected

    def test_a_refused_action_says_why_and_changes_nothing(self, staff, world):
        question = world["open"]
        page = staff.post(
            reverse("review-question", args=[question.pk]), {"action": "keep"}, follow=True
        )
        assert "Only an accepted or invalid question can be kept" in page.content.decode()
        question.refresh_from_db()
        assert question.status == QuestionStatus.OPEN


class TestFrames:
    def test_a_frame_of_a_real_video_is_a_jpeg(self, staff, db, tmp_path, catalogue):
        from annotator import services
        from qa_model.synthetic import Scene, render_scene

        clip = render_scene(Scene.random(5, duration_seconds=3.0), tmp_path / "c.mp4", fps=4)
        video = services.video_create(avqa_id="framed", source=clip)
        response = staff.get(reverse("review-frame", args=[video.pk, 1]))
        assert response["Content-Type"] == "image/jpeg" and response.content[:2] == b"\xff\xd8"
        assert staff.get(reverse("review-frame", args=[video.pk, 61])).status_code == 404


def test_a_heat_map_is_stretched_from_its_least_to_its_most_attended_patch():
    from annotator.views.review import _heat_maps

    grid = [[0.004] * 14 for _ in range(14)]
    grid[3][5] = 0.01
    prediction = Prediction(spatial_maps={"segments": [1], "maps": [grid]})
    (heat,) = _heat_maps(prediction)
    assert heat["second"] == 6 and heat["range"] == "0.40–1.00 %"
    assert heat["cells"][3 * 14 + 5] == 0.75 and heat["cells"][0] == 0.0


class TestModelPage:
    def test_per_type_accuracy_is_charted_across_versions(self, staff, db):
        for overall in (0.4, 0.55):
            columns = {"A avg": overall, "V avg": overall, "AV avg": overall, "All": overall}
            baseline = {key: 0.3 for key in columns}
            version_make({"columns": columns}, {"question_only": {"columns": baseline}})
        page = staff.get(reverse("review-model"))
        html = page.content.decode()
        assert html.count("<polyline") == 4 and "v2 avst (active)" in html
        assert "55%" in html and "40%" in html
        # Under each version, its question-only baseline trained on the same split.
        assert html.count("question_only (same split)") == 2 and "30%" in html


def test_the_model_page_shows_a_running_runs_progress(staff, db):
    run = TrainingRun.objects.create(trigger=TrainingRun.Trigger.ADMIN, accepted_pairs=0)
    modelloop.training_run_claim(run)
    progress = {"stage": "qa", "epoch": 4, "epochs": 30, "loss": 2.5, "val_accuracy": 0.41}
    modelloop.training_run_progress(run, progress)
    html = staff.get(reverse("review-model")).content.decode()
    assert f"Run {run.pk} · <b>running</b>" in html
    assert "epoch 4/30 · loss 2.500 · val 41%" in html
    # While it runs, the list asks for itself again every 5 s (htmx), and gets the news.
    assert 'hx-get="/review/model/?part=runs" hx-trigger="every 5s"' in html
    modelloop.training_run_progress(run, {**progress, "epoch": 5, "loss": 2.25})
    part = staff.get(reverse("review-model"), {"part": "runs"}).content.decode()
    assert part.lstrip().startswith("{#") is False and 'id="runs"' in part
    assert "epoch 5/30 · loss 2.250" in part and "<h1>" not in part
    # Once no run is active, the polling stops.
    modelloop.training_run_fail(run, error="out of memory")
    assert "hx-trigger" not in staff.get(reverse("review-model"), {"part": "runs"}).content.decode()
