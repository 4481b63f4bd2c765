"""The home page: what the signed-in person can do now, and only their own counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.annotator.helpers import ask, video_make, vote

pytestmark = pytest.mark.django_db


def test_home_requires_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_an_annotator_sees_what_they_can_do_and_their_own_counts(
    client, annotator, other_annotator, third_annotator, video
):
    question = ask(other_annotator, video, template_id=1)
    vote(third_annotator, question, "yes")
    client.force_login(annotator)
    page = client.get(reverse("home")).content.decode()
    assert "<strong>1</strong> video you can ask about" in page
    assert "<strong>1</strong> question you can answer" in page
    assert "You have asked <strong>0</strong> questions and cast <strong>0</strong> votes" in page
    assert "yes" not in page.split("<main>")[1], "nothing of other people's votes"


def test_a_person_outside_the_annotators_group_is_told_so(client, outsider):
    client.force_login(outsider)
    assert "not an annotator account yet" in client.get(reverse("home")).content.decode()


def test_sign_in_and_out(client, annotator):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "a-long-test-password"}
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_a_reviewer_sees_the_queues_with_their_counts_and_links(
    client, reviewer, annotator, other_annotator, third_annotator
):
    from annotator.models import Question

    question = ask(annotator, video_make(), template_id=1)
    vote(other_annotator, question, "yes")
    vote(third_annotator, question, "yes")
    Question.objects.filter(pk=question.pk).update(blind_score=0.97, blind_answer="yes")
    client.force_login(reviewer)
    page = client.get(reverse("home")).content.decode()
    assert "1 video · 1 live question · <strong>1</strong> accepted pair." in page
    blind = reverse("review-queue", args=["blind"])
    assert (
        f'<a class="action" href="{blind}"><strong>1</strong> answerable without watching' in page
    )
    disputed = reverse("review-queue", args=["disputed"])
    assert f'<a class="action" href="{disputed}"><strong>0</strong> disputed' in page
    assert "No model version yet." in page and reverse("dashboard") in page
