"""The model in the loop, on the web side: feature extraction status, training runs, model
versions and predictions. The gpu worker reaches these only through the worker API.

Every step that the gpu worker starts is claimed by a conditional update of a row (queued →
running), so a duplicate delivery, a second beat or a redelivery after a crash does nothing
twice; a worker that dies mid-run is found by `gpu_work_reap` from its silence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from annotator import errors
from annotator.models import (
    ACTIVE_RUN_STATUSES,
    LIVE_STATUSES,
    FeatureStatus,
    ModelVersion,
    Prediction,
    Question,
    QuestionStatus,
    RunStatus,
    TrainingRun,
    Video,
)
from qa_model import catalogue, contract
from qa_model.contract import TASK_EXTRACT, TASK_PREDICT, TASK_TRAIN

logger = logging.getLogger(__name__)

# The gpu worker's tasks (config/gpu_worker.py) are sent by name (TASK_*, from the contract):
# the web app never imports the worker's code, and the worker never imports Django.

# Publishing to a broker that is down gives up after about half a second (three tries, 0.2 s
# apart; a connection refused fails at once) instead of holding the request that queued the work.
SEND_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The column that records that a row's task reached the broker.
_SENT_FIELD = {
    Video: "feature_task_sent_at",
    TrainingRun: "task_sent_at",
    ModelVersion: "predict_task_sent_at",
}


def _send(task: str, arg: str | int, *, queue: str, undelivered: QuerySet) -> bool:
    """Hand a gpu task to the broker and stamp its row as sent; False (and a warning) if the
    broker refused it. A refusal never raises: the row is committed whatever happens here and
    the reaper sends a row that was never stamped, so an error now would only fail a request
    that worked."""
    from config.celery import app

    try:
        # ignore_result: nobody reads a gpu task's result, and the result backend's own
        # reconnection loop would hold a send for about 20 s while Redis is down.
        app.send_task(
            task,
            args=[arg],
            queue=queue,
            ignore_result=True,
            retry=True,
            retry_policy=SEND_RETRY_POLICY,
        )
    except Exception as error:  # whatever the broker client raises (kombu, redis-py, OSError)
        logger.warning("%s(%r) not sent, the reaper will send it again: %s", task, arg, error)
        return False
    undelivered.update(**{_SENT_FIELD[undelivered.model]: timezone.now()})
    return True


def _send_after_commit(task: str, arg: str | int, undelivered: QuerySet) -> None:
    """Send a gpu task once the row it claims is committed (never a task for a rolled-back
    row). `undelivered` selects that row while it still waits for this send. With GPU_QUEUE
    empty nothing is sent; the rows wait for an admin."""
    queue = settings.GPU_QUEUE
    if queue:
        # robust: should even the stamp fail (the database gone right after the commit), the
        # request that committed still succeeds; the reaper sends the task again, and its claim
        # makes the second delivery do nothing.
        transaction.on_commit(
            lambda: _send(task, arg, queue=queue, undelivered=undelivered), robust=True
        )


# --- features ------------------------------------------------------------------------------


def video_features_queue(video: Video) -> None:
    """(Re)queue a video's feature extraction: new videos, and the admin's retry."""
    with transaction.atomic():
        Video.objects.filter(pk=video.pk).update(
            feature_status=FeatureStatus.PENDING,
            feature_error="",
            feature_updated_at=None,
            feature_task_sent_at=None,
        )
        video.feature_status, video.feature_error = FeatureStatus.PENDING, ""
        _send_after_commit(TASK_EXTRACT, video.avqa_id, _undelivered_videos().filter(pk=video.pk))


def _undelivered_videos() -> QuerySet[Video]:
    return Video.objects.filter(feature_status=FeatureStatus.PENDING, feature_task_sent_at=None)


def video_features_claim(video: Video) -> bool:
    """pending → running; False if another delivery got there first (or it is done)."""
    return bool(
        Video.objects.filter(pk=video.pk, feature_status=FeatureStatus.PENDING).update(
            feature_status=FeatureStatus.RUNNING, feature_updated_at=timezone.now()
        )
    )


def video_features_report(video: Video, *, ok: bool, error: str = "") -> None:
    """The worker's outcome for a claimed extraction (running → ready | failed)."""
    status = FeatureStatus.READY if ok else FeatureStatus.FAILED
    updated = Video.objects.filter(pk=video.pk, feature_status=FeatureStatus.RUNNING).update(
        feature_status=status,
        feature_error="" if ok else error[: contract.MESSAGE_MAX_CHARS],
        feature_updated_at=timezone.now(),
    )
    if not updated:
        raise errors.NotClaimed(errors.FEATURES_NOT_CLAIMED.format(video=video.avqa_id))


# --- training runs -------------------------------------------------------------------------


def accepted_pairs_count() -> int:
    return Question.objects.filter(status=QuestionStatus.ACCEPTED).count()


def _undelivered_runs() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(status=RunStatus.QUEUED, task_sent_at=None)


def _run_create(*, trigger: str, requested_by: object = None) -> TrainingRun:
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                trigger=trigger, requested_by=requested_by, accepted_pairs=accepted_pairs_count()
            )
            _send_after_commit(TASK_TRAIN, run.pk, _undelivered_runs().filter(pk=run.pk))
    except IntegrityError:
        # one_active_training_run: another beat or admin queued one first.
        raise errors.RunActive(errors.RUN_ACTIVE) from None
    return run


def retrain_check() -> TrainingRun | None:
    """Beat: queue a run when RETRAIN_MIN_NEW accepted pairs arrived since the last version."""
    if TrainingRun.objects.filter(status__in=ACTIVE_RUN_STATUSES).exists():
        return None
    accepted = accepted_pairs_count()
    last_version = ModelVersion.objects.select_related("run").order_by("-number").first()
    since = last_version.run.accepted_pairs if last_version else 0
    if accepted - since < settings.RETRAIN_MIN_NEW:
        return None
    last_run = TrainingRun.objects.order_by("-id").first()
    if last_run and last_run.status == RunStatus.FAILED and last_run.accepted_pairs == accepted:
        # The same data failed last time; an admin's "retrain now" retries it, not every beat.
        return None
    try:
        return _run_create(trigger=TrainingRun.Trigger.SCHEDULE)
    except errors.RunActive:
        return None


def retrain_now(*, requested_by: object) -> TrainingRun:
    """The admin's "retrain now": no minimum of new pairs."""
    return _run_create(trigger=TrainingRun.Trigger.ADMIN, requested_by=requested_by)


def training_run_claim(run: TrainingRun) -> bool:
    """queued → running for the delivery that gets there first; False for every other one."""
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=run.attempts + 1,
        progress={"stage": "starting"},
    )
    run.refresh_from_db()
    return bool(claimed)


def _running(run: TrainingRun) -> TrainingRun:
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.RUNNING:
        raise errors.NotClaimed(errors.RUN_NOT_RUNNING.format(run=run.pk, status=run.status))
    return run


@transaction.atomic
def training_run_progress(run: TrainingRun, progress: dict) -> None:
    run = _running(run)
    run.progress, run.heartbeat_at = progress, timezone.now()
    run.save(update_fields=["progress", "heartbeat_at"])


@transaction.atomic
def training_run_fail(run: TrainingRun, *, error: str) -> None:
    run = _running(run)
    run.status, run.finished_at = RunStatus.FAILED, timezone.now()
    run.error = error[: contract.MESSAGE_MAX_CHARS]
    run.save(update_fields=["status", "error", "finished_at"])
    logger.warning("training run %s failed: %s", run.pk, error)


def training_run_finish(
    run: TrainingRun, *, result: contract.TrainingResult, checkpoint: File
) -> tuple[ModelVersion, bool]:
    """Record a finished run as the next, active model version, exactly once.

    Returns (version, created). Posting the same run's result again returns its version and
    changes nothing, so a worker that retries after a lost response cannot record it twice.
    """
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        existing = ModelVersion.objects.filter(run=run).first()
        if existing:
            return existing, False
        if run.status != RunStatus.RUNNING:
            raise errors.NotClaimed(errors.RUN_NOT_RUNNING.format(run=run.pk, status=run.status))
        number = (ModelVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion(
            run=run,
            number=number,
            dataset_hash=result["dataset_hash"],
            dataset_counts=result["dataset_counts"],
            config=result["config"],
            device=result["device"],
            duration_seconds=result["duration_seconds"],
            best_epoch=result["best_epoch"],
            best_val_accuracy=result["best_val_accuracy"],
            metrics=result["metrics"],
            baselines=result.get("baselines") or {},
            notes=result["notes"],
        )
        version.checkpoint.save(f"avst-v{number}.pt", checkpoint, save=False)
        try:
            ModelVersion.objects.filter(is_active=True).update(is_active=False)
            version.is_active = True
            version.save()
        except BaseException:
            version.checkpoint.delete(save=False)
            raise
        run.status, run.finished_at = RunStatus.SUCCEEDED, timezone.now()
        run.progress = {**run.progress, "stage": "done"}
        run.save(update_fields=["status", "finished_at", "progress"])
    return version, True


def gpu_work_reap(now: object = None) -> dict[str, int]:
    """Beat: find gpu work whose worker went silent (killed, machine lost) and recover it, and
    send the work that never reached the broker.

    A run is requeued while it has attempts left, else failed; an extraction is failed (an admin
    retries it). Conditional updates on the stale state, so a worker that reports meanwhile wins.
    Work sent long ago that an idle worker never claimed is sent again.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.RUN_STALE_SECONDS)
    requeued = failed = 0
    for run in TrainingRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=stale):
        fields = {"heartbeat_at": None, "started_at": None}
        if run.attempts < settings.RUN_MAX_ATTEMPTS:
            with transaction.atomic():
                if TrainingRun.objects.filter(
                    pk=run.pk, status=RunStatus.RUNNING, heartbeat_at=run.heartbeat_at
                ).update(
                    status=RunStatus.QUEUED,
                    progress={"stage": "requeued"},
                    task_sent_at=None,
                    **fields,
                ):
                    _send_after_commit(TASK_TRAIN, run.pk, _undelivered_runs().filter(pk=run.pk))
                    requeued += 1
        elif TrainingRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, heartbeat_at=run.heartbeat_at
        ).update(
            status=RunStatus.FAILED,
            finished_at=now,
            error=errors.RUN_WORKER_LOST.format(attempts=run.attempts),
        ):
            failed += 1
    extractions = Video.objects.filter(
        feature_status=FeatureStatus.RUNNING, feature_updated_at__lt=stale
    ).update(feature_status=FeatureStatus.FAILED, feature_error=errors.FEATURES_WORKER_LOST)
    _unclaimed_unstamp(stale)
    return {
        "requeued": requeued,
        "failed": failed,
        "extractions_failed": extractions,
        "resent": _undelivered_send(),
    }


def _unclaimed_unstamp(stale: object) -> None:
    """Mark as never sent the work that was sent before `stale` and is still unclaimed while no
    gpu work runs: an idle worker would have claimed it, so its message was lost (a broker
    restarted without its data, a delivery to a worker killed at that moment). The reaper then
    sends it again; the claim makes a late original do nothing. Only while the lane is idle: a
    long training run legitimately keeps the queue waiting behind it.
    """
    busy = (
        TrainingRun.objects.filter(status=RunStatus.RUNNING).exists()
        or Video.objects.filter(feature_status=FeatureStatus.RUNNING).exists()
    )
    if busy:
        return
    TrainingRun.objects.filter(status=RunStatus.QUEUED, task_sent_at__lt=stale).update(
        task_sent_at=None
    )
    Video.objects.filter(
        feature_status=FeatureStatus.PENDING, feature_task_sent_at__lt=stale
    ).update(feature_task_sent_at=None)


def _undelivered_send() -> int:
    """Send the gpu work that was recorded but never reached the broker (queued while Redis
    was down); stop at the first refusal, as the broker is still down. Returns how many sent.

    A row whose request is sending it at this very moment may be sent twice; the claim makes
    the second delivery do nothing.
    """
    queue = settings.GPU_QUEUE
    if not queue:
        return 0
    pending = [
        (TASK_TRAIN, pk, _undelivered_runs().filter(pk=pk))
        for pk in _undelivered_runs().values_list("pk", flat=True)
    ]
    pending += [
        (TASK_EXTRACT, avqa_id, _undelivered_videos().filter(avqa_id=avqa_id))
        for avqa_id in _undelivered_videos().values_list("avqa_id", flat=True)
    ]
    sent = 0
    for task, arg, row in pending:
        if not _send(task, arg, queue=queue, undelivered=row):
            break
        sent += 1
    return sent


# --- predictions ---------------------------------------------------------------------------


def predictions_store(
    version: ModelVersion, items: Sequence[contract.PredictionItem]
) -> contract.PredictionsStored:
    """Store a version's predictions; the whole post is refused if any question is unknown.

    Idempotent: a prediction already stored for (version, question) is left as it is.
    """
    ids = [item["question_id"] for item in items]
    if len(set(ids)) != len(ids):
        raise errors.PredictionsInvalid(errors.PREDICTIONS_DUPLICATE)
    kinds = dict(
        Question.objects.filter(pk__in=ids, status__in=LIVE_STATUSES).values_list(
            "pk", "template__answer_kind"
        )
    )
    unknown = sorted(set(ids) - set(kinds))
    if unknown:
        raise errors.PredictionsInvalid(
            errors.PREDICTIONS_UNKNOWN.format(count=len(unknown), ids=unknown[:5])
        )
    # A1 for the model too: a suggestion names only answers its question's template admits.
    inadmissible = sorted(
        item["question_id"]
        for item in items
        if not {item["answer"], *(ranked["answer"] for ranked in item["top3"])}
        <= set(catalogue.ANSWER_KINDS[kinds[item["question_id"]]])
    )
    if inadmissible:
        raise errors.PredictionsInvalid(
            errors.PREDICTIONS_INADMISSIBLE.format(count=len(inadmissible), ids=inadmissible[:5])
        )
    with transaction.atomic():
        present = set(
            Prediction.objects.filter(version=version, question_id__in=ids).values_list(
                "question_id", flat=True
            )
        )
        new = [
            Prediction(
                version=version,
                question_id=item["question_id"],
                **{key: item.get(key) for key in contract.PREDICTION_FIELDS},
            )
            for item in items
            if item["question_id"] not in present
        ]
        Prediction.objects.bulk_create(new, ignore_conflicts=True)
    return contract.PredictionsStored(stored=len(new), unchanged=len(items) - len(new))


def questions_unpredicted(version: ModelVersion) -> QuerySet[Question]:
    """Live questions without a prediction from `version`: open ones (their suggestion) and
    accepted or disputed ones (the disagreement queue), e.g. asked after it was trained."""
    predicted = Prediction.objects.filter(version=version, question=OuterRef("pk"))
    return Question.objects.filter(status__in=LIVE_STATUSES).filter(~Exists(predicted))


def predictions_check(now: object = None) -> bool:
    """Beat (every PREDICT_INTERVAL_SECONDS): when open questions lack a suggestion from the
    active version, send the gpu worker a predict task for it, unless one is on its way (sent
    less than PREDICT_RESEND_SECONDS ago and not reported done). A question asked after the
    version was trained so gets its suggestion within a beat or two, not at the next retrain;
    a task whose post failed is sent again. True when a task was sent."""
    queue = settings.GPU_QUEUE
    version = ModelVersion.objects.filter(is_active=True).first()
    if not queue or version is None or not questions_unpredicted(version).exists():
        return False
    now = now or timezone.now()
    resend_before = now - timedelta(seconds=settings.PREDICT_RESEND_SECONDS)
    waiting = Q(predict_task_sent_at__isnull=True) | Q(predict_task_sent_at__lt=resend_before)
    # Take the slot first (a conditional update), so two beats never both send.
    if not ModelVersion.objects.filter(waiting, pk=version.pk).update(predict_task_sent_at=now):
        return False
    row = ModelVersion.objects.filter(pk=version.pk)
    if not _send(TASK_PREDICT, version.pk, queue=queue, undelivered=row):
        row.update(predict_task_sent_at=None)  # the next beat tries again
        return False
    return True


def predictions_done(version: ModelVersion) -> int:
    """The worker finished a predict task: another may be sent (for questions asked since, or
    beyond its batch). Returns how many open questions still lack this version's prediction."""
    ModelVersion.objects.filter(pk=version.pk).update(predict_task_sent_at=None)
    return questions_unpredicted(version).count()


# --- answerable without watching -----------------------------------------------------------


def blind_scores_store(
    version: ModelVersion, items: Sequence[contract.BlindScore]
) -> contract.BlindScoresStored:
    """Record the question-only model's score and answer for these questions (the latest
    version's replace an older one's; a version older than the newest scored is refused, so a
    late retry cannot undo a newer retrain). Questions that are gone since are skipped."""
    newest = ModelVersion.objects.aggregate(n=Max("number"))["n"]
    if newest is not None and version.number < newest:
        raise errors.NotClaimed(errors.BLIND_SCORES_STALE.format(version=version.number))
    scores = {item["question_id"]: (item["score"], item["answer"]) for item in items}
    questions = list(Question.objects.filter(pk__in=scores).only("pk"))
    for question in questions:
        question.blind_score, question.blind_answer = scores[question.pk]
    Question.objects.bulk_update(questions, ["blind_score", "blind_answer"], batch_size=1000)
    return contract.BlindScoresStored(stored=len(questions), skipped=len(scores) - len(questions))
