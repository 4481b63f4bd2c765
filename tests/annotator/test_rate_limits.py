"""Rate limits: failed sign-ins per address and per username, the annotator API per user, and
requests let through when the counters' cache is down."""

from __future__ import annotations

import logging
import os
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from annotator import throttling
from tests.annotator.api.conftest import script

PASSWORD = "a-long-test-password"
ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


@pytest.fixture
def clock(monkeypatch):
    """The limits' clock, moved by hand, so a test can step past a window without waiting."""
    now = [1_000_000.0]
    monkeypatch.setattr(throttling, "clock", lambda: now[0])
    return now


@pytest.fixture
def login_limits(settings, clock):
    settings.LOGIN_RATE_PER_IP = "5/10m"
    settings.LOGIN_RATE_PER_USERNAME = "3/10m"


def sign_in(username: str, password: str, ip: str):
    return Client(REMOTE_ADDR=ip).post(
        reverse("login"), {"username": username, "password": password}
    )


def token(username: str, password: str, ip: str):
    return APIClient(REMOTE_ADDR=ip).post(
        reverse("api-token"), {"username": username, "password": password}, format="json"
    )


class TestLoginPage:
    def test_it_refuses_a_username_after_its_failures_even_with_the_right_password(
        self, annotator, login_limits
    ):
        for _ in range(3):
            assert sign_in("alice", "wrong", ATTACKER).status_code == 200
        response = sign_in("alice", PASSWORD, ELSEWHERE)
        assert response.status_code == 429
        wait = int(response["Retry-After"])
        assert 0 < wait <= 600
        assert throttling.LOGIN_THROTTLED.format(seconds=wait) in response.content.decode()

    def test_the_user_signs_in_after_the_window(self, annotator, login_limits, clock):
        for _ in range(3):
            sign_in("Alice", "wrong", ATTACKER)  # any case counts against the same account
        assert sign_in("alice", PASSWORD, ELSEWHERE).status_code == 429
        clock[0] += 601
        assert sign_in("alice", PASSWORD, ELSEWHERE).status_code == 302

    def test_it_refuses_an_address_guessing_at_many_accounts_but_not_others(
        self, annotator, login_limits
    ):
        for n in range(5):
            assert sign_in(f"guess{n}", "wrong", ATTACKER).status_code == 200
        assert sign_in("alice", PASSWORD, ATTACKER).status_code == 429
        assert sign_in("alice", PASSWORD, ELSEWHERE).status_code == 302

    def test_a_success_starts_the_accounts_count_over(self, annotator, login_limits):
        for _ in range(2):
            sign_in("alice", "wrong", ELSEWHERE)
        assert sign_in("alice", PASSWORD, ELSEWHERE).status_code == 302
        for _ in range(2):
            assert sign_in("alice", "wrong", ELSEWHERE).status_code == 200
        assert sign_in("alice", PASSWORD, ELSEWHERE).status_code == 302

    def test_the_admin_sign_in_is_limited_too(self, admin_user, login_limits):
        for _ in range(3):
            Client(REMOTE_ADDR=ATTACKER).post(
                reverse("admin:login"), {"username": "admin", "password": "wrong"}
            )
        response = Client(REMOTE_ADDR=ELSEWHERE).post(
            reverse("admin:login"), {"username": "admin", "password": "password"}
        )
        assert response.status_code == 429

    def test_behind_a_trusted_proxy_the_forwarded_address_counts(
        self, annotator, login_limits, settings
    ):
        settings.TRUSTED_PROXIES = 1
        for n in range(5):
            Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {ATTACKER}").post(
                reverse("login"), {"username": f"guess{n}", "password": "wrong"}
            )
        proxied = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ELSEWHERE)
        assert (
            proxied.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code
            == 302
        )


class TestTokenEndpoint:
    def test_it_refuses_with_the_api_error_shape_after_the_failures(self, annotator, login_limits):
        for _ in range(3):
            assert token("alice", "wrong", ATTACKER).status_code == 400
        response = token("alice", PASSWORD, ELSEWHERE)
        assert response.status_code == 429
        wait = int(response["Retry-After"])
        assert response.json() == {
            "detail": throttling.LOGIN_THROTTLED.format(seconds=wait),
            "code": "Throttled",
            "rule": throttling.RATE_RULE,
        }

    def test_it_counts_with_the_login_page(self, annotator, login_limits, clock):
        sign_in("alice", "wrong", ATTACKER)
        token("alice", "wrong", ATTACKER)
        sign_in("alice", "wrong", ATTACKER)
        assert token("alice", PASSWORD, ELSEWHERE).status_code == 429
        clock[0] += 601
        assert token("alice", PASSWORD, ELSEWHERE).status_code == 200

    def test_a_body_that_is_not_an_object_is_a_bad_request(self, db, login_limits):
        response = APIClient().post(reverse("api-token"), [1, 2], format="json")
        assert response.status_code == 400


class TestAnnotatorApi:
    @pytest.fixture
    def api_limit(self, settings, clock):
        settings.API_RATE_PER_USER = "5/min"

    def test_a_user_over_the_rate_is_refused_with_the_api_error_shape(self, annotator, api_limit):
        api = script(annotator)
        for _ in range(5):
            assert api.get(reverse("api-contributions")).status_code == 200
        response = api.get(reverse("api-next-question"))
        assert response.status_code == 429
        wait = int(response["Retry-After"])
        assert 0 < wait <= 60
        assert response.json() == {
            "detail": throttling.API_THROTTLED.format(seconds=wait),
            "code": "Throttled",
            "rule": throttling.RATE_RULE,
        }

    def test_it_counts_per_user_not_per_address(self, annotator, other_annotator, api_limit):
        alice, bob = script(annotator), script(other_annotator)
        for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"):
            assert alice.get(reverse("api-contributions"), REMOTE_ADDR=ip).status_code == 200
        # A new address does not reset Alice's count; Bob on her address has his own.
        assert alice.get(reverse("api-contributions"), REMOTE_ADDR="192.0.2.9").status_code == 429
        assert bob.get(reverse("api-contributions"), REMOTE_ADDR="192.0.2.1").status_code == 200

    def test_the_window_slides(self, annotator, api_limit, clock):
        api = script(annotator)
        for _ in range(5):
            api.get(reverse("api-contributions"))
            clock[0] += 10
        assert api.get(reverse("api-contributions")).status_code == 429
        clock[0] += 11  # the first request has left the minute
        assert api.get(reverse("api-contributions")).status_code == 200
        assert api.get(reverse("api-contributions")).status_code == 429


class TestWorkPages:
    def test_they_share_the_users_count_with_the_api(self, annotator, settings, clock, client):
        settings.API_RATE_PER_USER = "3/min"
        client.force_login(annotator)
        api = script(annotator)
        assert api.get(reverse("api-contributions")).status_code == 200
        assert client.get(reverse("answer")).status_code == 200
        assert api.get(reverse("api-contributions")).status_code == 200
        response = client.get(reverse("answer"))
        assert response.status_code == 429
        wait = int(response["Retry-After"])
        assert throttling.API_THROTTLED.format(seconds=wait) in response.content.decode()
        assert api.get(reverse("api-contributions")).status_code == 429

    def test_an_htmx_request_gets_the_message_in_place_of_its_item(
        self, annotator, settings, clock, client
    ):
        settings.API_RATE_PER_USER = "1/min"
        client.force_login(annotator)
        client.post(reverse("answer-skip"))
        response = client.post(reverse("answer-skip"), HTTP_HX_REQUEST="true")
        assert response.status_code == 429
        assert response.content.decode().strip() == (
            '<p class="message error" role="alert">'
            f"{throttling.API_THROTTLED.format(seconds=60)}</p>"
        )


class TestFailOpen:
    @pytest.fixture
    def unreachable_redis(self, settings):
        # A port nothing listens on: every cache call fails with redis's ConnectionError.
        settings.CACHES = {
            **settings.CACHES,
            "throttle": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            },
        }

    def test_the_api_lets_requests_through_and_logs_a_warning(
        self, annotator, settings, unreachable_redis, caplog
    ):
        settings.API_RATE_PER_USER = "1/min"
        api = script(annotator)
        with caplog.at_level(logging.WARNING, logger="annotator.throttling"):
            for _ in range(3):
                assert api.get(reverse("api-contributions")).status_code == 200
        assert "Rate-limit cache unavailable" in caplog.text

    def test_sign_in_still_works(self, annotator, settings, unreachable_redis):
        settings.LOGIN_RATE_PER_USERNAME = "1/min"
        sign_in("alice", "wrong", ATTACKER)
        assert sign_in("alice", PASSWORD, ATTACKER).status_code == 302
        assert token("alice", PASSWORD, ATTACKER).status_code == 200


@pytest.mark.redis
def test_the_counters_live_in_redis_when_there_is_one(annotator, settings, clock):
    """Every gunicorn worker sees the same counts: two clients, one Redis."""
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", ""),
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        },
    }
    settings.API_RATE_PER_USER = "2/min"
    first, second = script(annotator), APIClient()
    second.credentials(HTTP_AUTHORIZATION=first._credentials["HTTP_AUTHORIZATION"])
    assert first.get(reverse("api-contributions")).status_code == 200
    assert second.get(reverse("api-contributions")).status_code == 200
    assert first.get(reverse("api-contributions")).status_code == 429


class TestSignInCannotBeBypassedOrTurnedAgainstTheOwner:
    def test_a_unicode_spelling_of_a_locked_username_is_the_same_account(
        self, admin_user, login_limits
    ):
        """The sign-in form reads `ａdmin` (fullwidth a) as `admin`: it must count as `admin`."""
        for _ in range(3):
            sign_in("admin", "wrong", ATTACKER)
        assert sign_in("ａdmin", "password", ELSEWHERE).status_code == 429
        assert sign_in("Ａｄｍｉｎ", "password", ELSEWHERE).status_code == 429

    def test_the_owners_own_client_still_signs_in_during_a_lock_out(self, annotator, login_limits):
        owner = Client(REMOTE_ADDR=ELSEWHERE)
        assert (
            owner.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code
            == 302
        )
        owner.post(reverse("logout"))
        for _ in range(5):
            sign_in("alice", "wrong", ATTACKER)  # someone else locks the account
        assert sign_in("alice", PASSWORD, "192.0.2.77").status_code == 429  # a new client waits
        again = owner.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        assert again.status_code == 302
        # The known client is limited too, on its own count.
        owner.post(reverse("logout"))
        for _ in range(3):
            owner.post(reverse("login"), {"username": "alice", "password": "wrong"})
        assert (
            owner.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code
            == 429
        )

    def test_a_forged_known_client_cookie_counts_for_nothing(self, annotator, login_limits):
        for _ in range(3):
            sign_in("alice", "wrong", ATTACKER)
        forger = Client(REMOTE_ADDR=ELSEWHERE)
        forger.cookies[throttling.KNOWN_CLIENT_COOKIE] = "eyJpZCI6ImEiLCJhY2NvdW50cyI6W119:x:y"
        response = forger.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        assert response.status_code == 429

    def test_the_token_endpoint_remembers_its_client_too(self, annotator, login_limits):
        script_client = APIClient(REMOTE_ADDR=ELSEWHERE)
        body = {"username": "alice", "password": PASSWORD}
        assert script_client.post(reverse("api-token"), body, format="json").status_code == 200
        for _ in range(3):
            token("alice", "wrong", ATTACKER)
        assert token("alice", PASSWORD, "192.0.2.78").status_code == 429
        assert script_client.post(reverse("api-token"), body, format="json").status_code == 200


def _parallel(calls, threads: int):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def run(call):
        try:
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, calls))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
class TestCountersAreAtomic:
    @pytest.fixture(autouse=True)
    def redis_counters(self, settings):
        settings.CACHES = {
            **settings.CACHES,
            "throttle": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": os.environ.get("REDIS_URL", ""),
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            },
        }

    def test_40_parallel_guesses_get_10_tries(self, settings, django_user_model):
        settings.LOGIN_RATE_PER_USERNAME = "10/15m"
        settings.LOGIN_RATE_PER_IP = "1000/15m"
        django_user_model.objects.create_user("victim", password=PASSWORD)
        calls = [lambda n=n: sign_in("victim", f"wrong{n}", f"192.0.2.{n}") for n in range(40)]
        codes = [response.status_code for response in _parallel(calls, 20)]
        assert codes.count(200) == 10 and codes.count(429) == 30, codes

    def test_200_api_calls_on_30_threads_pass_exactly_the_rate(self, settings, annotator):
        settings.API_RATE_PER_USER = "120/min"
        api = script(annotator)
        header = api._credentials["HTTP_AUTHORIZATION"]

        def call():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=header)
            return client.get(reverse("api-contributions")).status_code

        codes = _parallel([call] * 200, 30)
        assert codes.count(200) == 120 and codes.count(429) == 80, codes
