"""The REST API: thin adapters over the same services and selectors as the pages."""

from __future__ import annotations

import math

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import balance, selectors, services
from annotator.api import serializers as s
from annotator.api.permissions import IsAnnotator
from annotator.rules import Heartbeat
from annotator.throttling import API_THROTTLED, AnnotatorRateThrottle, RateLimited

REFUSAL = OpenApiResponse(description="Refused by a collection rule: {detail, code, rule}.")
EXCLUDE = OpenApiParameter(
    "exclude", str, description="Comma-separated ids to skip, e.g. 3,7", required=False
)


def _exclude(request: Request) -> list[int]:
    raw = request.query_params.get("exclude", "")
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        from rest_framework.exceptions import ValidationError

        raise ValidationError({"exclude": "A comma-separated list of ids."}) from None
    # No row has an id past 64 bits, and databases refuse to compare with one.
    return [number for number in ids if 0 < number < 2**63]


def _valid(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AnnotatorView(APIView):
    permission_classes = [IsAnnotator]
    throttle_classes = [AnnotatorRateThrottle]

    def throttled(self, request: Request, wait: float | None) -> None:
        seconds = math.ceil(wait or 1)
        raise RateLimited(wait=seconds, message=API_THROTTLED.format(seconds=seconds))


class WatchSessionStart(AnnotatorView):
    @extend_schema(
        request=s.WatchStartSerializer,
        responses={201: s.WatchSessionSerializer, 404: REFUSAL, 409: REFUSAL},
        summary="Start watching a video",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.WatchStartSerializer, request)
        video = selectors.video_get(data["video"])
        question = (
            selectors.question_to_watch_for(request.user, data["question"], video)
            if "question" in data
            else None
        )
        session = services.watch_start(annotator=request.user, video=video, question=question)
        return Response(s.WatchSessionSerializer(session).data, status=status.HTTP_201_CREATED)


class WatchSessionDetail(AnnotatorView):
    @extend_schema(responses={200: s.WatchSessionSerializer, 404: REFUSAL}, summary="A viewing")
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            s.WatchSessionSerializer(selectors.watch_session_get(request.user, pk)).data
        )


class WatchHeartbeat(AnnotatorView):
    @extend_schema(
        request=s.HeartbeatSerializer,
        responses={200: s.WatchSessionSerializer, 400: REFUSAL, 404: REFUSAL, 409: REFUSAL},
        summary="Report the player's state; the server credits watching time",
    )
    def post(self, request: Request, pk: int) -> Response:
        session = selectors.watch_session_get(request.user, pk)
        beat = Heartbeat(**_valid(s.HeartbeatSerializer, request))
        session = services.watch_heartbeat(
            annotator=request.user, watch_session=session, heartbeat=beat
        )
        return Response(s.WatchSessionSerializer(session).data)


class NextVideo(AnnotatorView):
    @extend_schema(
        parameters=[EXCLUDE],
        responses={200: s.VideoSerializer, 204: OpenApiResponse(description="Nothing to ask now.")},
        summary="The next video to ask a question about",
    )
    def get(self, request: Request) -> Response:
        video = selectors.next_video_to_ask(request.user, exclude=_exclude(request))
        if video is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.VideoSerializer(video).data)


class OpenTemplates(AnnotatorView):
    @extend_schema(
        responses={200: s.TemplateSerializer(many=True), 404: REFUSAL},
        summary="Templates open to you on this video",
    )
    def get(self, request: Request, pk: int) -> Response:
        video = selectors.video_get(pk)
        needs = balance.template_needs()
        # Most needed first, as the Ask page lists them.
        templates = balance.by_need(selectors.templates_open_for(request.user, video), needs)
        return Response(s.TemplateSerializer(templates, many=True, context={"needs": needs}).data)


class QuestionCreate(AnnotatorView):
    @extend_schema(
        request=s.QuestionCreateSerializer,
        responses={
            201: s.OwnQuestionSerializer,
            400: REFUSAL,
            403: REFUSAL,
            404: REFUSAL,
            409: REFUSAL,
        },
        summary="Ask a question from a template",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.QuestionCreateSerializer, request)
        question = services.question_create(
            annotator=request.user,
            video=selectors.video_get(data["video"]),
            template=selectors.template_get(data["template"]),
            slot_values=data["slot_values"],
            watch_session=selectors.watch_session_get(request.user, data["watch_session"]),
        )
        return Response(s.OwnQuestionSerializer(question).data, status=status.HTTP_201_CREATED)


class NextQuestion(AnnotatorView):
    @extend_schema(
        parameters=[EXCLUDE],
        responses={
            200: s.QuestionToAnswerSerializer,
            204: OpenApiResponse(description="Nothing to answer."),
        },
        summary="The next question to answer",
    )
    def get(self, request: Request) -> Response:
        question = selectors.next_question_to_answer(request.user, exclude=_exclude(request))
        if question is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.QuestionToAnswerSerializer(question).data)


class VoteCreate(AnnotatorView):
    @extend_schema(
        request=s.VoteCreateSerializer,
        responses={
            201: s.OwnVoteSerializer,
            400: REFUSAL,
            403: REFUSAL,
            404: REFUSAL,
            409: REFUSAL,
        },
        summary="Answer a question, or flag it invalid",
    )
    def post(self, request: Request, pk: int) -> Response:
        question = selectors.question_get_for_vote(request.user, pk)
        data = _valid(s.VoteCreateSerializer, request)
        vote = services.vote_cast(
            annotator=request.user,
            question=question,
            watch_session=selectors.watch_session_get(request.user, data["watch_session"]),
            answer=data["answer"] or None,
            invalid=data["invalid"],
        )
        return Response(s.OwnVoteSerializer(vote).data, status=status.HTTP_201_CREATED)


class MyContributions(AnnotatorView):
    @extend_schema(responses={200: s.ContributionsSerializer}, summary="Your questions and votes")
    def get(self, request: Request) -> Response:
        return Response(s.ContributionsSerializer(selectors.contributions_of(request.user)).data)
