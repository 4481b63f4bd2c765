"""Getting real videos in: each file probed with PyAV, cut into clips of CLIP_SECONDS (60 s, as
the paper did; optionally at a random offset), transcoded to H.264/AAC MP4 when a browser could
not play it as it is, and skipped when the same content was imported before. A refused file is
named in the message and leaves nothing behind, in the database or the media folder."""

from __future__ import annotations

import hashlib
import math
import random
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotator import services
from annotator.models import Video
from qa_model import media

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ogv")


@dataclass
class FileOutcome:
    path: Path
    videos: list[str] = field(default_factory=list)
    duplicate_of: str | None = None
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return f"refused: {self.error}"
        if self.duplicate_of:
            return f"skipped: {self.path.name} has the same content as video {self.duplicate_of}"
        return f"added: {self.path.name} as {len(self.videos)} clip(s): {', '.join(self.videos)}"


def video_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and the video files inside folders (recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            yield path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _slug(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:48] or "video"


def _free_id(base: str) -> str:
    candidate, number = base, 1
    while Video.objects.filter(avqa_id=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def clip_starts(duration: float, *, clip: float, offset: float = 0.0) -> list[float]:
    """Where each clip starts: as many whole clips as fit after `offset`; a video shorter than
    one clip is one clip of its own length."""
    if duration < clip:
        return [0.0]
    count = math.floor((duration - offset) / clip + 1e-6)
    return [offset + index * clip for index in range(count)]


def _check(path: Path) -> tuple[media.MediaInfo, str]:
    """Refuse, before anything is written, what cannot become a clip; return its probe and
    content hash."""
    if not path.is_file():
        raise media.MediaError(f"{path}: no such file")
    size = path.stat().st_size
    if size > settings.IMPORT_MAX_BYTES:
        raise media.MediaError(
            f"{path.name}: {size / 1e9:.1f} GB is over the {settings.IMPORT_MAX_BYTES / 1e9:.1f} "
            "GB limit (IMPORT_MAX_BYTES)"
        )
    info = media.probe(path)
    if not info.has_video:
        raise media.MediaError(f"{path.name}: has no video stream")
    if not info.has_audio:
        raise media.MediaError(f"{path.name}: has no audio stream (questions are about sound)")
    if info.duration_seconds < settings.VIDEO_MIN_SECONDS:
        raise media.MediaError(
            f"{path.name}: {info.duration_seconds:.1f} s is shorter than the "
            f"{settings.VIDEO_MIN_SECONDS:g} s minimum (VIDEO_MIN_SECONDS)"
        )
    if info.duration_seconds > settings.IMPORT_MAX_SECONDS:
        raise media.MediaError(
            f"{path.name}: {info.duration_seconds:.0f} s is over the "
            f"{settings.IMPORT_MAX_SECONDS:g} s limit (IMPORT_MAX_SECONDS)"
        )
    return info, _sha256(path)


def import_file(
    path: Path, *, random_offsets: bool = False, rng: random.Random | None = None
) -> FileOutcome:
    """Import one file as one or more clips, all or nothing."""
    outcome = FileOutcome(path)
    try:
        info, content_hash = _check(path)
    except media.MediaError as error:
        outcome.error = str(error)
        return outcome
    duplicate = Video.objects.filter(source_hash=content_hash).first()
    if duplicate:
        outcome.duplicate_of = duplicate.avqa_id
        return outcome
    clip = settings.CLIP_SECONDS
    slack = max(0.0, info.duration_seconds - clip * math.floor(info.duration_seconds / clip))
    offset = (rng or random.Random()).uniform(0, slack) if random_offsets else 0.0
    starts = clip_starts(info.duration_seconds, clip=clip, offset=offset)
    as_is = (
        len(starts) == 1 and info.duration_seconds <= clip + 0.5
        and media.browser_playable(path, info)
    )  # fmt: skip
    created: list[Video] = []
    base = _slug(path.stem)
    try:
        with tempfile.TemporaryDirectory() as folder, transaction.atomic():
            for index, start in enumerate(starts):
                avqa_id = _free_id(base if len(starts) == 1 else f"{base}-{index + 1:02d}")
                source = path
                if not as_is:
                    source = media.transcode_clip(
                        path, Path(folder) / f"{avqa_id}.mp4", start=start,
                        duration=min(clip, info.duration_seconds),
                        max_height=settings.IMPORT_MAX_HEIGHT,
                    )  # fmt: skip
                video = services.video_create(
                    avqa_id=avqa_id, source=source, title=path.stem[:200],
                    source_hash=content_hash, source_name=path.name[:255],
                    clip_start_seconds=round(start, 3),
                )  # fmt: skip
                created.append(video)
    except media.MediaError as error:
        _remove_files(created)
        outcome.error = str(error)
        return outcome
    except BaseException:
        _remove_files(created)
        raise
    outcome.videos = [video.avqa_id for video in created]
    return outcome


def _remove_files(videos: list[Video]) -> None:
    for video in videos:
        video.file.delete(save=False)
