from annotator.views.media import video_stream
from annotator.views.pages import answer, answer_skip, ask, ask_skip, home

__all__ = ["answer", "answer_skip", "ask", "ask_skip", "home", "video_stream"]
