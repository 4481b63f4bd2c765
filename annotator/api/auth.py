"""The API's sign-in: a token for a username and password.

Its attempts are counted by the same rate-limit mechanism as the login page's and the admin's
(annotator/throttling.py: per client address and per username)."""

from __future__ import annotations

from typing import Any

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.throttling import LOGIN_THROTTLED, RateLimited, SignInAttempt


class TokenView(ObtainAuthToken):
    """A token for a username and password. Attempts count with the login page's, per client
    address and per username; over the limit, 429 with Retry-After."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A JSON body need not be an object; the serializer refuses those with a 400.
        data = request.data if hasattr(request.data, "get") else {}
        attempt = SignInAttempt(request, str(data.get("username", "")))
        wait = attempt.begin()
        if wait is not None:
            raise RateLimited(wait=wait, message=LOGIN_THROTTLED.format(seconds=wait))
        response = super().post(request, *args, **kwargs)
        attempt.succeeded(response)
        return response


obtain_auth_token = TokenView.as_view()
