"""Evaluation as the paper reports it (Table 2), and predictions with their grounding weights.

Each modality's "Avg" and "All" are pooled over questions (micro averages), not means of the
per-type accuracies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from qa_model import contract
from qa_model.catalogue import AUDIO, AUDIO_VISUAL, TABLE2_TYPES, VISUAL
from qa_model.data import (
    IGNORE_INDEX,
    FeatureStore,
    Inputs,
    Vocabulary,
    admissible_logits,
    answer_mask,
    batches,
)
from qa_model.model import AnswerModel
from qa_model.records import Record
from qa_model.training import batch_inputs, forward

_SHORT = {AUDIO: "A", VISUAL: "V", AUDIO_VISUAL: "AV"}
_TYPE_SHORT = {
    "Counting": "Count",
    "Comparative": "Comp",
    "Location": "Loc",
    "Existential": "Ext",
    "Temporal": "Temp",
}


@dataclass(frozen=True)
class Table2:
    """Correct and total per (modality, type); accuracies derive from them."""

    correct: Mapping[tuple[str, str], int]
    total: Mapping[tuple[str, str], int]

    def accuracy(self, key: tuple[str, str]) -> float | None:
        return self.correct[key] / self.total[key] if self.total.get(key) else None

    def modality_accuracy(self, modality: str) -> float | None:
        keys = [key for key in TABLE2_TYPES if key[0] == modality]
        total = sum(self.total.get(key, 0) for key in keys)
        return sum(self.correct.get(key, 0) for key in keys) / total if total else None

    @property
    def overall(self) -> float | None:
        total = sum(self.total.values())
        return sum(self.correct.values()) / total if total else None

    def columns(self) -> dict[str, float | None]:
        """The paper's columns in its order, e.g. {"A-Count": 0.78, …, "All": 0.71}."""
        row: dict[str, float | None] = {}
        for modality in (AUDIO, VISUAL, AUDIO_VISUAL):
            for key in (key for key in TABLE2_TYPES if key[0] == modality):
                row[f"{_SHORT[modality]}-{_TYPE_SHORT[key[1]]}"] = self.accuracy(key)
            row[f"{_SHORT[modality]} avg"] = self.modality_accuracy(modality)
        row["All"] = self.overall
        return row

    def to_json(self) -> dict:
        return {
            "columns": self.columns(),
            "counts": {f"{m}/{t}": self.total.get((m, t), 0) for m, t in TABLE2_TYPES},
        }


def table2_of(records: Sequence[Record], predicted: Sequence[str]) -> Table2:
    correct = {key: 0 for key in TABLE2_TYPES}
    total = {key: 0 for key in TABLE2_TYPES}
    for record, answer in zip(records, predicted, strict=True):
        total[record.type_key] += 1
        correct[record.type_key] += int(answer == record.answer)
    return Table2(correct, total)


def format_table2(rows: Mapping[str, Table2]) -> str:
    """A plain-text Table 2, one row per model, accuracies in percent."""
    names = list(next(iter(rows.values())).columns()) if rows else []
    width = max([len(name) for name in rows] + [5])
    lines = [f"{'model':<{width}} " + " ".join(f"{name:>8}" for name in names)]
    for model, table in rows.items():
        cells = (
            f"{value * 100:8.2f}" if value is not None else f"{'–':>8}"
            for value in table.columns().values()
        )
        lines.append(f"{model:<{width}} " + " ".join(cells))
    return "\n".join(lines)


@dataclass(frozen=True)
class Prediction:
    question_id: int
    video_id: str
    answer: str
    confidence: float
    top3: list[tuple[str, float]]
    audio_weights: list[float] | None  # [T] temporal attention over audio segments
    visual_weights: list[float] | None  # [T] temporal attention over visual segments
    spatial_maps: list[list[list[float]]] | None  # [T][14][14] sound-source attention

    def to_json(self) -> dict:
        return {
            "question_id": self.question_id,
            "video_id": self.video_id,
            "answer": self.answer,
            "confidence": self.confidence,
            "top3": [{"answer": answer, "confidence": p} for answer, p in self.top3],
            "audio_weights": self.audio_weights,
            "visual_weights": self.visual_weights,
            "spatial_maps": self.spatial_maps,
        }


@torch.inference_mode()
def predict(
    model: AnswerModel,
    vocabulary: Vocabulary,
    records: Sequence[Record],
    store: FeatureStore,
    *,
    batch_size: int = 64,
    grounding: bool = True,
) -> list[Prediction]:
    """The model's answer, confidence, top 3 and (with `grounding`) its attention weights, all
    among the answers the question's template admits: the other logits are masked before the
    softmax, so the confidences are shares of the admissible answers."""
    model.eval()
    device = next(model.parameters()).device
    store.check(records)
    predictions: list[Prediction] = []
    inputs = batch_inputs(model, training=False)
    for batch in batches(
        records, vocabulary, store, batch_size=batch_size, shuffle=False, inputs=inputs
    ):
        output = forward(model, batch.to(device), negatives=False)
        logits = admissible_logits(output.logits, batch.records, vocabulary)
        probabilities = torch.softmax(logits, dim=-1).cpu()
        top = probabilities.topk(contract.TOP_ANSWERS, dim=-1)
        counts = answer_mask(batch.records, vocabulary).sum(dim=-1)
        maps = output.spatial_maps if grounding else None
        if maps is not None:
            side = int(maps.shape[-1] ** 0.5)
            maps = maps.view(*maps.shape[:2], side, side).cpu()
        for row, record in enumerate(batch.records):
            ranked = [
                (vocabulary.answers[int(index)], float(p))
                for p, index in zip(top.values[row], top.indices[row], strict=True)
            ][: int(counts[row])]  # a yes/no question has two answers to rank
            predictions.append(
                Prediction(
                    question_id=record.question_id,
                    video_id=record.video_id,
                    answer=ranked[0][0],
                    confidence=ranked[0][1],
                    top3=ranked,
                    audio_weights=_row(output.audio_weights, row) if grounding else None,
                    visual_weights=_row(output.visual_weights, row) if grounding else None,
                    spatial_maps=maps[row].tolist() if maps is not None else None,
                )
            )
    return predictions


def _row(weights: torch.Tensor | None, row: int) -> list[float] | None:
    return weights[row].cpu().tolist() if weights is not None else None


def evaluate(
    model: AnswerModel, vocabulary: Vocabulary, records: Sequence[Record], store: FeatureStore
) -> Table2:
    predictions = predict(model, vocabulary, records, store, grounding=False)
    return table2_of(records, [p.answer for p in predictions])


@torch.inference_mode()
def blind_scores(
    model: AnswerModel, vocabulary: Vocabulary, records: Sequence[Record], *, batch_size: int = 256
) -> list[dict]:
    """How answerable each question is without watching, by a model that reads no features
    (question-only): the probability it gives the record's answer, or, for a record without
    one, its leading answer's; with that answer. Among the template's admissible answers."""
    if model.inputs != Inputs(audio=False, visual=False, pooled_visual=False, negatives=False):
        inputs = model.inputs
        raise ValueError(f"blind scores need a model that reads no features, not {inputs}")
    model.eval()
    device = next(model.parameters()).device
    nothing = FeatureStore(".")  # read from nowhere: the model takes no features
    scores = []
    for batch in batches(
        records, vocabulary, nothing, batch_size=batch_size, shuffle=False, inputs=model.inputs
    ):
        output = forward(model, batch.to(device), negatives=False)
        logits = admissible_logits(output.logits, batch.records, vocabulary)
        probabilities = torch.softmax(logits, dim=-1).cpu()
        leading = probabilities.argmax(dim=-1)
        for row, record in enumerate(batch.records):
            index = vocabulary.answer_index(record.answer)
            scored = int(leading[row]) if index == IGNORE_INDEX else index
            scores.append(
                {
                    "question_id": record.question_id,
                    "score": round(float(probabilities[row, scored]), 5),
                    "answer": vocabulary.answers[int(leading[row])],
                }
            )
    return scores
