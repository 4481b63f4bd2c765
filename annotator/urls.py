from django.urls import include, path

from annotator import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("guidelines/", views.guidelines_page, name="guidelines"),
    path("ask/", views.ask, name="ask"),
    path("ask/skip/", views.ask_skip, name="ask-skip"),
    path("answer/", views.answer, name="answer"),
    path("answer/skip/", views.answer_skip, name="answer-skip"),
    path("videos/<int:pk>/stream/", views.video_stream, name="video-stream"),
    path("review/", views.review_queue, name="review"),
    path("review/queue/<str:queue>/", views.review_queue, name="review-queue"),
    path("review/questions/<int:pk>/", views.review_question, name="review-question"),
    path("review/videos/<int:pk>/frames/<int:second>.jpg", views.review_frame, name="review-frame"),
    path("review/model/", views.review_model, name="review-model"),
    path("review/dashboard/", views.dashboard, name="dashboard"),
    path("api/", include("annotator.api.urls")),
]
