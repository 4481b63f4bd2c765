"""Audio and visual features per video, as the MUSIC-AVQA reference pipeline computes them.

For each sampled second i (default 0, 6, …, 54 of a 60-s clip, shorter clips padded by
repeating their last second):
- visual: the frame at t = i + 0.5 s, resized to 224×224, normalised with the reference mean
  and std, through ResNet-18 up to layer4 with layer4's stride set to 1 → [512, 14, 14];
- audio: 16 kHz mono; a VGGish log-mel patch of 96 frames × 64 bands (25 ms window, 10 ms hop,
  125–7500 Hz, log(mel + 0.01)) starting at second i, through VGGish → a raw 128-D embedding.

On-disk layout: one file per video, `<features>/<video_id>.npz` (NumPy, uncompressed), with
  audio   float16 [T, 128]
  visual  float16 [T, 512, 14, 14]
  seconds int16   [T]        the sampled seconds
written to a temporary name and renamed, so a file that exists is complete.

Weights come from files the operator names (the torchvision ResNet-18 state dict; the usual
converted VGGish state dict, e.g. torchvggish's `vggish-10086976.pth`); without a file the
network is randomly initialised and a warning is logged (features are then only useful for
tests and the synthetic benchmark, where every model sees the same extractor).
"""

from __future__ import annotations

import logging
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from qa_model.decode import (
    CLIP_SECONDS,
    DEFAULT_SECONDS,
    SAMPLE_RATE,
    DecodedClip,
    FeatureError,
    decode_clip,
)
from qa_model.files import atomic_write

logger = logging.getLogger(__name__)

VISUAL_MEAN = (0.43216, 0.394666, 0.37645)
VISUAL_STD = (0.22803, 0.22145, 0.216989)
IMAGE_SIZE = 224

# VGGish front end (the published VGGish parameters).
_WINDOW = 400  # 25 ms at 16 kHz
_HOP = 160  # 10 ms
_FFT = 512  # next power of two above the window
_MEL_BANDS = 64
_MEL_LOW, _MEL_HIGH = 125.0, 7500.0
_LOG_OFFSET = 0.01
PATCH_FRAMES = 96  # 0.96 s
FRAMES_PER_SECOND = SAMPLE_RATE // _HOP  # 100


# --- the networks --------------------------------------------------------------------------


def resnet18_stride1(weights: str | os.PathLike | None = None) -> nn.Module:
    """ResNet-18 up to layer4, layer4's stride set to 1: [N, 3, 224, 224] → [N, 512, 14, 14]."""
    model = torchvision.models.resnet18(weights=None)
    if weights:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    else:
        logger.warning("ResNet-18: no weights file given; using random initialisation")
    model.layer4[0].conv1.stride = (1, 1)
    model.layer4[0].downsample[0].stride = (1, 1)
    return nn.Sequential(*list(model.children())[:-2]).eval()


class VGGish(nn.Module):
    """VGGish (Hershey et al. 2017): [N, 1, 96, 64] log-mel patches → [N, 128] embeddings.

    Module names follow the common PyTorch conversion (`features.*`, `embeddings.*`), so its
    state dict loads as is.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width in (64, "pool", 128, "pool", 256, 256, "pool", 512, 512, "pool"):
            if width == "pool":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 128),
            nn.ReLU(inplace=True),
        )
        # He initialisation keeps activations at scale through the stack, so a randomly
        # initialised network (no weights file) still gives usable, non-vanishing embeddings.
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        maps = self.features(patches)  # [N, 512, 6, 4]
        # Flatten in TensorFlow's (height, width, channel) order, as the original weights expect.
        maps = maps.permute(0, 2, 3, 1).contiguous()
        return self.embeddings(maps.flatten(1))  # [N, 128]


def vggish(weights: str | os.PathLike | None = None) -> VGGish:
    model = VGGish()
    if weights:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    else:
        logger.warning("VGGish: no weights file given; using random initialisation")
    return model.eval()


def _mel_matrix() -> np.ndarray:
    """[FFT bins, 64] triangular mel weights, as VGGish's mel_features builds them (HTK mel)."""

    def hz_to_mel(hz):
        return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)

    bins = _FFT // 2 + 1
    bin_mels = hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, bins))
    edges = np.linspace(hz_to_mel(_MEL_LOW), hz_to_mel(_MEL_HIGH), _MEL_BANDS + 2)
    weights = np.empty((bins, _MEL_BANDS))
    for band in range(_MEL_BANDS):
        lower, centre, upper = edges[band : band + 3]
        rising = (bin_mels - lower) / (centre - lower)
        falling = (upper - bin_mels) / (upper - centre)
        weights[:, band] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin carries no band
    return weights.astype(np.float32)


def log_mel(audio: torch.Tensor) -> torch.Tensor:
    """[S] waveform at 16 kHz → [frames, 64] log-mel spectrogram (10 ms frames)."""
    window = torch.hann_window(_WINDOW, periodic=True, device=audio.device)
    frames = audio.unfold(0, _WINDOW, _HOP) * window  # [frames, 400]
    magnitude = torch.fft.rfft(frames, n=_FFT).abs()  # [frames, 257]
    mel = magnitude @ torch.from_numpy(_mel_matrix()).to(audio.device)
    return torch.log(mel + _LOG_OFFSET)


def audio_patches(audio: np.ndarray, seconds: Sequence[int], device: torch.device) -> torch.Tensor:
    """[T, 1, 96, 64]: the log-mel patch starting at each sampled second."""
    spectrogram = log_mel(torch.from_numpy(audio).to(device))
    needed = (max(seconds) * FRAMES_PER_SECOND) + PATCH_FRAMES
    if spectrogram.shape[0] < needed:
        pad = spectrogram[-1:].expand(needed - spectrogram.shape[0], -1)
        spectrogram = torch.cat([spectrogram, pad])
    patches = [
        spectrogram[second * FRAMES_PER_SECOND : second * FRAMES_PER_SECOND + PATCH_FRAMES]
        for second in seconds
    ]
    return torch.stack(patches).unsqueeze(1)


def image_batch(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """[T, H, W, 3] uint8 → [T, 3, 224, 224] resized and normalised as the reference does."""
    images = torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float() / 255.0
    images = F.interpolate(images, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True)
    mean = torch.tensor(VISUAL_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(VISUAL_STD, device=device).view(1, 3, 1, 1)
    return (images - mean) / std


# --- extraction ----------------------------------------------------------------------------


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


# The web app's video ids are slugs (its Video model checks the same pattern).
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]+")


def feature_path(root: str | os.PathLike, video_id: str) -> Path:
    """Where a video's features live under `root`. The id arrives over the network (the worker
    API, a dataset file), so one that is not a slug, and could name a file elsewhere, is refused."""
    if not VIDEO_ID.fullmatch(video_id):
        raise ValueError(f"{video_id!r} is not a video id")
    return Path(root) / f"{video_id}.npz"


def save_features(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file in the same folder, renamed when complete."""
    with atomic_write(path) as temporary, temporary.open("wb") as stream:
        np.savez(stream, **arrays)


def load_features(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in ("audio", "visual", "seconds")}
