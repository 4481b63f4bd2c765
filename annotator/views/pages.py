"""The annotator's pages: home, Ask and Answer. Thin: read the request, call selectors and
services, render. Every form works as a plain POST; with htmx the next item replaces the
current one without a full reload."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotator import balance, errors, selectors, services
from annotator.models import Question, TrainingRun, WatchSession
from annotator.qualification import FAILED, PASSED, QUALIFYING, qualification_of
from annotator.throttling import work_rate_limited
from qa_model import catalogue

SKIPPED_VIDEOS = "skipped_videos"
SKIPPED_QUESTIONS = "skipped_questions"
_SKIP_MEMORY = 50  # enough for a working session; older skips come round again
INVALID_KEY = "x"
# Letters after the digits, without those the player and the page use (j, k, l: back, play or
# pause, forward; s: skip; x: invalid).
_ANSWER_KEYS = "1234567890abcdefghimnopqrtuvwyz"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """What the signed-in person can do now, and their own counts; nothing of others' work."""
    user = request.user
    context = {
        "is_annotator": selectors.is_annotator(user),
        "is_reviewer": selectors.is_reviewer(user),
    }
    if context["is_annotator"]:
        context.update(selectors.home_counts(user))
    elif context["is_reviewer"]:
        context["queues"] = _review_queues()
        context["version"] = selectors.model_version_active()
        context["run"] = TrainingRun.objects.order_by("-id").first()
        context["totals"] = selectors.collection_totals()
    return render(request, "annotator/home.html", context)


def _review_queues() -> list[dict]:
    """Each review queue with its label, link and how many items wait in it."""
    from annotator.views.review import QUEUES

    counts = selectors.review_queue_counts(selectors.model_version_active())
    return [
        {
            "key": key,
            "label": label,
            "count": counts[key],
            "url": reverse("review-queue", args=[key]),
        }
        for key, label in QUEUES.items()
    ]


def _annotator_only(request: HttpRequest) -> HttpResponse | None:
    if selectors.is_annotator(request.user):
        return None
    return render(request, "annotator/not_annotator.html", status=403)


def _skip(request: HttpRequest, key: str, field: str, next_item) -> HttpResponse:
    """Remember the skipped item (video or question) in the session, then show the next one."""
    if refusal := _annotator_only(request):
        return refusal
    if (item_id := _int(request.POST.get(field))) is not None:
        skipped = [i for i in request.session.get(key, []) if i != item_id] + [item_id]
        request.session[key] = skipped[-_SKIP_MEMORY:]
    return next_item(request)


def _int(value: object) -> int | None:
    """A value that can be a row id (databases refuse integers past 64 bits), or None."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number < 2**63 else None


def _own_open_session(request: HttpRequest, session_id: object) -> WatchSession | None:
    """The annotator's unused viewing with this id, or None."""
    session_id = _int(session_id)
    if session_id is None:
        return None
    return (
        WatchSession.objects.filter(
            pk=session_id, annotator=request.user, consumed_at=None, video__is_active=True
        )
        .select_related("video")
        .first()
    )


def _render_item(request: HttpRequest, page: str, context: dict, status: int = 200) -> HttpResponse:
    """The whole page, or only the work area when htmx asks for it."""
    template = f"annotator/partials/{page}_item.html" if request.htmx else f"annotator/{page}.html"
    return render(request, template, {**context, "page": page}, status=status)


def _player(session: WatchSession | None) -> dict:
    if session is None:
        return {}
    required = settings.WATCH_MIN_SECONDS
    return {
        "session": session,
        "required_seconds": required,
        "unlocked": session.credited_seconds >= required,
        "progress": min(100, round(100 * session.credited_seconds / required)) if required else 100,
    }


# --- Ask -----------------------------------------------------------------------------------


# The Ask page lists up to this many of the most needed templates first, in their own group.
NEEDED_FIRST = 5


def _ask_context(
    request: HttpRequest, session: WatchSession | None, chosen: dict | None = None
) -> dict:
    """The player and the question form for a viewing (none when there is nothing to ask)."""
    if session is None:
        return {}
    chosen = chosen or {}
    needs = balance.template_needs()
    templates = list(selectors.templates_open_for(request.user, session.video))
    # Most needed first, in a group of their own: under-asked templates, and those whose
    # answers are skewed or that a question-only model answers without watching. The others
    # follow by modality, in catalogue order.
    needed = [
        t for t in balance.by_need(templates, needs) if t.pk in needs and needs[t.pk].need > 0
    ]
    needed = needed[:NEEDED_FIRST]
    template = next((t for t in templates if t.pk == _int(chosen.get("template"))), None)
    slots = []
    if template is not None:
        values = chosen.get("slots") or []
        for index, slot in enumerate(template.slots):
            choices = catalogue.SLOT_VALUES[slot]
            picked = (
                values[index] if index < len(values) and values[index] in choices else choices[0]
            )
            slots.append({"name": slot, "choices": choices, "picked": picked})
    preview = template.fill([slot["picked"] for slot in slots]) if template else ""
    return {
        **_player(session),
        "video": session.video,
        "needed": needed,
        "templates": [t for t in templates if t not in needed],
        "template": template,
        "need": needs.get(template.pk) if template else None,
        "slots": slots,
        "preview": preview,
    }


def _next_ask_session(request: HttpRequest) -> WatchSession | None:
    video = selectors.next_video_to_ask(
        request.user, exclude=request.session.get(SKIPPED_VIDEOS, [])
    )
    return services.watch_start(annotator=request.user, video=video) if video else None


def _ask_next(request: HttpRequest) -> HttpResponse:
    if not request.htmx:
        return redirect("ask")
    return _render_item(request, "ask", _ask_context(request, _next_ask_session(request)))


@login_required
@work_rate_limited
@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    if refusal := _annotator_only(request):
        return refusal
    if request.method == "GET":
        # Coming back to a viewing (choosing a template without JavaScript) keeps its credit.
        session = _own_open_session(request, request.GET.get("session")) or _next_ask_session(
            request
        )
        context = _ask_context(request, session, {"template": request.GET.get("template")})
        if request.htmx and request.GET.get("part") == "form" and session:
            # Choosing a template swaps only the form, so the playing video is left alone.
            return render(request, "annotator/partials/ask_form.html", context)
        return _render_item(request, "ask", context)

    session = _own_open_session(request, request.POST.get("watch_session"))
    chosen = {"template": request.POST.get("template"), "slots": request.POST.getlist("slot")}
    try:
        if session is None:
            raise errors.WatchSessionNotFound(errors.WATCH_SESSION_NOT_FOUND)
        question = services.question_create(
            annotator=request.user,
            video=session.video,
            template=selectors.template_get(chosen["template"]),
            slot_values=chosen["slots"],
            watch_session=session,
        )
    except errors.RuleViolation as refusal:
        # Without a usable viewing there is nothing to show again: say why and offer a fresh
        # start, writing nothing (not even a new viewing).
        context = _ask_context(request, session, chosen) if session else {"restart": True}
        return _render_item(
            request, "ask", {**context, "error": refusal.message}, refusal.status_code
        )
    messages.success(request, f"Thank you. Your question is saved: “{question.text}”")
    return _ask_next(request)


@login_required
@work_rate_limited
@require_POST
def ask_skip(request: HttpRequest) -> HttpResponse:
    return _skip(request, SKIPPED_VIDEOS, "video", _ask_next)


# --- Answer --------------------------------------------------------------------------------


def _answer_context(
    request: HttpRequest, question: Question | None, session: WatchSession | None
) -> dict:
    if question is None:
        return {}
    answers = question.template.answers
    buttons = [
        {"answer": answer, "key": _ANSWER_KEYS[index]} for index, answer in enumerate(answers)
    ]
    standing = qualification_of(request.user)
    return {
        **_player(session),
        "video": question.video,
        "question": question,
        "buttons": buttons,
        "invalid_key": INVALID_KEY,
        "qualifying": standing if standing.state == QUALIFYING else None,
    }


# Questions taken by others between offering and starting to watch, tried past in one request.
_TAKEN_RETRIES = 5


def _next_answer(request: HttpRequest) -> tuple[Question | None, WatchSession | None]:
    skipped = list(request.session.get(SKIPPED_QUESTIONS, []))
    for _ in range(_TAKEN_RETRIES):
        question = selectors.next_question_to_answer(request.user, exclude=skipped)
        if question is None:
            return None, None
        try:
            session = services.watch_start(
                annotator=request.user, video=question.video, question=question
            )
        except errors.QuestionTaken:
            skipped.append(question.pk)  # someone started on it a moment ago: the next one
            continue
        return question, session
    return None, None


def _answer_next(request: HttpRequest) -> HttpResponse:
    if not request.htmx:
        return redirect("answer")
    return _render_item(request, "answer", _answer_context(request, *_next_answer(request)))


@login_required
@work_rate_limited
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest) -> HttpResponse:
    if refusal := _annotator_only(request):
        return refusal
    if request.method == "GET":
        return _render_item(request, "answer", _answer_context(request, *_next_answer(request)))

    session = _own_open_session(request, request.POST.get("watch_session"))
    invalid = request.POST.get("invalid") == "1"
    qualifying = qualification_of(request.user).state == QUALIFYING
    try:
        question = selectors.question_get_for_vote(request.user, request.POST.get("question"))
    except Http404:
        messages.warning(request, "That question is no longer open for answers; here is another.")
        return _answer_next(request)
    try:
        if session is None:
            raise errors.WatchSessionNotFound(errors.WATCH_SESSION_NOT_FOUND)
        services.vote_cast(
            annotator=request.user,
            question=question,
            watch_session=session,
            answer=None if invalid else request.POST.get("answer"),
            invalid=invalid,
        )
    except (errors.QuestionClosed, errors.AlreadyVoted) as refusal:
        # Nothing more to do on this question: say why and move on to the next one.
        messages.warning(request, refusal.message)
        return _answer_next(request)
    except errors.RuleViolation as refusal:
        context = _answer_context(request, question, session) if session else {"restart": True}
        return _render_item(
            request, "answer", {**context, "error": refusal.message}, refusal.status_code
        )
    standing = qualification_of(request.user) if qualifying else None
    if standing is not None and standing.state == PASSED:
        messages.success(
            request,
            f"You passed the qualification ({standing.correct} of {standing.required} right): "
            "from now on your answers count.",
        )
    elif standing is not None and standing.state == FAILED:
        messages.warning(request, errors.NOT_QUALIFIED[FAILED].format(**vars(standing)))
    elif invalid:
        messages.success(
            request,
            "Thank you. Your flag is saved: the question is closed as invalid if "
            f"{settings.INVALID_VOTES} people flag it.",
        )
    else:
        messages.success(request, "Thank you. Your answer is saved.")
    return _answer_next(request)


@login_required
@work_rate_limited
@require_POST
def answer_skip(request: HttpRequest) -> HttpResponse:
    return _skip(request, SKIPPED_QUESTIONS, "question", _answer_next)
