from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotator.api import auth, views, worker
from qa_model import contract

urlpatterns = [
    path("auth/token/", auth.obtain_auth_token, name="api-token"),
    path("watch-sessions/", views.WatchSessionStart.as_view(), name="api-watch-start"),
    path("watch-sessions/<int:pk>/", views.WatchSessionDetail.as_view(), name="api-watch-detail"),
    path(
        "watch-sessions/<int:pk>/heartbeat/", views.WatchHeartbeat.as_view(), name="api-heartbeat"
    ),
    path("videos/next/", views.NextVideo.as_view(), name="api-next-video"),
    path("videos/<int:pk>/templates/", views.OpenTemplates.as_view(), name="api-open-templates"),
    path("questions/", views.QuestionCreate.as_view(), name="api-question-create"),
    path("questions/next/", views.NextQuestion.as_view(), name="api-next-question"),
    path("questions/<int:pk>/votes/", views.VoteCreate.as_view(), name="api-vote"),
    path("me/contributions/", views.MyContributions.as_view(), name="api-contributions"),
    # The gpu worker's API (token of the model-workers service account only), at the paths of
    # qa_model/contract.py.
    *[
        path(f"worker/{contract.route(template)}", view.as_view(), name=name)
        for template, view, name in (
            (contract.DATASET, worker.Dataset, "api-worker-dataset"),
            (contract.LIVE_QUESTIONS, worker.LiveQuestions, "api-worker-live"),
            (contract.FEATURES_CLAIM, worker.VideoFeaturesClaim, "api-worker-features-claim"),
            (contract.FEATURES_REPORT, worker.VideoFeaturesReport, "api-worker-features-report"),
            (contract.VIDEO_FILE, worker.VideoFile, "api-worker-file"),
            (contract.RUN_CLAIM, worker.RunClaim, "api-worker-run-claim"),
            (contract.RUN_PROGRESS, worker.RunProgress, "api-worker-run-progress"),
            (contract.RUN_FAIL, worker.RunFail, "api-worker-run-fail"),
            (contract.RUN_FINISH, worker.RunFinish, "api-worker-run-finish"),
            (contract.PREDICTIONS, worker.Predictions, "api-worker-predictions"),
            (contract.PREDICTIONS_DONE, worker.PredictionsDone, "api-worker-predictions-done"),
            (contract.UNPREDICTED, worker.UnpredictedQuestions, "api-worker-unpredicted"),
            (contract.CHECKPOINT, worker.VersionCheckpoint, "api-worker-checkpoint"),
            (contract.BLIND_SCORES, worker.BlindScores, "api-worker-blind-scores"),
        )
    ],
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the docs page needs no
    # inline script under the content-security policy (config/csp.py).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
