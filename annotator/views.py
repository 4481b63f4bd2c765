"""Pages. Thin: check who is asking, call selectors, render."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotator import selectors
from annotator.models import Question, Vote


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """What the signed-in person can do now, and their own counts; nothing of others' work."""
    user = request.user
    context = {
        "is_annotator": selectors.is_annotator(user),
        "is_reviewer": selectors.is_reviewer(user),
    }
    if context["is_annotator"]:
        context.update(
            videos_to_ask=selectors.videos_open_to_ask(user).count(),
            questions_to_answer=selectors.questions_open_to_answer(user).count(),
            questions_asked=Question.objects.filter(author=user).count(),
            votes_cast=Vote.objects.filter(annotator=user).count(),
        )
    return render(request, "annotator/home.html", context)
