"""The worker API: how the gpu worker, which holds no database credentials, reads its work and
posts its results. Token auth only, for users in the model-workers group; annotators and staff
get 403 here, and the worker's token gets 403 everywhere else."""

from __future__ import annotations

import json

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import errors, modelloop, selectors
from annotator.api.serializers import COUNT_MAX, ID_MAX
from annotator.export import dataset_export, question_records
from annotator.models import LIVE_STATUSES, ModelVersion, Question, TrainingRun, Video
from qa_model import catalogue, contract

REFUSAL = OpenApiResponse(description="Refused: {detail, code, rule}.")
NOT_A_MODEL_WORKER = "Only the gpu worker's service account can use the worker API."


class IsModelWorker(BasePermission):
    message = NOT_A_MODEL_WORKER

    def has_permission(self, request, view) -> bool:
        return selectors.is_model_worker(request.user)


class WorkerView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsModelWorker]


def _valid(serializer_class: type[serializers.Serializer], data: object) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _file_response(stored, filename: str) -> FileResponse:
    """A stored file as a download; 404 when it was removed from the media folder by hand."""
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=filename)


# --- features ------------------------------------------------------------------------------


class FeatureReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=contract.MESSAGE_MAX_CHARS
    )


class VideoFeaturesClaim(WorkerView):
    @extend_schema(
        request=None,
        responses={200: dict, 404: REFUSAL, 409: REFUSAL},
        summary="Claim a video's feature extraction (pending → running)",
    )
    def post(self, request: Request, video_id: str) -> Response:
        video = get_object_or_404(Video, avqa_id=video_id)
        if not modelloop.video_features_claim(video):
            raise errors.NotClaimed(errors.FEATURES_NOT_CLAIMED.format(video=video_id))
        return Response({"video_id": video.avqa_id, "duration_seconds": video.duration_seconds})


class VideoFile(WorkerView):
    @extend_schema(
        responses={(200, "application/octet-stream"): bytes, 404: REFUSAL},
        summary="A video's file, for feature extraction",
    )
    def get(self, request: Request, video_id: str) -> FileResponse:
        video = get_object_or_404(Video, avqa_id=video_id)
        return _file_response(video.file, video.file.name)


class VideoFeaturesReport(WorkerView):
    @extend_schema(
        request=FeatureReportSerializer,
        responses={200: dict, 409: REFUSAL},
        summary="Report a claimed extraction's outcome",
    )
    def post(self, request: Request, video_id: str) -> Response:
        video = get_object_or_404(Video, avqa_id=video_id)
        report = _valid(FeatureReportSerializer, request.data)
        modelloop.video_features_report(video, ok=report["ok"], error=report["error"])
        video.refresh_from_db()
        return Response({"video_id": video.avqa_id, "feature_status": video.feature_status})


# --- data ----------------------------------------------------------------------------------


class Dataset(WorkerView):
    @extend_schema(
        responses={200: dict}, summary="Accepted pairs in MUSIC-AVQA records, split by video"
    )
    def get(self, request: Request) -> Response:
        return Response(dataset_export().to_json())


def _records_to_predict(questions) -> Response:
    """These questions as MUSIC-AVQA records for the worker to predict."""
    records = []
    for record in question_records(questions):
        item = record.to_json()
        # Open and disputed questions have no answer yet: null, not a made-up one.
        item["anser"] = record.answer or None
        records.append(item)
    return Response({contract.RECORDS: records})


class LiveQuestions(WorkerView):
    @extend_schema(responses={200: dict}, summary="Every live question, as records to predict")
    def get(self, request: Request) -> Response:
        return _records_to_predict(Question.objects.filter(status__in=LIVE_STATUSES))


# --- training runs -------------------------------------------------------------------------


class ProgressSerializer(serializers.Serializer):
    stage = serializers.CharField(max_length=contract.STAGE_MAX_CHARS)
    epoch = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False)
    epochs = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False)
    loss = serializers.FloatField(required=False, allow_null=True)
    val_accuracy = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)


class FailSerializer(serializers.Serializer):
    error = serializers.CharField(max_length=contract.MESSAGE_MAX_CHARS)


class ResultSerializer(serializers.Serializer):
    dataset_hash = serializers.RegexField(r"^[0-9a-f]{64}$")
    dataset_counts = serializers.DictField()
    config = serializers.DictField()
    device = serializers.CharField(max_length=contract.DEVICE_MAX_CHARS)
    duration_seconds = serializers.FloatField(min_value=0)
    best_epoch = serializers.IntegerField(min_value=0, max_value=COUNT_MAX)
    best_val_accuracy = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    metrics = serializers.DictField()
    baselines = serializers.DictField(required=False, default=dict)
    notes = serializers.CharField(allow_blank=True, max_length=contract.MESSAGE_MAX_CHARS)


class FinishSerializer(serializers.Serializer):
    result = serializers.CharField(help_text="The run's result as a JSON object.")
    checkpoint = serializers.FileField()

    def validate_result(self, raw: str) -> dict:
        try:
            value = json.loads(raw)
        except ValueError:
            raise serializers.ValidationError("not JSON") from None
        return _valid(ResultSerializer, value)


def _run_json(run: TrainingRun) -> dict:
    return {"id": run.pk, "status": run.status, "attempts": run.attempts}


class RunClaim(WorkerView):
    @extend_schema(
        request=None,
        responses={200: dict, 404: REFUSAL, 409: REFUSAL},
        summary="Claim a training run (queued → running)",
    )
    def post(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(TrainingRun, pk=pk)
        if not modelloop.training_run_claim(run):
            raise errors.NotClaimed(errors.RUN_NOT_RUNNING.format(run=pk, status=run.status))
        return Response(_run_json(run))


class RunProgress(WorkerView):
    @extend_schema(
        request=ProgressSerializer,
        responses={200: dict, 409: REFUSAL},
        summary="Report a running run's progress",
    )
    def post(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(TrainingRun, pk=pk)
        modelloop.training_run_progress(run, dict(_valid(ProgressSerializer, request.data)))
        return Response({"id": run.pk})


class RunFail(WorkerView):
    @extend_schema(
        request=FailSerializer,
        responses={200: dict, 409: REFUSAL},
        summary="Record that a running run failed",
    )
    def post(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(TrainingRun, pk=pk)
        modelloop.training_run_fail(run, error=_valid(FailSerializer, request.data)["error"])
        return Response({"id": run.pk})


class RunFinish(WorkerView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request=FinishSerializer,
        responses={201: dict, 200: dict, 409: REFUSAL},
        summary="Record a finished run as a model version (idempotent)",
    )
    def post(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(TrainingRun, pk=pk)
        data = _valid(FinishSerializer, request.data)
        version, created = modelloop.training_run_finish(
            run, result=data[contract.FINISH_RESULT], checkpoint=data[contract.FINISH_CHECKPOINT]
        )
        body = {contract.FINISH_VERSION: version.pk, "number": version.number}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- predictions ---------------------------------------------------------------------------


def _weights() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1),
        max_length=contract.SEGMENTS_MAX,
        required=False,
        allow_null=True,
    )


class RankedSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=catalogue.ANSWERS)
    confidence = serializers.FloatField(min_value=0, max_value=1)


class SpatialMapsSerializer(serializers.Serializer):
    segments = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=contract.SEGMENTS_MAX - 1),
        max_length=contract.SPATIAL_SEGMENTS_MAX,
    )
    maps = serializers.ListField(
        child=serializers.ListField(
            child=serializers.ListField(
                child=serializers.FloatField(min_value=0, max_value=1),
                min_length=contract.MAP_SIDE,
                max_length=contract.MAP_SIDE,
            ),
            min_length=contract.MAP_SIDE,
            max_length=contract.MAP_SIDE,
        ),
        max_length=contract.SPATIAL_SEGMENTS_MAX,
    )

    def validate(self, data: dict) -> dict:
        if len(data["segments"]) != len(data["maps"]):
            raise serializers.ValidationError("one map per segment")
        return data


class PredictionSerializer(serializers.Serializer):
    question_id = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    answer = serializers.ChoiceField(choices=catalogue.ANSWERS)
    confidence = serializers.FloatField(min_value=0, max_value=1)
    top3 = RankedSerializer(many=True, max_length=contract.TOP_ANSWERS, min_length=1)
    audio_weights = _weights()
    visual_weights = _weights()
    spatial_maps = SpatialMapsSerializer(required=False, allow_null=True)


class PredictionsSerializer(serializers.Serializer):
    predictions = PredictionSerializer(many=True, max_length=contract.ITEMS_PER_POST_MAX)


class Predictions(WorkerView):
    parser_classes = [JSONParser]

    @extend_schema(
        request=PredictionsSerializer,
        responses={200: dict, 400: REFUSAL, 404: REFUSAL},
        summary="Store a model version's predictions (idempotent)",
    )
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(ModelVersion, pk=pk)
        items = _valid(PredictionsSerializer, request.data)[contract.PREDICTIONS_ITEMS]
        return Response(modelloop.predictions_store(version, items))


class UnpredictedQuestions(WorkerView):
    @extend_schema(
        responses={200: dict, 404: REFUSAL},
        summary="Open questions without this version's prediction, as records",
    )
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(ModelVersion, pk=pk)
        try:
            asked = int(
                request.query_params.get(
                    contract.UNPREDICTED_LIMIT, contract.UNPREDICTED_LIMIT_DEFAULT
                )
            )
        except ValueError:
            asked = contract.UNPREDICTED_LIMIT_DEFAULT
        limit = min(max(asked, 1), contract.UNPREDICTED_LIMIT_MAX)
        if not version.is_active:  # its suggestions would not be shown
            return Response({contract.RECORDS: []})
        questions = modelloop.questions_unpredicted(version).order_by("pk")[:limit]
        ids = list(questions.values_list("pk", flat=True))
        return _records_to_predict(Question.objects.filter(pk__in=ids))


class VersionCheckpoint(WorkerView):
    @extend_schema(
        responses={(200, "application/octet-stream"): bytes, 404: REFUSAL},
        summary="A model version's checkpoint, to predict with",
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        version = get_object_or_404(ModelVersion, pk=pk)
        return _file_response(version.checkpoint, f"version-{version.pk}.pt")


class PredictionsDone(WorkerView):
    @extend_schema(
        request=None,
        responses={200: dict, 404: REFUSAL},
        summary="A predict task is done: the next may be sent",
    )
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(ModelVersion, pk=pk)
        unpredicted = modelloop.predictions_done(version)
        return Response({"version": version.pk, contract.UNPREDICTED_COUNT: unpredicted})


# --- answerable without watching -----------------------------------------------------------


class BlindScoreSerializer(serializers.Serializer):
    question_id = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    score = serializers.FloatField(min_value=0, max_value=1)
    answer = serializers.ChoiceField(choices=catalogue.ANSWERS)


class BlindScoresSerializer(serializers.Serializer):
    scores = BlindScoreSerializer(many=True, max_length=contract.ITEMS_PER_POST_MAX)


class BlindScores(WorkerView):
    parser_classes = [JSONParser]

    @extend_schema(
        request=BlindScoresSerializer,
        responses={200: dict, 400: REFUSAL, 404: REFUSAL, 409: REFUSAL},
        summary="Store the question-only model's scores (answerable without watching)",
    )
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(ModelVersion, pk=pk)
        items = _valid(BlindScoresSerializer, request.data)[contract.BLIND_SCORES_ITEMS]
        if len({item["question_id"] for item in items}) != len(items):
            raise errors.PredictionsInvalid(errors.PREDICTIONS_DUPLICATE)
        return Response(modelloop.blind_scores_store(version, items))
