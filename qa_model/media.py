"""Reading and writing audio-visual files with PyAV (no system ffmpeg needed)."""

from __future__ import annotations

import itertools
import math
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
    # The only pictures are cover art (an attached picture, as in an MP3 or M4A): a sound file.
    cover_art_only: bool = False


def probe(path: str | os.PathLike) -> MediaInfo:
    """Streams, codecs and duration of a media file, or MediaError naming the file."""
    try:
        with av.open(str(path)) as container:
            pictures = list(container.streams.video)
            moving = [stream for stream in pictures if not is_cover_art(stream)]
            video = moving[0] if moving else None
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
                cover_art_only=bool(pictures) and not moving,
            )
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"{Path(path).name}: not a readable media file ({why(error)})") from None


def why(error: BaseException) -> str:
    """A decoding or file error in words for a person: FFmpeg's or the system's message,
    without its errno and without the server's path to the file (a temporary folder)."""
    reason = getattr(error, "strerror", None) or str(error)
    return str(reason).strip().rstrip(".") or type(error).__name__


def is_cover_art(stream) -> bool:
    """A still picture attached to a sound file (album cover): FFmpeg lists it as a video
    stream of one frame."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def video_stream(container):
    """The container's first stream of moving pictures (cover art is not one), or None."""
    return next((s for s in container.streams.video if not is_cover_art(s)), None)


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

# A stored clip must decode over its whole span: no second of it without pictures or without
# sound. Each stream may begin or end this close to the span's edges (encoders pad and trim,
# sound often starts a little late) and hold no longer hole; what is missing is silence or the
# picture before, at its own time.
GAP_LIMIT = 1.0
# The fastest picture rate a clip is stored at; a variable-rate source is stored at the rate
# its timestamps are written in (its fastest stretch), within this bound.
MAX_OUTPUT_RATE = 60
AUDIO_FRAME = 1024  # samples per AAC frame
# Sound whose next frame starts this far from where the previous one ended has a hole (or an
# overlap) that is filled with silence (or cut), so what follows stays at its own time.
AUDIO_JUMP = 0.04


def browser_playable(path: str | os.PathLike, info: MediaInfo) -> bool:
    """An MP4 of H.264 video and AAC audio plays in every browser as it is."""
    return (
        Path(path).suffix.lower() in (".mp4", ".m4v")
        and info.video_codec in BROWSER_VIDEO_CODECS
        and info.audio_codec in BROWSER_AUDIO_CODECS
    )


@dataclass
class Coverage:
    """Where one stream's decoded frames lie on a time line (seconds): the first start, the
    last end and the longest hole between one frame's end and the next one's start."""

    kind: str  # "picture" or "sound", for the messages
    start: float | None = None
    end: float | None = None
    hole: tuple[float, float] = (0.0, 0.0)

    def add(self, time: float, duration: float) -> None:
        if self.start is None:
            self.start = time
        elif time - self.end > self.hole[1] - self.hole[0]:
            self.hole = (self.end, time)
        self.end = max(self.end if self.end is not None else time, time + duration)

    def problem(self, span: float) -> str | None:
        """Why this stream does not decode over [0, span), in words; None when it does."""
        if self.start is None:
            return f"no {self.kind} decodes"
        if self.end < span - GAP_LIMIT:
            return (
                f"its {self.kind} decodes only up to {self.end:.1f} s of {span:.1f} s "
                "(the file is cut short or damaged)"
            )
        if self.start > GAP_LIMIT:
            return f"its {self.kind} starts only at {self.start:.1f} s"
        if self.hole[1] - self.hole[0] > GAP_LIMIT:
            return (
                f"nothing of its {self.kind} decodes between {self.hole[0]:.1f} s and "
                f"{self.hole[1]:.1f} s (the file is damaged)"
            )
        return None


@dataclass(frozen=True)
class Scan:
    """What decoding every frame and sample of a file found."""

    picture: Coverage
    sound: Coverage
    rotation: int  # degrees counter-clockwise the picture is turned to be shown (display matrix)
    constant_rate: bool  # every picture lasts as long as the others
    frames: int
    audio_sample_rate: int | None

    def problem(self, span: float) -> str | None:
        return self.picture.problem(span) or self.sound.problem(span)


def _frame_seconds(frame, fallback: float) -> float:
    if frame.duration and frame.time_base:
        return float(frame.duration * frame.time_base)
    return fallback


def _decoded(packet, name: str) -> list:
    """The packet's frames; MediaError naming the file and the time when it cannot be decoded."""
    try:
        return packet.decode()
    except av.FFmpegError as error:
        at = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
        raise MediaError(f"{name}: cannot be decoded at {at:.1f} s ({why(error)})") from None


def scan(path: str | os.PathLike) -> Scan:
    """Decode the whole file, pictures and sound, and say where each decodes (MediaError naming
    the file and the time when a packet cannot be decoded). About 20 times faster than real time
    for 720p H.264 on one core."""
    name = Path(path).name
    try:
        with av.open(str(path)) as container:
            video = video_stream(container)
            audio = container.streams.audio[0] if container.streams.audio else None
            streams = [s for s in (video, audio) if s is not None]
            picture, sound = Coverage("picture"), Coverage("sound")
            step = 1 / float(video.guessed_rate or video.average_rate or 25) if video else 0.04
            rotation, durations, frames = 0, set(), 0
            for packet in container.demux(*streams):
                for frame in _decoded(packet, name):
                    if frame.time is None:
                        continue
                    if packet.stream is video:
                        if frames == 0:
                            rotation = round(frame.rotation or 0)
                        frames += 1
                        durations.add(frame.duration)
                        picture.add(frame.time, _frame_seconds(frame, step))
                    else:
                        sound.add(frame.time, frame.samples / frame.sample_rate)
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"{name}: cannot be decoded ({why(error)})") from None
    return Scan(
        picture=picture,
        sound=sound,
        rotation=rotation % 360,
        constant_rate=len(durations) == 1 and None not in durations and 0 not in durations,
        frames=frames,
        audio_sample_rate=audio.sample_rate if audio is not None else None,
    )


def decoding_checked(path: str | os.PathLike, seconds: float, *, name: str) -> Scan:
    """Decode the whole file; MediaError naming `name` unless its pictures and sound decode over
    [0, seconds)."""
    found = scan(path)
    problem = found.problem(seconds)
    if problem:
        raise MediaError(f"{name}: {problem}")
    return found


def output_rate(stream) -> Fraction:
    """The constant rate a clip of this video stream is stored at: the rate its timestamps are
    written in (for a variable-rate source, its fastest stretch), else the average, within
    MAX_OUTPUT_RATE."""
    for rate in (stream.guessed_rate, stream.average_rate):
        if rate and 1 <= rate <= MAX_OUTPUT_RATE:
            return Fraction(rate).limit_denominator(1001)
    return Fraction(min(MAX_OUTPUT_RATE, float(stream.average_rate or 25))).limit_denominator(1001)


def display_size(width: int, height: int, rotation: int, max_height: int, aspect=None):
    """The stored (even) width and height of a picture shown upright, with square pixels, at
    most `max_height` tall."""
    if aspect and aspect != 1:
        width = width * float(aspect)
    if rotation % 180 == 90:
        width, height = height, width
    if height > max_height:
        width, height = width * max_height / height, max_height
    return _even(width), _even(height)


def transcode_clip(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    start: float = 0.0,
    duration: float | None = None,
    max_height: int = 720,
    audio_rate: int = 44100,
    progress=None,
) -> Path:
    """Cut [start, start + duration) out of `source` as an H.264 + AAC MP4 (stereo, faststart),
    streaming frame by frame (a long video is never held in memory).

    Sound and picture stay where the source put them: each stored frame is the source picture
    shown at that instant (a variable frame rate becomes a constant one by repeating and
    dropping pictures on their timestamps, never by re-timing them), and the sound is placed
    by its timestamps too (silence where the source has none, overlaps cut). The picture is
    turned upright (the display matrix of phone videos) and scaled down to `max_height`.
    MediaError names the file when the span does not decode from end to end. `progress` is
    called with the seconds stored so far. Written atomically."""
    name = Path(source).name
    try:
        with atomic_write(target) as temporary:
            _transcode(
                str(source),
                str(temporary),
                start,
                duration,
                max_height,
                audio_rate,
                progress or (lambda seconds: None),
            )
    except (av.FFmpegError, OSError, ValueError) as error:
        raise MediaError(f"{name}: cannot be transcoded ({why(error)})") from error
    return Path(target)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _first_rotation(reader, stream, start: float) -> int:
    if start > 0:
        reader.seek(int(start * av.time_base), backward=True)
    for frame in reader.decode(stream):
        return round(frame.rotation or 0) % 360
    return 0


class _Picture:
    """Source frames as the stored clip's frames: upright, scaled, yuv420p; converted once."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.frame = self.converted = None

    def hold(self, frame) -> None:
        self.frame, self.converted = frame, None

    def output(self, index: int, rate: Fraction):
        if self.converted is None:
            frame, turns = self.frame, round((self.frame.rotation or 0) / 90) % 4
            if turns:
                # np.rot90 turns counter-clockwise, as the display matrix's angle is measured.
                upright = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), turns))
                frame = av.VideoFrame.from_ndarray(upright, format="rgb24")
            self.converted = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        # The encoder takes its own reference to the pixels, so a repeated picture is the same
        # frame sent again with the next timestamp.
        self.converted.pts, self.converted.time_base = index, 1 / rate
        return self.converted


class _SoundTrack:
    """Source sound on the clip's time line (sample 0 = the clip's start): resampled to stereo
    at `rate`, each stretch placed at its timestamp, encoded in AAC-sized frames."""

    def __init__(self, writer, stream, rate: int, span: float) -> None:
        self.writer, self.stream, self.rate = writer, stream, rate
        self.limit = round(span * rate) if math.isfinite(span) else None
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        self.pending: list[np.ndarray] = []
        self.pending_samples = self.placed = self.encoded = self.skip = 0
        self.next_time: float | None = None
        self.coverage = Coverage("sound")

    def add(self, frame, time: float) -> None:
        """One decoded source frame, `time` seconds after the clip's start."""
        seconds = frame.samples / frame.sample_rate
        if time + seconds <= 0:
            return
        self.coverage.add(max(time, 0.0), seconds + min(time, 0.0))
        if self.next_time is None or abs(time - self.next_time) > AUDIO_JUMP:
            if self.next_time is not None:
                self._flush_resampler()
            self._place(round(time * self.rate))
        self.next_time = time + seconds
        frame.pts = None
        for chunk in self.resampler.resample(frame):
            self._push(chunk.to_ndarray())
        self._encode_ready()

    def _place(self, position: int) -> None:
        if position > self.placed:
            self._push(np.zeros((2, position - self.placed), dtype=np.float32))
        else:
            self.skip = self.placed - position

    def _push(self, samples: np.ndarray) -> None:
        if self.skip:
            cut = min(self.skip, samples.shape[1])
            samples, self.skip = samples[:, cut:], self.skip - cut
        if samples.shape[1]:
            self.pending.append(samples.astype(np.float32, copy=False))
            self.pending_samples += samples.shape[1]
            self.placed += samples.shape[1]

    def _flush_resampler(self) -> None:
        for chunk in self.resampler.resample(None):
            self._push(chunk.to_ndarray())
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=self.rate)

    def _encode_ready(self, final: bool = False) -> None:
        if not self.pending:
            return
        samples = np.concatenate(self.pending, axis=1)
        if self.limit is not None:
            samples = samples[:, : max(0, self.limit - self.encoded)]
        whole = samples.shape[1] if final else samples.shape[1] // AUDIO_FRAME * AUDIO_FRAME
        for offset in range(0, whole, AUDIO_FRAME):
            block = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, offset : min(whole, offset + AUDIO_FRAME)]),
                format="fltp",
                layout="stereo",
            )
            block.sample_rate, block.pts = self.rate, self.encoded
            block.time_base = Fraction(1, self.rate)
            self.encoded += block.samples
            self.writer.mux(self.stream.encode(block))
        rest = samples[:, whole:]
        self.pending = [rest] if rest.shape[1] else []
        self.pending_samples = rest.shape[1]

    def finish(self, seconds: float) -> None:
        """Flush, padded with silence (or cut) to the stored picture's `seconds`."""
        self._flush_resampler()
        self.limit = round(seconds * self.rate)
        if self.placed < self.limit:
            self._push(np.zeros((2, self.limit - self.placed), dtype=np.float32))
        self._encode_ready(final=True)
        self.writer.mux(self.stream.encode(None))


def _transcode(source, target, start, duration, max_height, rate, progress) -> None:
    name = Path(source).name
    span = float("inf") if duration is None else duration
    with av.open(source) as reader:
        video_in = video_stream(reader)
        if video_in is None:
            raise ValueError("no video stream")
        audio_in = reader.streams.audio[0] if reader.streams.audio else None
        fps = output_rate(video_in)
        context = video_in.codec_context
        rotation = _first_rotation(reader, video_in, start)
        aspect = video_in.sample_aspect_ratio
        width, height = display_size(context.width, context.height, rotation, max_height, aspect)
        reader.seek(int(start * av.time_base), backward=True)
        with av.open(target, mode="w", format="mp4", options={"movflags": "+faststart"}) as writer:
            video_out = writer.add_stream("libx264", rate=fps)
            video_out.width, video_out.height = width, height
            video_out.pix_fmt = "yuv420p"
            video_out.options = {"preset": "veryfast", "crf": "23"}
            sound = None
            if audio_in is not None:
                audio_out = writer.add_stream("aac", rate=rate, layout="stereo")
                audio_out.time_base = Fraction(1, rate)
                sound = _SoundTrack(writer, audio_out, rate, span)
            picture, coverage, slot = _Picture(width, height), Coverage("picture"), 0
            step = 1 / float(fps)
            pictures_done = sound_done = sound is None
            streams = [s for s in (video_in, audio_in) if s is not None]
            for packet in reader.demux(*streams):
                for frame in _decoded(packet, name):
                    if frame.time is None:
                        continue
                    time = frame.time - start
                    if packet.stream is not video_in:
                        if time >= span:
                            sound_done = True
                        else:
                            sound.add(frame, time)
                        continue
                    if time >= span:
                        pictures_done = True
                        continue
                    seconds = _frame_seconds(frame, step)
                    if time + seconds > 0:
                        coverage.add(max(time, 0.0), seconds + min(time, 0.0))
                    # Every stored frame until this picture's time shows the one before it.
                    while picture.frame is not None and slot * step < time - 1e-4:
                        writer.mux(video_out.encode(picture.output(slot, fps)))
                        slot += 1
                        if slot % max(1, round(fps)) == 0:
                            progress(slot * step)
                    picture.hold(frame)
                if pictures_done and sound_done:
                    break
            problem = coverage.problem(span) if math.isfinite(span) else None
            if problem is None and sound is not None and math.isfinite(span):
                problem = sound.coverage.problem(span)
            if problem:
                raise MediaError(f"{name}: {problem}")
            if picture.frame is None:
                raise ValueError("no frames in the requested span")
            end = min(span, coverage.end)
            while slot * step < end - 1e-4:
                writer.mux(video_out.encode(picture.output(slot, fps)))
                slot += 1
            writer.mux(video_out.encode(None))
            if sound is not None:
                sound.finish(slot * step)
            progress(slot * step)
