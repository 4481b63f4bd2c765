from django.urls import include, path

from annotator import views

urlpatterns = [
    path("", views.home, name="home"),
    path("ask/", views.ask, name="ask"),
    path("ask/skip/", views.ask_skip, name="ask-skip"),
    path("answer/", views.answer, name="answer"),
    path("answer/skip/", views.answer_skip, name="answer-skip"),
    path("videos/<int:pk>/stream/", views.video_stream, name="video-stream"),
    path("api/", include("annotator.api.urls")),
]
