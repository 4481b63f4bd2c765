from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from annotator.api import views

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
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
