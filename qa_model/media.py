"""Reading and writing audio-visual files with PyAV (no system ffmpeg needed)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from qa_model.files import atomic_write


class MediaError(Exception):
    """A file that cannot be used as a video; the message names the file."""


@dataclass(frozen=True)
class MediaInfo:
    duration_seconds: float
    has_video: bool
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    frame_rate: float | None = None  # frames per second, as the stream declares it


def probe(path: str | os.PathLike) -> MediaInfo:
    """Streams, codecs and duration of a media file, or MediaError naming the file."""
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = _duration_seconds(container, video, audio)
            # The average over the packets read, not a guess from the time base (a Matroska file
            # of variable frame rate would "guess" 1000 fps).
            rate = video.average_rate if video else None
            return MediaInfo(
                duration_seconds=duration,
                has_video=video is not None,
                has_audio=audio is not None,
                video_codec=video.codec_context.name if video else None,
                audio_codec=audio.codec_context.name if audio else None,
                width=video.codec_context.width if video else None,
                height=video.codec_context.height if video else None,
                frame_rate=float(rate) if rate else None,
            )
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"{Path(path).name}: not a readable media file ({error})") from None


def _duration_seconds(container, video, audio) -> float:
    if container.duration:
        return container.duration / av.time_base
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return 0.0


def write_mp4(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    audio: np.ndarray | None,
    *,
    fps: int,
    sample_rate: int = 16000,
) -> Path:
    """Encode RGB frames ([H, W, 3] uint8) and mono audio (float in [-1, 1]) as H.264 + AAC MP4
    (no audio stream when `audio` is None).

    The file is written under a temporary name in the same folder and renamed when complete,
    so a failure never leaves a half-written video where a reader would find it.
    """
    with atomic_write(path) as temporary:
        _encode(str(temporary), frames, audio, fps=fps, sample_rate=sample_rate)
    return Path(path)


def _encode(
    target: str,
    frames: Iterable[np.ndarray],
    audio: np.ndarray | None,
    *,
    fps: int,
    sample_rate: int,
) -> None:
    # faststart puts the index first, so browsers start playing before the download ends.
    with av.open(target, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            raise ValueError("a video needs at least one frame")
        video = container.add_stream("libx264", rate=fps)
        video.height, video.width = first.shape[:2]
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", "crf": "28"}
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate, layout="mono")
            sound.time_base = Fraction(1, sample_rate)

        for rgb in itertools.chain([first], frames):
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode(None))
        if audio is None:
            return

        samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0).reshape(1, -1)
        chunk = 1024
        for start in range(0, samples.shape[1], chunk):
            block = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + chunk]),
                format="fltp",
                layout="mono",
            )
            block.sample_rate = sample_rate
            block.pts = start
            block.time_base = Fraction(1, sample_rate)
            container.mux(sound.encode(block))
        container.mux(sound.encode(None))


# --- cutting and transcoding ---------------------------------------------------------------

BROWSER_VIDEO_CODECS = ("h264",)
BROWSER_AUDIO_CODECS = ("aac",)


def browser_playable(path: str | os.PathLike, info: MediaInfo) -> bool:
    """An MP4 of H.264 video and AAC audio plays in every browser as it is."""
    return (
        Path(path).suffix.lower() in (".mp4", ".m4v")
        and info.video_codec in BROWSER_VIDEO_CODECS
        and info.audio_codec in BROWSER_AUDIO_CODECS
    )


def transcode_clip(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    start: float = 0.0,
    duration: float | None = None,
    max_height: int = 720,
    audio_rate: int = 44100,
) -> Path:
    """Cut [start, start + duration) out of `source` as an H.264 + AAC MP4 (stereo, faststart),
    streaming frame by frame (a long video is never held in memory); scaled down to
    `max_height` when taller. Written atomically; MediaError names the file."""
    end = float("inf") if duration is None else start + duration
    try:
        with atomic_write(target) as temporary:
            _transcode(str(source), str(temporary), start, end, max_height, audio_rate)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise MediaError(f"{Path(source).name}: cannot be transcoded ({error})") from None
    return Path(target)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _transcode(source: str, target: str, start: float, end: float, max_height: int, rate: int):
    with (
        av.open(source) as reader,
        av.open(target, mode="w", format="mp4", options={"movflags": "+faststart"}) as writer,
    ):
        video_in = reader.streams.video[0]
        audio_in = reader.streams.audio[0] if reader.streams.audio else None
        fps = video_in.average_rate or Fraction(25)
        height = video_in.codec_context.height
        width = video_in.codec_context.width
        if height > max_height:
            width, height = _even(width * max_height / height), max_height
        video_out = writer.add_stream("libx264", rate=fps)
        video_out.width, video_out.height = _even(width), _even(height)
        video_out.pix_fmt = "yuv420p"
        video_out.options = {"preset": "veryfast", "crf": "23"}
        audio_out = resampler = None
        if audio_in is not None:
            audio_out = writer.add_stream("aac", rate=rate, layout="stereo")
            audio_out.time_base = Fraction(1, rate)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        if start > 0:
            reader.seek(int(start * av.time_base), backward=True)
        frames_written = samples_written = 0
        streams = [s for s in (video_in, audio_in) if s is not None]
        for packet in reader.demux(*streams):
            for frame in packet.decode():
                if frame.time is None or frame.time < start - 1e-6 or frame.time >= end:
                    continue
                if packet.stream is video_in:
                    image = frame.reformat(
                        width=video_out.width, height=video_out.height, format="yuv420p"
                    )
                    image.pts = frames_written
                    image.time_base = Fraction(1, 1) / Fraction(fps)
                    frames_written += 1
                    writer.mux(video_out.encode(image))
                else:
                    frame.pts = None
                    for chunk in resampler.resample(frame):
                        chunk.pts = samples_written
                        samples_written += chunk.samples
                        writer.mux(audio_out.encode(chunk))
        if not frames_written:
            raise ValueError("no frames in the requested span")
        writer.mux(video_out.encode(None))
        if audio_out is not None:
            for chunk in resampler.resample(None):
                chunk.pts = samples_written
                samples_written += chunk.samples
                writer.mux(audio_out.encode(chunk))
            writer.mux(audio_out.encode(None))
