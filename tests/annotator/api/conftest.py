"""API clients for the three people of every API test: the owner, another annotator, and one
who must see nothing (signed in, but not an annotator). Browser clients enforce CSRF."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def browser(user) -> APIClient:
    """A signed-in session that sends the CSRF token like the page's script does."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("home"))
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


def script(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def owner_api(annotator):
    return browser(annotator)


@pytest.fixture
def other_api(other_annotator):
    return browser(other_annotator)


@pytest.fixture
def outsider_api(outsider):
    return browser(outsider)


@pytest.fixture
def no_csrf_api(annotator):
    """Signed in, but sending no CSRF token: every write must be refused."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(annotator)
    return client
