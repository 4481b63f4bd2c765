"""Getting real videos in: each file probed with PyAV, cut into clips of CLIP_SECONDS (60 s, as
the paper did; optionally at a random offset), transcoded to H.264/AAC MP4 when a browser could
not play it as it is, and skipped when the same content was imported before. A refused file is
named in the message and leaves nothing behind, in the database or the media folder.

Files come from admins, but a file is hostile until probed: one that is too big, too long, or
whose frames would decode to absurd sizes is refused on its probe, before anything is decoded;
an import that would not fit on the media disk is refused before it writes, and one that fills
the disk anyway is undone."""

from __future__ import annotations

import errno
import hashlib
import math
import random
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from annotator import services
from annotator.models import Video
from qa_model import media

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ogv")

TOO_BIG = "{name}: {size} is over the {limit} limit (IMPORT_MAX_BYTES)"
TOO_MANY_PIXELS = (
    "{name}: its {width}×{height} frames are over the {limit:,} pixel limit (IMPORT_MAX_PIXELS)"
)
TOO_MANY_FRAMES = "{name}: {rate:g} frames per second is over the {limit:g} limit (IMPORT_MAX_FPS)"
NO_FRAME_SIZE = "{name}: its video stream declares no frame size"
COVER_ART_ONLY = (
    "{name}: is a sound file; its only picture is cover art (a still image), and a clip needs "
    "a video of the performance"
)
NO_ROOM = (
    "{name}: not enough free space in {folder} ({free} free; {needed} needed, with "
    "IMPORT_FREE_MARGIN_BYTES kept free); nothing was written"
)
DISK_FULL = "{name}: the disk filled up during the import; nothing of it was kept"
UPLOAD_TOO_BIG = (
    "The upload ({size}) is over the {limit} limit (IMPORT_MAX_BYTES) and was not read; nothing "
    "was imported. Upload fewer files at a time, or run manage.py import_videos on the server."
)


def size_text(size: int) -> str:
    """A byte count for a person: 1.2 GB, 300 bytes."""
    return filesizeformat(size).replace("\xa0", " ")


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
    """Refuse, before anything is written or decoded, what cannot become a clip; return its
    probe and content hash. The probe reads headers only, so a tiny file declaring huge frames,
    a huge frame rate or a huge duration is refused here, before a transcode would decode it."""
    name = path.name
    if not path.is_file():
        raise media.MediaError(f"{path}: no such file")
    size = path.stat().st_size
    if size > settings.IMPORT_MAX_BYTES:
        raise media.MediaError(
            TOO_BIG.format(
                name=name, size=size_text(size), limit=size_text(settings.IMPORT_MAX_BYTES)
            )
        )
    info = media.probe(path)
    if info.cover_art_only:
        raise media.MediaError(COVER_ART_ONLY.format(name=name))
    if not info.has_video:
        raise media.MediaError(f"{name}: has no video stream")
    if not info.width or not info.height:
        raise media.MediaError(NO_FRAME_SIZE.format(name=name))
    if info.width * info.height > settings.IMPORT_MAX_PIXELS:
        raise media.MediaError(
            TOO_MANY_PIXELS.format(
                name=name, width=info.width, height=info.height, limit=settings.IMPORT_MAX_PIXELS
            )
        )
    if info.frame_rate and info.frame_rate > settings.IMPORT_MAX_FPS:
        raise media.MediaError(
            TOO_MANY_FRAMES.format(name=name, rate=info.frame_rate, limit=settings.IMPORT_MAX_FPS)
        )
    if not info.has_audio:
        raise media.MediaError(f"{name}: has no audio stream (questions are about sound)")
    if info.duration_seconds < settings.VIDEO_MIN_SECONDS:
        raise media.MediaError(
            f"{name}: {info.duration_seconds:.1f} s is shorter than the "
            f"{settings.VIDEO_MIN_SECONDS:g} s minimum (VIDEO_MIN_SECONDS)"
        )
    if info.duration_seconds > settings.IMPORT_MAX_SECONDS:
        raise media.MediaError(
            f"{name}: {info.duration_seconds:.0f} s is over the "
            f"{settings.IMPORT_MAX_SECONDS:g} s limit (IMPORT_MAX_SECONDS)"
        )
    return info, _sha256(path)


def require_free_space(folder: Path, needed: int, *, name: str) -> None:
    """MediaError unless `needed` bytes fit in `folder` with IMPORT_FREE_MARGIN_BYTES to spare
    (the database, logs and the features share the disk; filling it stops more than imports)."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed + settings.IMPORT_FREE_MARGIN_BYTES > free:
        raise media.MediaError(
            NO_ROOM.format(name=name, folder=folder, free=size_text(free), needed=size_text(needed))
        )


def upload_refusal(size: int, *, folder: Path) -> str | None:
    """Why an upload declaring `size` bytes, to be streamed into `folder`, must be refused
    before a byte of it is read; None when it may come in."""
    if size > settings.IMPORT_MAX_BYTES:
        return UPLOAD_TOO_BIG.format(
            size=size_text(size), limit=size_text(settings.IMPORT_MAX_BYTES)
        )
    try:
        require_free_space(folder, size, name="The upload")
    except media.MediaError as error:
        return str(error)
    return None


def upload_path(folder: Path, upload_name: str) -> Path:
    """Where an uploaded file is put under its own name for the import: always directly inside
    `folder`, whatever the name holds (a path, "..", a NUL, a name too long for the disk)."""
    name = Path(upload_name.replace("\x00", "").replace("\\", "/")).name
    stem, suffix = Path(name).stem.strip(". ")[:100], Path(name).suffix[:10]
    return folder / f"{stem or 'upload'}{suffix}"


def _stored_as_is(path: Path, info: media.MediaInfo, clip: float) -> bool:
    """Whether the file can be stored untouched: one clip a browser plays as it is, no taller
    than IMPORT_MAX_HEIGHT, upright, at a constant frame rate, with sound and picture starting
    together. Decodes it whole; MediaError when some of it does not decode."""
    if not (info.duration_seconds <= clip + 0.5 and media.browser_playable(path, info)):
        return False
    scan = media.decoding_checked(path, info.duration_seconds, name=path.name)
    frame = 1 / (info.frame_rate or 25)
    return (
        info.height <= settings.IMPORT_MAX_HEIGHT
        and scan.rotation == 0
        and scan.constant_rate
        and abs(scan.sound.start - scan.picture.start) < frame
    )


def import_file(
    path: Path,
    *,
    random_offsets: bool = False,
    rng: random.Random | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> FileOutcome:
    """Import one file as one or more clips, all or nothing. `progress(done, total)` is called
    with the seconds of clips made so far and in all.

    Clips are made (and checked) before the database is touched; their rows are then added in
    one short transaction, so a long import never holds a write lock (SQLite allows one writer
    at a time, and annotators keep working meanwhile)."""
    name = path.name
    outcome = FileOutcome(path)
    progress = progress or (lambda done, total: None)
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
    length = min(clip, info.duration_seconds)
    total = length * len(starts)
    created: list[Video] = []
    base = _slug(path.stem)
    try:
        # A transcoded clip is about as big as its share of the source (often smaller), and is
        # written to the temporary folder first, then copied to the media folder.
        needed = path.stat().st_size
        require_free_space(Path(settings.MEDIA_ROOT), needed, name=name)
        as_is = len(starts) == 1 and _stored_as_is(path, info, clip)
        if not as_is:
            require_free_space(Path(tempfile.gettempdir()), needed, name=name)
        with tempfile.TemporaryDirectory() as folder:
            sources = [path] if as_is else []
            for index, start in enumerate(starts if not as_is else []):
                target = Path(folder) / f"clip-{index + 1:03d}.mp4"
                media.transcode_clip(
                    path,
                    target,
                    start=start,
                    duration=length,
                    max_height=settings.IMPORT_MAX_HEIGHT,
                    progress=lambda seconds, done=index * length: progress(done + seconds, total),
                )
                # What will be stored, decoded whole: every second of it plays.
                media.decoding_checked(target, length, name=f"{name} (its clip {index + 1})")
                sources.append(target)
            progress(total, total)
            with transaction.atomic():
                for index, (start, source) in enumerate(zip(starts, sources, strict=True)):
                    avqa_id = _free_id(base if len(starts) == 1 else f"{base}-{index + 1:02d}")
                    video = services.video_create(
                        avqa_id=avqa_id,
                        source=source,
                        title=path.stem[:200],
                        source_hash=content_hash,
                        source_name=name[:255],
                        clip_start_seconds=round(start, 3),
                    )
                    created.append(video)
    except media.MediaError as error:
        _remove_files(created)
        outcome.error = DISK_FULL.format(name=name) if _disk_full(error) else str(error)
        return outcome
    except OSError as error:
        _remove_files(created)
        if error.errno != errno.ENOSPC:
            raise
        outcome.error = DISK_FULL.format(name=name)
        return outcome
    except BaseException:
        _remove_files(created)
        raise
    outcome.videos = [video.avqa_id for video in created]
    return outcome


def _disk_full(error: media.MediaError) -> bool:
    # transcode_clip reports PyAV's write errors as MediaError; ENOSPC is ffmpeg's errno 28.
    cause = error.__cause__ or error.__context__
    return isinstance(cause, OSError) and cause.errno == errno.ENOSPC


def _remove_files(videos: list[Video]) -> None:
    for video in videos:
        video.file.delete(save=False)
