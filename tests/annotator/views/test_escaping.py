"""What people type reaches other people's pages only as text: a username, a video's title or a
question's slot values carrying HTML or script are shown escaped on every page that shows them,
annotators' and staff's, the admin's lists included."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from annotator.models import Question, QuestionStatus, RunStatus, TrainingRun, Video
from tests.annotator.helpers import ask, video_make, vote

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
SVG = "</text><svg onload=alert(1)>"
RAW = (SCRIPT, ATTRIBUTE, SVG, "<img src=x", "<svg onload", "<script>")


@pytest.fixture
def hostile(make_annotator, reviewer):
    """An author named like markup, on a video titled like markup, whose questions hold markup
    in their slot values (values the rules would refuse; an import or the shell could still
    write them, and the pages must not trust the rules for their escaping)."""
    author = make_annotator(ATTRIBUTE)
    voters = [make_annotator(SCRIPT), make_annotator("voter")]
    video = video_make(title=SCRIPT, instruments=ATTRIBUTE, source_name=SVG)
    accepted = ask(author, video, template_id=1)
    for voter in voters:
        vote(voter, accepted, accepted.template.answers[0])
    # Template 1 ("Is there a <Instrument> sound?") has one slot, shown in the question's text.
    open_one = ask(author, video_make(), template_id=1)
    disputed = ask(author, video_make(title=SVG), template_id=1)
    Question.objects.filter(pk=disputed.pk).update(status=QuestionStatus.DISPUTED)
    for question, slot in ((accepted, ATTRIBUTE), (open_one, SCRIPT), (disputed, SVG)):
        Question.objects.filter(pk=question.pk).update(slot_values=[slot])
        question.refresh_from_db()
    return {
        "author": author,
        "voter": voters[1],
        "reviewer": reviewer,
        "accepted": accepted,
        "open": open_one,
        "disputed": disputed,
        "video": video,
    }


def assert_escaped(html: str, *, shows: tuple[str, ...] = ()) -> None:
    """No hostile markup survives as markup; the values in `shows` appear, escaped."""
    for raw in RAW:
        assert raw not in html, raw
    for value in shows:
        assert escape(value) in html, value


def page(client, user, name: str, *args: object) -> str:
    client.force_login(user)
    response = client.get(reverse(name, args=args), follow=True)
    assert response.status_code == 200, (name, response.status_code)
    return response.content.decode()


def test_the_annotators_pages(client, hostile):
    home = page(client, hostile["author"], "home")
    assert_escaped(home, shows=(ATTRIBUTE,))  # signed in as that name
    assert_escaped(page(client, hostile["voter"], "answer"), shows=(SCRIPT,))
    assert_escaped(page(client, hostile["voter"], "ask"))


@pytest.mark.parametrize("queue", ["disagreements", "suggestions", "disputed"])
def test_the_review_queues(client, hostile, queue):
    assert_escaped(page(client, hostile["reviewer"], "review-queue", queue))


def test_the_review_page_of_each_question(client, hostile):
    for key in ("accepted", "open", "disputed"):
        html = page(client, hostile["reviewer"], "review-question", hostile[key].pk)
        assert_escaped(html, shows=(hostile[key].author.username, hostile[key].text))


@pytest.fixture
def hostile_worker_reports(hostile):
    """Text the gpu worker reports (a run's stage and error, a failed extraction's error) is
    shown to staff too; a stolen worker token could send markup."""
    TrainingRun.objects.create(
        trigger=TrainingRun.Trigger.ADMIN,
        accepted_pairs=1,
        status=RunStatus.FAILED,
        progress={"stage": ATTRIBUTE},
        error=SCRIPT,
    )
    Video.objects.filter(pk=hostile["video"].pk).update(feature_error=SVG)


def test_the_dashboard_and_the_model_page(client, hostile, hostile_worker_reports):
    assert_escaped(page(client, hostile["reviewer"], "dashboard"))
    assert_escaped(page(client, hostile["reviewer"], "review-model"), shows=(SCRIPT, ATTRIBUTE))


@pytest.mark.parametrize(
    "model",
    ["question", "video", "vote", "annotator", "statuschange", "watchsession", "trainingrun"],
)
def test_the_admin_lists(admin_client, hostile, hostile_worker_reports, model):
    response = admin_client.get(reverse(f"admin:annotator_{model}_changelist"))
    assert response.status_code == 200
    assert_escaped(response.content.decode())


def test_the_admin_pages_of_a_question_and_a_video(admin_client, hostile, hostile_worker_reports):
    for url in (
        reverse("admin:annotator_question_change", args=[hostile["accepted"].pk]),
        reverse("admin:annotator_video_change", args=[hostile["video"].pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert_escaped(response.content.decode())
