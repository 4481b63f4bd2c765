"""The on-disk feature files: one per video, `<features>/<video_id>.npz` (NumPy, uncompressed),
with
  audio   float16 [T, 128]
  visual  float16 [T, 512, 14, 14]
  seconds int16   [T]        the sampled seconds
written to a temporary name and renamed, so a file that exists is complete.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from qa_model.files import atomic_write

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
