"""Running the networks over clips: decoding in threads ahead of them, batching several videos
through each network at once, and writing one feature file per video.

For each sampled second i (default 0, 6, …, 54 of a 60-s clip, shorter clips padded by
repeating their last second) a video gets the visual features of the frame at t = i + 0.5 s and
the audio embedding of the log-mel patch starting at second i.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from qa_model.decode import (
    CLIP_SECONDS,
    DEFAULT_SECONDS,
    DecodedClip,
    FeatureError,
    decode_clip,
)
from qa_model.features.frontend import audio_patches, image_batch
from qa_model.features.networks import resnet18_stride1, vggish
from qa_model.features.storage import feature_path, save_features


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class FeatureExtractor:
    """Both networks, loaded once; `extract` turns video files into feature files."""

    def __init__(
        self,
        *,
        visual_weights: str | os.PathLike | None = None,
        audio_weights: str | os.PathLike | None = None,
        seconds: Sequence[int] = DEFAULT_SECONDS,
        device: torch.device | str | None = None,
        seed: int = 0,
    ) -> None:
        if not seconds or min(seconds) < 0 or max(seconds) >= CLIP_SECONDS:
            raise ValueError(f"sampled seconds must lie in 0..{CLIP_SECONDS - 1}")
        self.seconds = tuple(seconds)
        self.device = torch.device(device) if device else default_device()
        # Random initialisation is seeded, so runs without weight files are comparable.
        torch.manual_seed(seed)
        self.visual_net = resnet18_stride1(visual_weights).to(self.device)
        self.audio_net = vggish(audio_weights).to(self.device)

    @torch.inference_mode()
    def features(self, clips: Sequence[DecodedClip]) -> list[dict[str, np.ndarray]]:
        """Features for several decoded clips, run through each network as one batch."""
        images = torch.cat([image_batch(clip.frames, self.device) for clip in clips])
        patches = torch.cat(
            [audio_patches(clip.audio, self.seconds, self.device) for clip in clips]
        )
        visual = self.visual_net(images).to(torch.float16).cpu().numpy()
        audio = self.audio_net(patches).to(torch.float16).cpu().numpy()
        count = len(self.seconds)
        return [
            {
                "audio": audio[index * count : (index + 1) * count],
                "visual": visual[index * count : (index + 1) * count],
                "seconds": np.array(self.seconds, dtype=np.int16),
            }
            for index in range(len(clips))
        ]

    def extract(
        self,
        videos: Iterable[tuple[str, str | os.PathLike]],
        out_dir: str | os.PathLike,
        *,
        batch_videos: int = 4,
        decode_workers: int = 1,
        skip_existing: bool = True,
        on_done: Callable[[str, Path | None, Exception | None], None] | None = None,
    ) -> dict[str, Exception]:
        """Extract features for (video_id, path) pairs into out_dir; return the failures.

        A video that fails is reported (and passed to `on_done`), never half-written; the
        others go on. With `decode_workers` > 1, clips are decoded in that many threads ahead
        of the networks (PyAV decodes outside the GIL), which is what keeps a GPU busy.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        failures: dict[str, Exception] = {}
        pending: list[tuple[str, DecodedClip]] = []

        def flush() -> None:
            for (video_id, _), arrays in zip(
                pending, self.features([c for _, c in pending]), strict=True
            ):
                target = feature_path(out, video_id)
                save_features(target, arrays)
                if on_done:
                    on_done(video_id, target, None)
            pending.clear()

        def fail(video_id: str, error: Exception) -> None:
            failures[video_id] = error
            if on_done:
                on_done(video_id, None, error)

        todo = []
        for video_id, path in videos:
            try:
                target = feature_path(out, video_id)
            except ValueError as error:
                fail(video_id, FeatureError(f"{Path(path).name}: {error}"))
                continue
            if skip_existing and target.exists():
                if on_done:
                    on_done(video_id, target, None)
            else:
                todo.append((video_id, path))
        with ThreadPoolExecutor(max(1, decode_workers)) as pool:
            for video_id, decoded in zip(
                (video_id for video_id, _ in todo),
                _prefetch(pool, self._decode, [path for _, path in todo], ahead=2 * batch_videos),
                strict=True,
            ):
                if isinstance(decoded, FeatureError):
                    fail(video_id, decoded)
                    continue
                pending.append((video_id, decoded))
                if len(pending) >= batch_videos:
                    flush()
        if pending:
            flush()
        return failures

    def _decode(self, path: str | os.PathLike) -> DecodedClip | FeatureError:
        try:
            return decode_clip(path, self.seconds)
        except FeatureError as error:
            return error
        except Exception as error:  # one odd file must not stop the others
            return FeatureError(f"{Path(path).name}: cannot be decoded ({error!r})")


def _prefetch(pool: ThreadPoolExecutor, function: Callable, items: Sequence, *, ahead: int):
    """`map(function, items)` in order, keeping at most `ahead` results in flight (memory)."""
    futures: deque = deque()
    for item in items:
        futures.append(pool.submit(function, item))
        if len(futures) > ahead:
            yield futures.popleft().result()
    while futures:
        yield futures.popleft().result()
