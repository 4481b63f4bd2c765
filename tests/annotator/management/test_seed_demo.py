"""`manage.py seed_demo`: demo people with working printed passwords, and playable videos."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from annotator import selectors
from annotator.models import Video
from qa_model import media

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def seed(*args: str) -> str:
    out = io.StringIO()
    if "--collection" not in args:
        args = (*args, "--collection", "0")  # rendering a collection takes a while
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.slow
def test_it_creates_an_admin_a_reviewer_and_annotators_with_printed_passwords(catalogue):
    output = seed("--videos", "1", "--annotators", "6", "--seconds", "40")
    accounts = dict(re.findall(r"^\s+\w+\s+(\S+)\s+(\S+)$", output, re.MULTILINE))
    assert set(accounts) == {"admin", "reviewer"} | {f"annotator{i}" for i in range(1, 7)}
    people = {name: authenticate(username=name, password=pw) for name, pw in accounts.items()}
    assert all(people.values()), "every printed password signs in"
    assert people["admin"].is_superuser
    assert selectors.is_reviewer(people["reviewer"]) and not people["reviewer"].is_superuser
    assert all(selectors.is_annotator(people[f"annotator{i}"]) for i in range(1, 7))


@pytest.mark.slow
def test_its_videos_play_in_a_browser_and_last_at_least_40_seconds(catalogue, settings):
    seed("--videos", "2", "--annotators", "1", "--seconds", "40")
    assert Video.objects.count() == 2
    for video in Video.objects.all():
        info = media.probe(video.file.path)
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
        assert info.duration_seconds >= 40 and video.duration_seconds >= 40


@pytest.mark.slow
def test_running_it_again_adds_nothing_and_prints_the_same_accounts(catalogue):
    first = seed("--videos", "1", "--annotators", "2", "--seconds", "40")
    second = seed("--videos", "1", "--annotators", "2", "--seconds", "40")
    assert Video.objects.count() == 1
    assert first.splitlines()[-4:] == second.splitlines()[-4:]


def test_it_refuses_videos_shorter_than_40_seconds(catalogue):
    with pytest.raises(SystemExit):
        seed("--seconds", "20")
    assert not Video.objects.exists()


@pytest.mark.slow
def test_a_synthetic_collection_is_imported_as_accepted_pairs_with_gold(catalogue):
    """The first model learns from it, and new annotators qualify on its gold."""
    from annotator.models import Question, QuestionStatus
    from annotator.qualification import qualification_of

    output = seed("--videos", "1", "--annotators", "1", "--seconds", "40", "--collection", "4")
    pairs = Question.objects.filter(origin_release="Synthetic demo")
    assert pairs.count() > 40 and not pairs.exclude(status=QuestionStatus.ACCEPTED).exists()
    assert set(pairs.values_list("origin_split", flat=True)) <= {"train", "val", "test"}
    assert pairs.filter(gold_since__isnull=False).count() == 6
    assert f"{pairs.count()} accepted pairs on 4 synthetic clips" in output
    assert Video.objects.count() == 5
    # The demo's annotators start with the qualification round, on that gold.
    annotator = get_user_model().objects.get(username="annotator1")
    assert selectors.is_annotator(annotator)
    assert qualification_of(annotator).state == "qualifying"
    # Running it again imports nothing more.
    seed("--videos", "1", "--annotators", "1", "--seconds", "40", "--collection", "4")
    assert Question.objects.filter(origin_release="Synthetic demo").count() == pairs.count()
