"""Training AVST in the reference's two stages, and checkpoints that load on their own.

Stage 1 pre-trains the spatial grounding with the audio-visual match loss alone; stage 2 trains
L = L_qa + 0.5·L_match (L_match only where the variant grounds spatially). Adam, a step
schedule, the best-validation weights kept.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from qa_model import contract
from qa_model.data import Batch, FeatureStore, Inputs, Vocabulary, admissible_logits, batches
from qa_model.files import atomic_write
from qa_model.model import AnswerModel, AVSTConfig, AVSTOutput, build_model, variant_config
from qa_model.records import DataError, Record

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "avst-checkpoint/1"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = contract.TRAIN_EPOCHS  # stage 2 (the paper trains 30)
    grounding_epochs: int = contract.TRAIN_GROUNDING_EPOCHS  # stage 1, spatial grounding only
    batch_size: int = contract.TRAIN_BATCH_SIZE
    learning_rate: float = contract.TRAIN_LEARNING_RATE
    lr_step_epochs: int = 8  # ×lr_gamma every this many epochs (the reference code: 8)
    lr_gamma: float = 0.1
    match_weight: float = 0.5
    seed: int = 0
    device: str | None = None
    # The answers a template does not admit masked in the loss as well as at prediction (where
    # they always are); off until the accuracy benchmark shows it helps.
    mask_answers_in_loss: bool = False


@dataclass
class Progress:
    """One step of a training run, for progress displays and the platform's run page."""

    stage: str  # "grounding" or "qa"
    epoch: int
    epochs: int
    loss: float
    val_accuracy: float | None = None


@dataclass
class TrainResult:
    model: AnswerModel
    vocabulary: Vocabulary
    best_epoch: int
    best_val_accuracy: float | None
    history: list[Progress] = field(default_factory=list)
    samples_per_second: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str | None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def forward(model: AnswerModel, batch: Batch, *, negatives: bool) -> AVSTOutput:
    """The model on a batch (made with `batch_inputs(model, …)`)."""
    return model(
        batch.questions,
        batch.lengths,
        audio=batch.audio,
        visual=batch.visual,
        pooled_visual=batch.pooled_visual,
        negative_visual=batch.negative_visual if negatives else None,
        standardised=batch.standardised,
    )


def batch_inputs(model: AnswerModel, *, training: bool) -> Inputs:
    """The features to put in a model's batches: non-matched maps only when training."""
    inputs = model.inputs
    return inputs if training else dataclasses.replace(inputs, negatives=False)


def match_loss(output: AVSTOutput) -> torch.Tensor:
    """Cross-entropy of matched (label 1) against non-matched (label 0) audio-visual pairs."""
    positive, negative = output.match_positive, output.match_negative
    labels = torch.cat(
        [
            positive.new_ones(len(positive), dtype=torch.long),
            negative.new_zeros(len(negative), dtype=torch.long),
        ]
    )
    return F.cross_entropy(torch.cat([positive, negative]), labels)


def train(
    train_records: Sequence[Record],
    val_records: Sequence[Record],
    store: FeatureStore,
    *,
    variant: str = "avst",
    config: TrainConfig = TrainConfig(),
    model_overrides: dict | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> TrainResult:
    """Train one variant; return the model with its best-validation weights, or its last
    epoch's when there are no validation records (`best_epoch` says which)."""
    if not train_records:
        raise DataError("no training records")
    store.check([*train_records, *val_records])
    store.preload({r.video_id for r in [*train_records, *val_records]})
    seed_everything(config.seed)
    device = resolve_device(config.device)
    vocabulary = Vocabulary.build(train_records)
    model_config = variant_config(
        variant, vocab_size=len(vocabulary.words), **(model_overrides or {})
    )
    model = build_model(model_config)
    if model_config.normalize_features:
        statistics = store.statistics(r.video_id for r in train_records)
        model.set_feature_statistics(*(torch.from_numpy(s) for s in statistics))
        # Once per video here rather than at every step (a third of a step on a GPU).
        store.standardise(model.feature_statistics())
    else:
        store.standardise(None)
    model.to(device)
    store.hold_on(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    history: list[Progress] = []

    def report(progress: Progress) -> None:
        history.append(progress)
        logger.info(
            "%s epoch %d/%d loss %.4f%s",
            progress.stage,
            progress.epoch,
            progress.epochs,
            progress.loss,
            "" if progress.val_accuracy is None else f" val {progress.val_accuracy:.2%}",
        )
        if on_progress:
            on_progress(progress)

    if model_config.spatial_grounding:
        for epoch in range(1, config.grounding_epochs + 1):
            loss = _epoch(
                model, optimizer, train_records, vocabulary, store, config, epoch, device, qa=False
            )
            report(Progress("grounding", epoch, config.grounding_epochs, loss))

    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step_epochs, config.lr_gamma)
    best_state, best_accuracy, best_epoch = None, None, 0
    samples, seconds = 0, 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        loss = _epoch(
            model, optimizer, train_records, vocabulary, store, config, epoch, device, qa=True
        )
        seconds += time.perf_counter() - started
        samples += len(train_records)
        scheduler.step()
        accuracy = None
        if val_records:
            accuracy = accuracy_of(
                model, vocabulary, val_records, store, batch_size=config.batch_size
            )
        report(Progress("qa", epoch, config.epochs, loss, accuracy))
        if not val_records:
            best_epoch = epoch  # nothing to choose by: the last epoch is the one kept
        elif best_state is None or accuracy > best_accuracy:
            best_state = copy.deepcopy(model.state_dict())
            best_accuracy, best_epoch = accuracy, epoch
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainResult(
        model=model,
        vocabulary=vocabulary,
        best_epoch=best_epoch,
        best_val_accuracy=best_accuracy,
        history=history,
        samples_per_second=samples / seconds if seconds else 0.0,
    )


def _epoch(
    model: AnswerModel,
    optimizer: torch.optim.Optimizer,
    records: Sequence[Record],
    vocabulary: Vocabulary,
    store: FeatureStore,
    config: TrainConfig,
    epoch: int,
    device: torch.device,
    *,
    qa: bool,
) -> float:
    model.train()
    total, count = 0.0, 0
    grounding = model.config.spatial_grounding
    for batch in batches(
        records,
        vocabulary,
        store,
        batch_size=config.batch_size,
        shuffle=True,
        seed=config.seed * 1000 + epoch,
        inputs=batch_inputs(model, training=True),
    ):
        batch = batch.to(device)
        output = forward(model, batch, negatives=grounding)
        if qa:
            logits = output.logits
            if config.mask_answers_in_loss:
                logits = admissible_logits(logits, batch.records, vocabulary)
            loss = F.cross_entropy(logits, batch.answers)
            if grounding:
                loss = loss + config.match_weight * match_loss(output)
        else:
            loss = match_loss(output)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch.records)
        count += len(batch.records)
    return total / max(count, 1)


@torch.inference_mode()
def accuracy_of(
    model: AnswerModel,
    vocabulary: Vocabulary,
    records: Sequence[Record],
    store: FeatureStore,
    *,
    batch_size: int = 64,
) -> float:
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    inputs = batch_inputs(model, training=False)
    for batch in batches(
        records, vocabulary, store, batch_size=batch_size, shuffle=False, inputs=inputs
    ):
        batch = batch.to(device)
        # Among the answers each template admits, as the predictions are.
        logits = admissible_logits(
            forward(model, batch, negatives=False).logits, batch.records, vocabulary
        )
        correct += int((logits.argmax(-1) == batch.answers).sum())
    return correct / len(records)


# --- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(
    path: str | os.PathLike,
    model: AnswerModel,
    vocabulary: Vocabulary,
    *,
    extra: dict | None = None,
) -> Path:
    """Config, vocabularies and weights in one file (written atomically): it loads alone."""
    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_json(),
        "words": list(vocabulary.words),
        "answers": list(vocabulary.answers),
        "state_dict": {key: value.cpu() for key, value in model.state_dict().items()},
        "extra": extra or {},
    }
    with atomic_write(path) as temporary:
        torch.save(payload, temporary)
    return path


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device | None = None
) -> tuple[AnswerModel, Vocabulary, dict]:
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: no such checkpoint") from None
    except Exception as error:  # torch raises several unrelated types for a corrupt file
        raise DataError(f"{path}: not a readable checkpoint ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"{path}: not an AVST checkpoint")
    model = build_model(AVSTConfig(**payload["config"]))
    model.load_state_dict(payload["state_dict"])
    model.to(resolve_device(str(device) if device else None)).eval()
    vocabulary = Vocabulary(tuple(payload["words"]), tuple(payload["answers"]))
    return model, vocabulary, payload["extra"]
