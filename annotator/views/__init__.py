from annotator.views.dashboard import dashboard
from annotator.views.guidelines import guidelines_page
from annotator.views.health import healthz
from annotator.views.media import video_stream
from annotator.views.pages import answer, answer_skip, ask, ask_skip, home
from annotator.views.review import review_frame, review_model, review_question, review_queue

__all__ = [
    "answer",
    "answer_skip",
    "ask",
    "ask_skip",
    "dashboard",
    "guidelines_page",
    "healthz",
    "home",
    "review_frame",
    "review_model",
    "review_question",
    "review_queue",
    "video_stream",
]
