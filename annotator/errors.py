"""Typed refusals of the collection rules.

Every refusal a person can meet is one class here, with its message as a module constant that
tests import, the rule it enforces (docs/collection-rules.md) and the HTTP status an adapter
maps it to.
"""

from __future__ import annotations

NOT_AN_ANNOTATOR = "Only active annotators can do this."
NOT_A_REVIEWER = "Only reviewers (staff) can review questions."
VIDEO_INACTIVE = "This video has been withdrawn from the collection."
UNKNOWN_TEMPLATE = "There is no question template {template!r}."
UNKNOWN_ANSWER = "{answer!r} is not in the answer vocabulary."

HEARTBEAT_INVALID = "This heartbeat is malformed: {problem}."
WATCH_SESSION_NOT_FOUND = "This viewing does not exist or is not yours."
WATCH_SESSION_CONSUMED = (
    "This viewing was already used for a submission. Watch the video again to submit another."
)
WATCH_SESSION_WRONG_VIDEO = "This viewing is of another video."
WATCH_TOO_SHORT = (
    "Watch at least {required:g} seconds of this video before submitting; "
    "{credited:.1f} seconds have been counted so far."
)

TEMPLATE_USED_BY_YOU = "You have already asked a question from this template on this video."
TEMPLATE_TAKEN = "Someone has already asked a question from this template on this video."
VIDEO_FULL = "This video already has its {limit} questions."
SLOT_COUNT = "This template needs {expected} slot value(s); {given} given."
SLOT_VALUE = "{value!r} is not a valid {slot} (choose one of: {choices})."

QUESTION_CLOSED = {
    "accepted": "This question has already been answered; it takes no more votes.",
    "invalid": "This question was marked invalid; it takes no more votes.",
    "disputed": "This question is waiting for a reviewer; it takes no more votes.",
}
QUESTION_TAKEN = (
    "Others are already watching to answer this question and their votes can decide it; "
    "take another one."
)
OWN_QUESTION = "You cannot answer a question you asked."
ALREADY_VOTED = "You have already answered this question."
ANSWER_NOT_ALLOWED = "{answer!r} does not answer this question (choose one of: {choices})."
VOTE_EMPTY = "Choose an answer or mark the question invalid, not both and not neither."

REVIEW_ACTION_UNKNOWN = "Unknown review action {action!r} (choose one of: {choices})."
REVIEW_NEEDS_ANSWER = "Choose the answer to accept."
REVIEW_KEEP_UNDECIDED = "Only an accepted or invalid question can be kept as it is."
REVIEW_NO_CHANGE = "This question is already {status}."
GOLD_NOT_ACCEPTED = "Only an accepted question can be gold."

# The qualification round (annotator/qualification.py).
NOT_QUALIFIED = {
    "qualifying": (
        "Your answers count once you pass the qualification round: {done} of its {required} "
        "questions answered. The Answer page offers them."
    ),
    "failed": (
        "Your qualification answers ({correct} of {required} right) did not pass, so your "
        "answers do not count. Please contact the organisers."
    ),
}

# The model loop (annotator/modelloop.py): refusals met by admins and the gpu worker.
RUN_ACTIVE = "A training run is already queued or running; wait for it to finish."
RUN_NOT_RUNNING = "Training run {run} is {status}, not running: its result cannot be recorded."
RUN_WORKER_LOST = "The gpu worker stopped reporting ({attempts} attempt(s)); the run was given up."
FEATURES_NOT_CLAIMED = "Feature extraction of video {video} was not claimed by this worker."
FEATURES_WORKER_LOST = "The gpu worker stopped reporting during extraction; retry the video."
PREDICTIONS_UNKNOWN = "{count} prediction(s) are for questions that are not live (e.g. {ids})."
PREDICTIONS_DUPLICATE = "A question appears more than once in these predictions."
PREDICTIONS_INADMISSIBLE = (
    "{count} prediction(s) name answers their question's template does not admit (e.g. {ids})."
)
BLIND_SCORES_STALE = (
    "Model v{version} is not the newest version: its scores would replace a newer retrain's."
)


class RuleViolation(Exception):
    """A refusal by the collection rules. `str(error)` is the message for the person."""

    rule = ""
    status_code = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAnAnnotator(RuleViolation):
    status_code = 403


class NotAReviewer(RuleViolation):
    status_code = 403


class VideoInactive(RuleViolation):
    pass


class UnknownTemplate(RuleViolation):
    status_code = 400


class UnknownAnswer(RuleViolation):
    rule = "A1"
    status_code = 400


class HeartbeatInvalid(RuleViolation):
    rule = "W1"
    status_code = 400


class WatchSessionNotFound(RuleViolation):
    rule = "W1"
    status_code = 404


class WatchSessionConsumed(RuleViolation):
    rule = "W1"


class WatchSessionWrongVideo(RuleViolation):
    rule = "W1"
    status_code = 400


class WatchTooShort(RuleViolation):
    rule = "W1"
    status_code = 403


class TemplateUsedByYou(RuleViolation):
    rule = "Q1"


class TemplateTaken(RuleViolation):
    rule = "Q2"


class VideoFull(RuleViolation):
    rule = "Q3"


class SlotValuesInvalid(RuleViolation):
    status_code = 400


class QuestionClosed(RuleViolation):
    rule = "A4"


class QuestionTaken(RuleViolation):
    """Not a rule of the paper's: the lease that keeps watching from being wasted."""

    rule = "offer"


class OwnQuestion(RuleViolation):
    rule = "A2"
    status_code = 403


class NotQualified(RuleViolation):
    rule = "qualification"
    status_code = 403


class AlreadyVoted(RuleViolation):
    rule = "A2"


class AnswerNotAllowed(RuleViolation):
    rule = "A1"
    status_code = 400


class VoteEmpty(RuleViolation):
    rule = "A1"
    status_code = 400


class ReviewInvalid(RuleViolation):
    status_code = 400


class RunActive(RuleViolation):
    rule = "model loop"


class NotClaimed(RuleViolation):
    rule = "model loop"


class PredictionsInvalid(RuleViolation):
    rule = "model loop"
    status_code = 400


class ImportInvalid(RuleViolation):
    """A dataset file that cannot be imported at all (missing, not JSON, not a list)."""

    rule = "import"
    status_code = 400
