from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from annotator import accounts
from annotator.models import Video
from tests.annotator.helpers import video_make


@pytest.fixture
def make_annotator(db, catalogue):
    def make(username: str) -> object:
        return accounts.annotator_create(username=username, password="a-long-test-password")

    return make


@pytest.fixture
def annotator(make_annotator):
    return make_annotator("alice")


@pytest.fixture
def other_annotator(make_annotator):
    return make_annotator("bob")


@pytest.fixture
def third_annotator(make_annotator):
    return make_annotator("carol")


@pytest.fixture
def reviewer(db, catalogue):
    return accounts.reviewer_create(username="rita", password="a-long-test-password")


@pytest.fixture
def outsider(db, catalogue):
    """Signed up, but not in the annotators group: may do nothing."""
    return get_user_model().objects.create_user("oscar", password="a-long-test-password")


@pytest.fixture
def video(db, catalogue) -> Video:
    return video_make()
