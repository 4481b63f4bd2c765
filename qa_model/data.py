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


@dataclass(frozen=True)
class Inputs:
    """The features a model reads: a batch converts only these (a question-only model reads
    none, and a model without spatial grounding only the frame-averaged visual features)."""

    audio: bool = True  # [T, 128]
    visual: bool = True  # [T, 512, 14, 14] maps
    pooled_visual: bool = False  # [T, 512], the maps averaged over the frame
    negatives: bool = True  # maps of other videos, for the audio-visual match loss


Statistics = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # audio mean, std; visual


class FeatureStore:
    """Feature files held in memory (float16), loaded once per video.

    `standardise` makes the held features standardised once, per video, with a model's
    training statistics, instead of at every training step; batches then say so and the
    model skips its own standardisation.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self._pooled: dict[str, np.ndarray] = {}
        self._moments: dict[str, dict[str, tuple[int, np.ndarray, np.ndarray]]] = {}
        self._statistics: Statistics | None = None
        self._held: _HeldFeatures | None = None

    def __getitem__(self, video_id: str) -> dict[str, np.ndarray]:
        arrays = self._cache.get(video_id)
        if arrays is None:
            arrays = self._read(video_id)
            if self._statistics is not None:
                arrays = _standardised(arrays, self._statistics)
            self._cache[video_id] = arrays
        return arrays

    def _read(self, video_id: str) -> dict[str, np.ndarray]:
        path = feature_path(self.root, video_id)
        if not path.exists():
            raise DataError(f"video {video_id} has no features ({path} is missing)")
        arrays = load_features(path)
        if video_id not in self._moments:
            self._moments[video_id] = _moments(arrays)
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

    @property
    def standardised(self) -> bool:
        return self._statistics is not None

    def statistics(self, video_ids: Iterable[str]) -> Statistics:
        """Per-channel mean and std of the raw audio and visual features of these videos
        (each video's sums are kept from its first reading, standardised or not)."""
        totals: dict[str, list] = {"audio": [0, 0.0, 0.0], "visual": [0, 0.0, 0.0]}
        for video_id in sorted(set(video_ids)):
            if video_id not in self._moments:
                self._read(video_id)
            for name, (count, sums, squares) in self._moments[video_id].items():
                total = totals[name]
                total[0] += count
                total[1] = total[1] + sums
                total[2] = total[2] + squares
        result = []
        for name in ("audio", "visual"):
            count, sums, squares = totals[name]
            mean = sums / count
            std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
            result += [mean.astype(np.float32), std.astype(np.float32)]
        return tuple(result)

    def standardise(self, statistics: Statistics | None) -> None:
        """Hold the features standardised with `statistics` (None: raw, as on disk). Done once
        per video; asking again with the same statistics costs nothing."""
        if statistics is not None:
            statistics = tuple(np.asarray(s, dtype=np.float32) for s in statistics)
        current = self._statistics
        if statistics is None and current is None:
            return
        if (
            statistics is not None
            and current is not None
            and all(np.array_equal(a, b) for a, b in zip(statistics, current, strict=True))
        ):
            return
        loaded = self.loaded_ids
        self._cache.clear()
        self._pooled.clear()
        self._held = None
        self._statistics = statistics
        self.preload(loaded)

    def pooled_visual(self, video_id: str) -> np.ndarray:
        """[T, 512] float32: the visual maps averaged over the frame, computed once."""
        pooled = self._pooled.get(video_id)
        if pooled is None:
            visual = self[video_id]["visual"]
            pooled = self._pooled[video_id] = visual.mean(axis=(2, 3), dtype=np.float32)
        return pooled

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
        held = self._held
        if held is not None and held.device == device and held.ids == ids:
            return True
        self._held = None
        arrays = [self._cache[video_id] for video_id in ids]
        size = sum(a["audio"].nbytes + a["visual"].nbytes for a in arrays)
        if size > share_of_free * torch.cuda.mem_get_info(device)[0]:
            return False

        def stacked(items: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.stack(items)).to(device)

        self._held = _HeldFeatures(
            device,
            ids,
            audio=stacked([a["audio"] for a in arrays]),
            visual=stacked([a["visual"] for a in arrays]),
            pooled_visual=stacked([self.pooled_visual(video_id) for video_id in ids]),
        )
        return True

    def tensors(
        self, video_ids: Sequence[str], negative_ids: Sequence[str], inputs: Inputs
    ) -> dict[str, torch.Tensor]:
        """The float32 tensors `inputs` asks for, keyed as Batch names them: gathered on the
        device the features are held on when they are, else stacked on the CPU."""
        wanted = {
            "audio": inputs.audio,
            "visual": inputs.visual,
            "pooled_visual": inputs.pooled_visual,
            "negative_visual": inputs.negatives,
        }
        held = self.gather(video_ids, negative_ids, inputs)
        if held is not None:
            return held
        tensors = {}
        for name, ids in (
            ("audio", video_ids),
            ("visual", video_ids),
            ("pooled_visual", video_ids),
            ("negative_visual", negative_ids),
        ):
            if not wanted[name]:
                continue
            if name == "pooled_visual":
                items = [self.pooled_visual(v) for v in ids]
            else:
                items = [self[v][name.removeprefix("negative_")] for v in ids]
            tensors[name] = torch.from_numpy(np.stack(items)).float()
        return tensors

    def gather(
        self, video_ids: Sequence[str], negative_ids: Sequence[str], inputs: Inputs = Inputs()
    ) -> dict[str, torch.Tensor] | None:
        """The tensors `inputs` asks for (float32), gathered on the device the features are
        held on; None when they are not held or a video is not among them."""
        held = self._held
        if held is None:
            return None
        try:
            rows = [held.row[v] for v in video_ids]
            negative_rows = [held.row[v] for v in negative_ids] if inputs.negatives else []
        except KeyError:
            return None
        index = torch.tensor(rows, device=held.device)
        tensors = {}
        if inputs.audio:
            tensors["audio"] = held.audio[index].float()
        if inputs.visual:
            tensors["visual"] = held.visual[index].float()
        if inputs.pooled_visual:
            tensors["pooled_visual"] = held.pooled_visual[index].float()
        if inputs.negatives:
            negative_index = torch.tensor(negative_rows, device=held.device)
            tensors["negative_visual"] = held.visual[negative_index].float()
        return tensors


def _moments(arrays: dict[str, np.ndarray]) -> dict[str, tuple[int, np.ndarray, np.ndarray]]:
    """Per channel: how many values, their sum and their sum of squares (float64)."""
    moments = {}
    for name, axes in (("audio", (0,)), ("visual", (0, 2, 3))):
        values = arrays[name].astype(np.float64)
        count = values.size // values.shape[1]
        moments[name] = (count, values.sum(axis=axes), (values**2).sum(axis=axes))
    return moments


def _standardised(arrays: dict[str, np.ndarray], statistics: Statistics) -> dict[str, np.ndarray]:
    audio_mean, audio_std, visual_mean, visual_std = statistics
    channels = (-1, 1, 1)  # visual maps are channels first: [T, C, H, W]
    audio = (arrays["audio"].astype(np.float32) - audio_mean) / audio_std
    visual = arrays["visual"].astype(np.float32)
    visual -= visual_mean.reshape(channels)
    visual /= visual_std.reshape(channels)
    return {
        **arrays,
        "audio": audio.astype(np.float16),
        "visual": visual.astype(np.float16),
    }


class _HeldFeatures:
    def __init__(
        self,
        device: torch.device,
        ids: list[str],
        *,
        audio: torch.Tensor,
        visual: torch.Tensor,
        pooled_visual: torch.Tensor,
    ) -> None:
        self.device, self.ids = device, ids
        self.audio, self.visual, self.pooled_visual = audio, visual, pooled_visual
        self.row = {video_id: row for row, video_id in enumerate(ids)}


@dataclass
class Batch:
    questions: torch.Tensor  # [B, L] long
    lengths: torch.Tensor  # [B] long
    answers: torch.Tensor  # [B] long
    records: list[Record]
    # Only the features the batch was made for (Inputs); the others are None.
    audio: torch.Tensor | None = None  # [B, T, 128]
    visual: torch.Tensor | None = None  # [B, T, 512, 14, 14]
    pooled_visual: torch.Tensor | None = None  # [B, T, 512]
    negative_visual: torch.Tensor | None = None  # [B, T, 512, 14, 14], from other videos
    standardised: bool = False  # the features are already standardised (FeatureStore)

    def to(self, device: torch.device) -> Batch:
        moved = {
            name: getattr(self, name).to(device, non_blocking=True)
            for name in _TENSORS
            if getattr(self, name) is not None
        }
        return Batch(**moved, records=self.records, standardised=self.standardised)


_TENSORS = (
    "questions",
    "lengths",
    "answers",
    "audio",
    "visual",
    "pooled_visual",
    "negative_visual",
)


def _negative_ids(video_ids: list[str], store: FeatureStore, rng: random.Random) -> list[str]:
    """Non-matched visual inputs come from other videos of the same batch, or from the videos
    already in memory when the batch holds one video only; never from disk per sample."""
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
    return negative_ids


def make_batch(
    records: Sequence[Record],
    vocabulary: Vocabulary,
    store: FeatureStore,
    rng: random.Random,
    inputs: Inputs = Inputs(),
) -> Batch:
    """Tensors for a batch: the questions, the answers and the features `inputs` names."""
    questions, lengths = pad_questions([vocabulary.encode(r.tokens()) for r in records])
    video_ids = [r.video_id for r in records]
    negative_ids = _negative_ids(video_ids, store, rng) if inputs.negatives else []
    return Batch(
        questions=questions,
        lengths=lengths,
        answers=torch.tensor([vocabulary.answer_index(r.answer) for r in records]),
        records=list(records),
        standardised=store.standardised,
        **store.tensors(video_ids, negative_ids, inputs),
    )


def batches(
    records: Sequence[Record],
    vocabulary: Vocabulary,
    store: FeatureStore,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    inputs: Inputs = Inputs(),
) -> Iterator[Batch]:
    rng = random.Random(seed)
    order = list(range(len(records)))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        chunk = [records[i] for i in order[start : start + batch_size]]
        yield make_batch(chunk, vocabulary, store, rng, inputs)
