"""Decoding what features are made from: the frames at the sampled seconds and 16 kHz mono audio.

Plain PyAV and NumPy, no torch: the web side decodes frames too (the review page shows the frame
behind each heat map) without loading the ML stack.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from qa_model import contract
from qa_model.media import MediaError, why

logger = logging.getLogger(__name__)

CLIP_SECONDS = contract.CLIP_SECONDS
DEFAULT_SECONDS: tuple[int, ...] = tuple(range(0, CLIP_SECONDS, 6))
SAMPLE_RATE = 16000
# A clip whose pictures or sound stop this long before the length its container declares was
# cut short or damaged: its features would describe a frozen or silent ending it does not have.
STOPS_EARLY = 1.0


class FeatureError(MediaError):
    """A video from which no features can be made; the message names the file."""


@dataclass(frozen=True)
class DecodedClip:
    """What feature extraction needs from one video."""

    frames: np.ndarray  # [T, H, W, 3] uint8: the frame at each sampled second + 0.5 s
    audio: np.ndarray  # [CLIP_SECONDS * SAMPLE_RATE] float32, mono, padded
    has_audio: bool
    duration_seconds: float


def decode_clip(path: str | os.PathLike, seconds: Sequence[int] = DEFAULT_SECONDS) -> DecodedClip:
    """Decode the frames and the 16 kHz mono audio features need, padding a short clip by
    repeating its last second. Raises FeatureError naming the file when it cannot be used."""
    name = Path(path).name
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise FeatureError(f"{name}: not a readable video ({why(error)})") from None
    with container:
        if not container.streams.video:
            raise FeatureError(f"{name}: has no video stream")
        declared = container.duration / av.time_base if container.duration else None
        try:
            frames, last_time = _decode_frames(container, seconds, to_the_end=True)
            container.seek(0)
            audio = _decode_audio(container) if container.streams.audio else None
        except av.FFmpegError as error:
            raise FeatureError(f"{name}: cannot be decoded ({why(error)})") from None
    if last_time is None or last_time < 1.0:
        raise FeatureError(f"{name}: shorter than one segment (1 s)")
    if declared and last_time < declared - STOPS_EARLY:
        raise FeatureError(
            f"{name}: its pictures stop at {last_time:.1f} s of its {declared:.1f} s "
            "(the file is cut short or damaged); no features were made"
        )
    if declared and audio is not None and audio.size / SAMPLE_RATE < declared - STOPS_EARLY:
        raise FeatureError(
            f"{name}: its sound stops at {audio.size / SAMPLE_RATE:.1f} s of its "
            f"{declared:.1f} s (the file is cut short or damaged); no features were made"
        )
    if audio is None:
        logger.warning("%s: no audio stream; its audio features are those of silence", name)
    return DecodedClip(
        frames=frames,
        audio=_pad_audio(audio),
        has_audio=audio is not None,
        duration_seconds=last_time,
    )


def decode_frames(path: str | os.PathLike, seconds: Sequence[int]) -> np.ndarray:
    """[len(seconds), H, W, 3] uint8: the frames features are made from (second + 0.5 s), for
    showing where the model looked. Raises FeatureError naming the file."""
    name = Path(path).name
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FeatureError(f"{name}: has no video stream")
            frames, last_time = _decode_frames(container, seconds)
    except (av.FFmpegError, OSError) as error:
        raise FeatureError(f"{name}: cannot be decoded ({why(error)})") from None
    if last_time is None:
        raise FeatureError(f"{name}: has no frames")
    return frames


def _decode_frames(
    container, seconds: Sequence[int], *, to_the_end: bool = False
) -> tuple[np.ndarray, float | None]:
    """The frames at the targets, and where the pictures end (the whole file is decoded with
    `to_the_end`, so a file cut short is noticed)."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    targets = [second + 0.5 for second in seconds]
    chosen: list[np.ndarray | None] = [None] * len(targets)
    last_frame, last_time = None, None
    next_target = 0
    for frame in container.decode(stream):
        if frame.time is None:
            continue
        last_time = frame.time
        # Frames whose time has passed a target stand for it; only those are converted.
        while next_target < len(targets) and frame.time >= targets[next_target] - 1e-6:
            chosen[next_target] = frame.to_ndarray(format="rgb24")
            next_target += 1
        last_frame = frame
        if next_target == len(targets) and not to_the_end:
            break
    if last_frame is None:
        return np.zeros((0,)), None
    # A clip shorter than the last target: repeat its last second (its last frame).
    if next_target < len(targets):
        filler = last_frame.to_ndarray(format="rgb24")
        chosen = [image if image is not None else filler for image in chosen]
    duration = last_time + 1.0 / float(stream.average_rate or 25)
    return np.stack(chosen), duration


def _decode_audio(container) -> np.ndarray:
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = []
    for frame in container.decode(stream):
        for resampled in resampler.resample(frame):
            chunks.append(resampled.to_ndarray().reshape(-1))
    for resampled in resampler.resample(None):
        chunks.append(resampled.to_ndarray().reshape(-1))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _pad_audio(audio: np.ndarray | None) -> np.ndarray:
    """Exactly CLIP_SECONDS of audio: cut, or padded by repeating the last second."""
    total = CLIP_SECONDS * SAMPLE_RATE
    if audio is None or audio.size == 0:
        return np.zeros(total, dtype=np.float32)
    audio = audio.astype(np.float32)[:total]
    if audio.size < total:
        last_second = audio[-SAMPLE_RATE:]
        repeats = math.ceil((total - audio.size) / last_second.size)
        audio = np.concatenate([audio, np.tile(last_second, repeats)])[:total]
    return audio
