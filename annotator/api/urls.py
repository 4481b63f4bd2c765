from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotator.api import views, worker
from annotator.throttling import obtain_auth_token

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
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
    # The gpu worker's API (token of the model-workers service account only).
    path("worker/dataset/", worker.Dataset.as_view(), name="api-worker-dataset"),
    path("worker/questions/live/", worker.LiveQuestions.as_view(), name="api-worker-live"),
    path(
        "worker/videos/<slug:video_id>/features/claim/",
        worker.VideoFeaturesClaim.as_view(),
        name="api-worker-features-claim",
    ),
    path(
        "worker/videos/<slug:video_id>/features/",
        worker.VideoFeaturesReport.as_view(),
        name="api-worker-features-report",
    ),
    path("worker/videos/<slug:video_id>/file/", worker.VideoFile.as_view(), name="api-worker-file"),
    path("worker/runs/<int:pk>/claim/", worker.RunClaim.as_view(), name="api-worker-run-claim"),
    path(
        "worker/runs/<int:pk>/progress/",
        worker.RunProgress.as_view(),
        name="api-worker-run-progress",
    ),
    path("worker/runs/<int:pk>/fail/", worker.RunFail.as_view(), name="api-worker-run-fail"),
    path("worker/runs/<int:pk>/finish/", worker.RunFinish.as_view(), name="api-worker-run-finish"),
    path(
        "worker/versions/<int:pk>/predictions/",
        worker.Predictions.as_view(),
        name="api-worker-predictions",
    ),
    path(
        "worker/versions/<int:pk>/predictions/done/",
        worker.PredictionsDone.as_view(),
        name="api-worker-predictions-done",
    ),
    path(
        "worker/versions/<int:pk>/questions/unpredicted/",
        worker.UnpredictedQuestions.as_view(),
        name="api-worker-unpredicted",
    ),
    path(
        "worker/versions/<int:pk>/checkpoint/",
        worker.VersionCheckpoint.as_view(),
        name="api-worker-checkpoint",
    ),
    path(
        "worker/versions/<int:pk>/blind-scores/",
        worker.BlindScores.as_view(),
        name="api-worker-blind-scores",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the docs page needs no
    # inline script under the content-security policy (config/csp.py).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
