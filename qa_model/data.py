"""The question vocabulary, the answer vocabulary and batches of features for training.

Questions are tokenized as the reference does (qa_model.records), padded to the longest question
of a batch; words never seen in training map to an unknown token.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qa_model import catalogue
from qa_model.features import feature_path, load_features
from qa_model.records import UNLABELLED, DataError, Record

PAD, UNKNOWN = "<pad>", "<unk>"
IGNORE_INDEX = -100  # cross-entropy ignores the target of an unlabelled record


@dataclass(frozen=True)
class Vocabulary:
    """Question words (index 0 is padding, 1 unknown) and the 42 answers."""

    words: tuple[str, ...]
    answers: tuple[str, ...] = catalogue.ANSWERS

    @classmethod
    def build(cls, records: Iterable[Record]) -> Vocabulary:
        """Words in order of first appearance in the training questions, as the reference does.

        The answers are the fixed 42-word vocabulary, so every model has the same 42 outputs
        whatever answers its training split happens to contain.
        """
        words: dict[str, None] = {PAD: None, UNKNOWN: None}
        for record in records:
            for token in record.tokens():
                words.setdefault(token, None)
        return cls(tuple(words))

    def encode(self, tokens: Sequence[str]) -> list[int]:
        index = self._index
        return [index.get(token, 1) for token in tokens]

    @property
    def _index(self) -> dict[str, int]:
        cached = self.__dict__.get("_cached_index")
        if cached is None:
            cached = {word: position for position, word in enumerate(self.words)}
            object.__setattr__(self, "_cached_index", cached)
        return cached

    def answer_index(self, answer: str) -> int:
        return IGNORE_INDEX if answer == UNLABELLED else self.answers.index(answer)


def answer_mask(records: Sequence[Record], vocabulary: Vocabulary) -> torch.Tensor:
    """[B, A] bool: the answers each record's template admits (an instrument question cannot be
    answered "yes"). A template outside the catalogue admits every answer."""
    rows = []
    for record in records:
        spec = catalogue.TEMPLATES_BY_TEXT.get(record.template)
        allowed = set(spec.answers) if spec else set(vocabulary.answers)
        rows.append([answer in allowed for answer in vocabulary.answers])
    return torch.tensor(rows, dtype=torch.bool)


def admissible_logits(
    logits: torch.Tensor, records: Sequence[Record], vocabulary: Vocabulary
) -> torch.Tensor:
    """[B, A] logits with every answer a record's template does not admit at -inf."""
    admissible = answer_mask(records, vocabulary).to(logits.device)
    return logits.masked_fill(~admissible, float("-inf"))


def pad_questions(encoded: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, L] token ids padded with 0 to the longest, and [B] lengths."""
    lengths = torch.tensor([len(tokens) for tokens in encoded], dtype=torch.long)
    batch = torch.zeros(len(encoded), int(lengths.max()), dtype=torch.long)
    for row, tokens in enumerate(encoded):
        batch[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return batch, lengths


class FeatureStore:
    """Feature files held in memory (float16), loaded once per video."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self._held: _HeldFeatures | None = None

    def __getitem__(self, video_id: str) -> dict[str, np.ndarray]:
        arrays = self._cache.get(video_id)
        if arrays is None:
            path = feature_path(self.root, video_id)
            if not path.exists():
                raise DataError(f"video {video_id} has no features ({path} is missing)")
            arrays = self._cache[video_id] = load_features(path)
        return arrays

    def check(self, records: Iterable[Record]) -> None:
        """Refuse, up front, records whose videos have no features (with the count)."""
        missing = sorted(
            {r.video_id for r in records if not feature_path(self.root, r.video_id).exists()}
        )
        if missing:
            raise DataError(
                f"{len(missing)} video(s) have no features in {self.root} "
                f"(e.g. {', '.join(missing[:3])}); run `python -m qa_model extract` first"
            )

    def preload(self, video_ids: Iterable[str]) -> None:
        for video_id in video_ids:
            self[video_id]

    @property
    def loaded_ids(self) -> list[str]:
        return list(self._cache)

    def hold_on(self, device: torch.device, *, share_of_free: float = 0.5) -> bool:
        """Copy the loaded videos' features to a CUDA device, once, as stacked float16 tensors.

        Batches of those videos are then gathered on the device instead of being stacked on
        the CPU and copied at every step, the bottleneck of GPU training (a batch of 64 holds
        about 250 MB of visual features). Refused, returning False, off CUDA or when the
        features would take more than `share_of_free` of the device's free memory.
        """
        if device.type != "cuda" or not self._cache:
            return False
        ids = self.loaded_ids
        if self._held is not None and self._held.device == device and self._held.ids == ids:
            return True
        self._held = None
        arrays = [self._cache[video_id] for video_id in ids]
        size = sum(a["audio"].nbytes + a["visual"].nbytes for a in arrays)
        if size > share_of_free * torch.cuda.mem_get_info(device)[0]:
            return False

        def stacked(name: str) -> torch.Tensor:
            return torch.from_numpy(np.stack([a[name] for a in arrays])).to(device)

        self._held = _HeldFeatures(device, ids, stacked("audio"), stacked("visual"))
        return True

    def gather(
        self, video_ids: Sequence[str], negative_ids: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """Audio, visual and non-matched visual tensors (float32) gathered on the device the
        features are held on; None when they are not held or a video is not among them."""
        held = self._held
        if held is None:
            return None
        try:
            rows = [held.row[v] for v in video_ids]
            negative_rows = [held.row[v] for v in negative_ids]
        except KeyError:
            return None
        index = torch.tensor(rows, device=held.device)
        negative_index = torch.tensor(negative_rows, device=held.device)
        return (
            held.audio[index].float(),
            held.visual[index].float(),
            held.visual[negative_index].float(),
        )


class _HeldFeatures:
    def __init__(
        self, device: torch.device, ids: list[str], audio: torch.Tensor, visual: torch.Tensor
    ) -> None:
        self.device, self.ids, self.audio, self.visual = device, ids, audio, visual
        self.row = {video_id: row for row, video_id in enumerate(ids)}


@dataclass
class Batch:
    questions: torch.Tensor  # [B, L] long
    lengths: torch.Tensor  # [B] long
    audio: torch.Tensor  # [B, T, 128]
    visual: torch.Tensor  # [B, T, 512, 14, 14]
    negative_visual: torch.Tensor  # [B, T, 512, 14, 14], from other videos
    answers: torch.Tensor  # [B] long
    records: list[Record]

    def to(self, device: torch.device) -> Batch:
        tensors = ("questions", "lengths", "audio", "visual", "negative_visual", "answers")
        moved = {name: getattr(self, name).to(device, non_blocking=True) for name in tensors}
        return Batch(**moved, records=self.records)


def _stack(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays)).float()


def make_batch(
    records: Sequence[Record], vocabulary: Vocabulary, store: FeatureStore, rng: random.Random
) -> Batch:
    """Tensors for a batch. Non-matched visual inputs come from other videos of the same batch,
    or from the videos already in memory when the batch holds one video only; never from disk
    per sample."""
    questions, lengths = pad_questions([vocabulary.encode(r.tokens()) for r in records])
    video_ids = [r.video_id for r in records]
    negative_ids = []
    for video_id in video_ids:
        others = [other for other in video_ids if other != video_id]
        if others:
            negative_ids.append(rng.choice(others))
        else:
            pool = [v for v in store.loaded_ids if v != video_id]
            # With a single video in the whole store there is no non-matched example; its
            # own features stand in (the match loss then teaches nothing, but nothing breaks).
            negative_ids.append(rng.choice(pool) if pool else video_id)
    gathered = store.gather(video_ids, negative_ids)
    if gathered is None:
        gathered = (
            _stack([store[v]["audio"] for v in video_ids]),
            _stack([store[v]["visual"] for v in video_ids]),
            _stack([store[v]["visual"] for v in negative_ids]),
        )
    audio, visual, negative_visual = gathered
    return Batch(
        questions=questions,
        lengths=lengths,
        audio=audio,
        visual=visual,
        negative_visual=negative_visual,
        answers=torch.tensor([vocabulary.answer_index(r.answer) for r in records]),
        records=list(records),
    )


def batches(
    records: Sequence[Record],
    vocabulary: Vocabulary,
    store: FeatureStore,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
) -> Iterator[Batch]:
    rng = random.Random(seed)
    order = list(range(len(records)))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        chunk = [records[i] for i in order[start : start + batch_size]]
        yield make_batch(chunk, vocabulary, store, rng)
