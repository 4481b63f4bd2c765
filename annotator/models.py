"""The collection's data: videos, the template catalogue, questions, votes and watching.

Rules that a single table can hold are constraints here (one live question per video and
template, one vote per annotator and question, status and answer agreeing); rules that need
several rows live in `services.py`, under row locks.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.db.models import F, Q, Value

from qa_model import catalogue

ANNOTATORS_GROUP = "annotators"

# Work is offered by walking the videos (and the open questions) that can still be offered in a
# fixed pseudo-random order, a ring, from a starting point that differs per annotator: people
# who ask at the same moment are spread over equal candidates, a reload shows the same item, and
# the walk is an index range scan that stops at the first fit, whatever the collection's size.
# A row's place on the ring is its id times about 2^31/φ modulo 2^31 (Fibonacci hashing): an
# odd multiplier, so each id below 2^31 has a place of its own, and consecutive ids land far
# apart and evenly spread. Computed by the database from the id (a stored generated column).
OFFER_RING = 2**31
OFFER_STEP = 1_327_217_885


def offer_place(pk: int) -> int:
    """A row's place on the offer ring, as the column `offer_key_field` computes it in SQL;
    also where an annotator (by their own id) starts walking it."""
    return pk % OFFER_RING * OFFER_STEP % OFFER_RING


def offer_key_field() -> models.GeneratedField:
    """The stored place of each row on the offer ring: `offer_place` of its id, in SQL (the
    products stay below 2^63)."""
    ring = Value(OFFER_RING, output_field=models.BigIntegerField())
    step = Value(OFFER_STEP, output_field=models.BigIntegerField())
    return models.GeneratedField(
        expression=(F("id") % ring) * step % ring,
        output_field=models.BigIntegerField(),
        db_persist=True,
    )


class AnnotatorManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(groups__name=ANNOTATORS_GROUP)


class Annotator(User):
    """The people of the annotators group, for the admin's statistics and actions."""

    objects = AnnotatorManager()

    class Meta:
        proxy = True
        ordering = ["username"]


class FeatureStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


# A video id names files (the clip, its features on the gpu worker), so it is a slug: no path.
AVQA_ID_PATTERN = r"^[A-Za-z0-9_-]+$"


class Video(models.Model):
    # The id used in MUSIC-AVQA records and feature file names, e.g. "00000028".
    avqa_id = models.CharField("video id", max_length=64, unique=True)
    title = models.CharField(max_length=200, blank=True)
    file = models.FileField(upload_to="videos/")
    duration_seconds = models.FloatField()
    is_active = models.BooleanField(
        default=True, help_text="Inactive videos are offered to no one and take no submissions."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Where it came from (video_import.py): the source file's sha256 (duplicates are skipped),
    # its name, and where in it this clip starts.
    source_hash = models.CharField(max_length=64, blank=True, db_index=True)
    source_name = models.CharField(max_length=255, blank=True)
    clip_start_seconds = models.FloatField(default=0.0)
    # Optional metadata, edited in the admin.
    instruments = models.CharField(
        max_length=300, blank=True, help_text="Instruments present, comma-separated."
    )
    ensemble = models.CharField(
        max_length=16, blank=True, choices=[("solo", "solo"), ("ensemble", "ensemble")]
    )
    source_url = models.URLField(blank=True)
    # Written by the gpu worker's extraction task through the worker API (modelloop.py).
    feature_status = models.CharField(
        max_length=16, choices=FeatureStatus.choices, default=FeatureStatus.PENDING
    )
    feature_error = models.TextField(blank=True)
    feature_updated_at = models.DateTimeField(null=True, blank=True)
    # When the extraction task of a pending video reached the broker; null while it has not
    # (Redis was down at the time): the reaper sends it again.
    feature_task_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The live questions on this video (Q2, Q3), kept by the services in the transaction that
    # changes one, under the video's row lock, so offering work reads one column instead of
    # counting every video's questions; `manage.py audit_rules` checks it against a recount.
    live_questions = models.PositiveSmallIntegerField(default=0, editable=False)
    offer_key = offer_key_field()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_seconds__gt=0), name="video_duration_positive"
            ),
            models.CheckConstraint(
                condition=Q(avqa_id__regex=AVQA_ID_PATTERN), name="video_avqa_id_slug"
            ),
        ]
        indexes = [
            # The videos that can be offered, by live questions, each level in ring order.
            models.Index(
                fields=["live_questions", "offer_key"],
                condition=Q(is_active=True),
                name="video_offer_ring",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.avqa_id


class QuestionTemplate(models.Model):
    """One of the 33 templates; the primary key is the catalogue number (stable everywhere)."""

    class Modality(models.TextChoices):
        AUDIO = catalogue.AUDIO
        VISUAL = catalogue.VISUAL
        AUDIO_VISUAL = catalogue.AUDIO_VISUAL

    class QuestionType(models.TextChoices):
        EXISTENTIAL = catalogue.EXISTENTIAL
        LOCATION = catalogue.LOCATION
        COUNTING = catalogue.COUNTING
        COMPARATIVE = catalogue.COMPARATIVE
        TEMPORAL = catalogue.TEMPORAL

    AnswerKind = models.TextChoices(
        "AnswerKind", [(kind, label) for kind, label in catalogue.ANSWER_KIND_LABELS.items()]
    )

    id = models.PositiveSmallIntegerField(primary_key=True)
    modality = models.CharField(max_length=16, choices=Modality.choices)
    question_type = models.CharField(max_length=16, choices=QuestionType.choices)
    text = models.CharField(max_length=200, unique=True)
    answer_kind = models.CharField(max_length=40, choices=AnswerKind.choices)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id}. {self.text}"

    @property
    def slots(self) -> tuple[str, ...]:
        """Slot names in reading order, e.g. ("Object", "LR")."""
        return catalogue.template_slots(self.text)

    @property
    def answers(self) -> tuple[str, ...]:
        """The answers this template admits (rule A1)."""
        return catalogue.ANSWER_KINDS[self.answer_kind]

    def fill(self, slot_values: list[str]) -> str:
        return catalogue.template_fill(self.text, slot_values)


class Answer(models.Model):
    """One word of the closed 42-answer vocabulary."""

    text = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text


class QuestionStatus(models.TextChoices):
    OPEN = "open"
    ACCEPTED = "accepted"
    INVALID = "invalid"
    DISPUTED = "disputed"


# A live question holds its template on its video (Q2) and one of the video's slots (Q3).
# The paper names open and accepted; a disputed question is live too, because a reviewer may
# still accept it, and it must not then collide with a newer question on the same template.
LIVE_STATUSES = (QuestionStatus.OPEN, QuestionStatus.ACCEPTED, QuestionStatus.DISPUTED)


class WatchSession(models.Model):
    """One viewing of a video by an annotator, credited from heartbeats on the server clock."""

    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watch_sessions"
    )
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="watch_sessions")
    started_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()
    last_position = models.FloatField(default=0.0)
    credited_seconds = models.FloatField(default=0.0)
    heartbeats = models.PositiveIntegerField(default=0)
    # When a heartbeat last credited it (its start until then): a viewing counts as going on,
    # for offering work, only while it is being credited, not while it sits paused or hidden.
    last_credited_at = models.DateTimeField(null=True, blank=True)
    # Set by the one submission this viewing unlocks (rule W1).
    consumed_at = models.DateTimeField(null=True, blank=True)
    # The question this viewing was opened to answer (empty when opened to ask one). While it
    # is in progress, the question is offered to fewer others: without this, everyone asking
    # at the same moment is offered the same question and all but two watch for nothing.
    answering = models.ForeignKey(
        "Question", on_delete=models.SET_NULL, null=True, blank=True, related_name="viewings"
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["annotator", "video"]),
            # The admin's list, newest first, reads a page of this instead of sorting them all.
            models.Index(fields=["started_at", "id"], name="watch_session_started"),
            # Viewings still going on (credited recently, not used yet): the submissions on
            # their way that offering work counts. Few at any moment, however many there were.
            models.Index(
                fields=["last_credited_at"],
                condition=Q(consumed_at__isnull=True),
                name="watch_session_in_flight",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(credited_seconds__gte=0), name="watch_credit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} watching {self.video} ({self.credited_seconds:.1f} s)"


class WatchClock(models.Model):
    """One person's real time on the watch gate (W1): the moment up to which their watching has
    been credited, on whichever viewing. The heartbeats of all their viewings take turns on this
    row, so tabs playing at once share the person's seconds instead of each earning them."""

    annotator = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="watch_clock",
    )
    credited_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.annotator} credited until {self.credited_until:%H:%M:%S}"


class QuestionQuerySet(models.QuerySet):
    def live(self) -> QuestionQuerySet:
        """Questions that hold their template and a slot on their video (Q2, Q3)."""
        return self.filter(status__in=LIVE_STATUSES)

    def blocking(self, annotator: object) -> QuestionQuerySet:
        """Questions that close their template on their video for this annotator (Q1, Q2)."""
        return self.filter(Q(status__in=LIVE_STATUSES) | Q(author=annotator))


class Question(models.Model):
    video = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="questions")
    template = models.ForeignKey(
        QuestionTemplate, on_delete=models.PROTECT, related_name="questions"
    )
    # The values that fill the template's slots, left to right, e.g. ["cello", "left"].
    slot_values = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="questions"
    )
    status = models.CharField(
        max_length=16, choices=QuestionStatus.choices, default=QuestionStatus.OPEN
    )
    accepted_answer = models.ForeignKey(
        Answer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The viewing that unlocked this question; empty for questions imported from a dataset.
    watch_session = models.OneToOneField(
        WatchSession, on_delete=models.PROTECT, null=True, blank=True, related_name="question"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Set when staff make an accepted question gold: it is offered again to annotators, who do
    # not know it, and their answers measure them against the accepted one.
    gold_since = models.DateTimeField(null=True, blank=True)
    # The votes that count towards a decision (Vote.objects.counted()), kept by the services
    # under the question's row lock; open questions closest to a decision are offered first.
    # `manage.py audit_rules` checks it against a recount.
    counted_votes = models.PositiveSmallIntegerField(default=0, editable=False)
    offer_key = offer_key_field()
    # Where the question came from: empty for a question collected here; for a record imported
    # from a published dataset, the release's name and the split it was published in (which an
    # export keeps, so a release's test questions never land in an exported training split).
    origin_release = models.CharField(max_length=64, blank=True, default="")
    origin_split = models.CharField(
        max_length=8, blank=True, default="", choices=[(s, s) for s in ("train", "val", "test")]
    )
    # The collection rules an imported record breaks ("Q2 Q3"): it was not collected here, so it
    # is kept as published, and flagged.
    origin_exemptions = models.CharField(max_length=32, blank=True, default="")
    # Answerable without watching: the question-only model of the latest retrain, which reads
    # the question and nothing else, gives this probability to the accepted answer (to its own
    # leading answer while the question is open), and answers `blind_answer`. Near 1, the
    # question teaches a model nothing about sound or sight (the bias MUSIC-AVQA v2.0 and
    # MUSIC-AVQA-R later had to repair). Null until a retrain scored it.
    blind_score = models.FloatField(null=True, blank=True, editable=False)
    blind_answer = models.CharField(max_length=32, blank=True, default="", editable=False)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            # Q1: an annotator uses a template on a video once, ever. Records imported from a
            # published dataset were not collected here and keep what the release says.
            models.UniqueConstraint(
                fields=["video", "template", "author"],
                condition=Q(origin_release=""),
                name="q1_template_once_per_author",
            ),
            # Q2: at most one live question per video and template, among those collected.
            models.UniqueConstraint(
                fields=["video", "template"],
                condition=Q(status__in=LIVE_STATUSES, origin_release=""),
                name="q2_one_live_question_per_template",
            ),
            # A3/A4: a question has an accepted answer exactly when it is accepted.
            models.CheckConstraint(
                condition=(
                    Q(status=QuestionStatus.ACCEPTED, accepted_answer__isnull=False)
                    | (~Q(status=QuestionStatus.ACCEPTED) & Q(accepted_answer__isnull=True))
                ),
                name="accepted_answer_iff_accepted",
            ),
            models.CheckConstraint(
                condition=Q(status__in=QuestionStatus.values), name="question_status_known"
            ),
            models.CheckConstraint(
                condition=Q(gold_since__isnull=True) | Q(status=QuestionStatus.ACCEPTED),
                name="gold_questions_are_accepted",
            ),
        ]
        indexes = [
            models.Index(fields=["video", "status"]),
            models.Index(fields=["status"]),
            # The open questions, by counted votes, each level in ring order.
            models.Index(
                fields=["counted_votes", "offer_key"],
                condition=Q(status=QuestionStatus.OPEN),
                name="question_offer_ring",
            ),
            models.Index(
                fields=["gold_since", "id"],
                condition=Q(gold_since__isnull=False),
                name="question_gold",
            ),
            # The review queue of the most blind-answerable accepted questions.
            models.Index(
                F("blind_score").desc(),
                "id",
                condition=Q(status=QuestionStatus.ACCEPTED, blind_score__isnull=False),
                name="question_blind_answerable",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        return self.template.fill(self.slot_values)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class VoteQuerySet(models.QuerySet):
    def counted(self) -> VoteQuerySet:
        """Votes that count towards a decision: not discounted (by a reviewer, a reopen or a
        deactivation) and not a check against a gold question's known answer."""
        return self.filter(discounted_at__isnull=True, gold_check=False)


class Vote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes"
    )
    # Exactly one of: an answer from the template's kind, or the "invalid question" flag.
    answer = models.ForeignKey(
        Answer, on_delete=models.PROTECT, null=True, blank=True, related_name="votes"
    )
    invalid = models.BooleanField("flags the question invalid", default=False)
    # Cast on a gold question (already accepted, offered again unknowingly): it measures the
    # annotator against the known answer and never changes the question.
    gold_check = models.BooleanField(default=False)
    watch_session = models.OneToOneField(
        WatchSession, on_delete=models.PROTECT, null=True, blank=True, related_name="vote"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a reviewer reopens the question: the vote stays on record but no longer counts.
    discounted_at = models.DateTimeField(null=True, blank=True)

    objects = VoteQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            # A2: one vote per annotator per question.
            models.UniqueConstraint(
                fields=["question", "annotator"], name="a2_one_vote_per_annotator"
            ),
            # A1: an answer or the invalid flag, never both, never neither.
            models.CheckConstraint(
                condition=(
                    Q(invalid=True, answer__isnull=True) | Q(invalid=False, answer__isnull=False)
                ),
                name="vote_answer_xor_invalid",
            ),
        ]

    def __str__(self) -> str:
        return "invalid question" if self.invalid else str(self.answer)


class StatusChange(models.Model):
    """The audit trail: every status a question enters, who or what caused it, and when."""

    class Cause(models.TextChoices):
        CREATED = "created"
        VOTES = "votes", "crowd votes"
        REVIEW = "review", "reviewer"
        IMPORT = "import", "dataset import"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, choices=QuestionStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=QuestionStatus.choices)
    accepted_answer = models.ForeignKey(
        Answer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cause = models.CharField(max_length=16, choices=Cause.choices)
    # The author for a creation, the voter whose vote decided it, or the reviewer.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "status change"

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"


# --- the model in the loop ----------------------------------------------------------------


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class TrainingRun(models.Model):
    """One request to retrain AVST. The gpu worker claims it with a conditional update
    (queued → running), so a duplicate or redelivered task never trains twice."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "new accepted pairs"
        ADMIN = "admin", "retrain now"

    # One lane today: the partial unique constraint below keeps at most one run queued or
    # running, whatever the number of beats, admins and redeliveries.
    lane = models.CharField(max_length=16, default="gpu", editable=False)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Accepted pairs in the database when the run was queued: RETRAIN_MIN_NEW counts from here.
    accepted_pairs = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker's last report ({stage, epoch, epochs, loss, val_accuracy}) and when it came;
    # a running run whose worker stopped reporting is requeued or failed by the reaper.
    progress = models.JSONField(default=dict, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # When the training task of a queued run reached the broker; null while it has not (Redis
    # was down at the time): the reaper sends it again.
    task_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lane"],
                condition=Q(status__in=ACTIVE_RUN_STATUSES),
                name="one_active_training_run",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="training_run_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"


class ModelVersion(models.Model):
    """The result of one successful run: what it learnt from, how it scores, its weights."""

    # One-to-one: a run is recorded as a version at most once, whatever the worker retries.
    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="version")
    number = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dataset_hash = models.CharField(max_length=64)
    # {"train": {"pairs": n, "videos": n, "types": {"Audio/Counting": n, …}}, "val": …, "test": …}
    dataset_counts = models.JSONField(default=dict)
    config = models.JSONField(default=dict)
    device = models.CharField(max_length=64)
    duration_seconds = models.FloatField()
    best_epoch = models.PositiveIntegerField(default=0)
    best_val_accuracy = models.FloatField(null=True, blank=True)
    # Table 2 on the held-out (test) split: {"columns": {...}, "counts": {...}}; empty when the
    # split held no examples, with the reason in `notes`.
    metrics = models.JSONField(default=dict, blank=True)
    # The same table for baselines trained on the same split in the same run, by variant
    # ({"question_only": {"columns": …, "counts": …}}): what the model adds to the question.
    baselines = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    checkpoint = models.FileField(upload_to="models/")
    is_active = models.BooleanField(default=False)
    # When a predict task for this version's missing suggestions was sent; cleared when the
    # worker says it is done. Beat sends no other while it is set, unless it is older than
    # PREDICT_RESEND_SECONDS (its post failed, or its worker died).
    predict_task_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"
            ),
        ]

    def __str__(self) -> str:
        return f"model v{self.number}"


class Prediction(models.Model):
    """A model version's answer to one question, with where it looked. Staff only."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="predictions")
    answer = models.CharField(max_length=32)
    confidence = models.FloatField()
    top3 = models.JSONField(default=list)  # [{"answer": …, "confidence": …}, …]
    audio_weights = models.JSONField(null=True, blank=True)  # [T]
    visual_weights = models.JSONField(null=True, blank=True)  # [T]
    # {"segments": [t, …], "maps": [[[14 floats] × 14], …]} for the most attended segments
    spatial_maps = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confidence"]
        indexes = [
            # A review queue (one version, surest first) and the admin's list (surest first)
            # read a page of these instead of sorting every prediction.
            models.Index(
                fields=["version", "-confidence", "question"], name="prediction_review_order"
            ),
            models.Index(fields=["confidence", "id"], name="prediction_confidence"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "question"], name="one_prediction_per_version_and_question"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="prediction_confidence_is_a_probability",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version}: {self.answer} ({self.confidence:.0%})"


class ImportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class VideoImport(models.Model):
    """One request to import video files. It runs on the default queue, never inside a web
    request (a long video takes minutes to transcode); admins follow it here. Uploaded files
    wait in a folder of their own under MEDIA_ROOT/imports/ (the web and worker processes share
    the media volume) and are deleted once read."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    folder = models.CharField(max_length=1000, help_text="Where the files are read from.")
    files = models.JSONField(default=list, help_text="File names in the folder, in order.")
    random_offsets = models.BooleanField(default=False)
    # Uploads are deleted once imported; files an admin named on the server are not.
    delete_files = models.BooleanField(default=False)
    progress = models.FloatField(default=0.0, help_text="Share of the work done, 0 to 1.")
    current_file = models.CharField(max_length=255, blank=True)
    files_done = models.PositiveIntegerField(default=0)
    clips_made = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    # One line per file: "added: …", "skipped: …" or "refused: …" (the reason).
    outcomes = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="video_import_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"import {self.pk}: {len(self.files)} file(s), {self.status}"
