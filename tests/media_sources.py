"""Source files whose pictures and sound say what time it is, and the measure of how far apart
they ended up after an import.

Every EVENT_EVERY seconds the picture flashes white for one source frame and a 1 kHz beep
starts; the rest is black and silent. Rates may change along the file (a variable frame rate,
as phones record), the file may carry a rotation flag, and the sound may start late. Decoding a
stored clip, each flash and each beep is found again; their offsets tell whether picture and
sound stayed together and stayed at their source time.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

EVENT_EVERY = 2.0
BEEP_SECONDS = 0.1
TIME_BASE = Fraction(1, 90000)  # as phones write their timestamps


def frame_times(seconds: float, rates: Sequence[tuple[float, int]]) -> list[float]:
    """Presentation times of the frames: `rates` is [(until_second, fps), ...] in order, the last
    one lasting to the end; each stretch starts on the event grid."""
    times, now = [], 0.0
    for until, fps in rates:
        until = min(until, seconds)
        count = round((until - now) * fps)
        times.extend(now + index / fps for index in range(count))
        now = until
    return times


def write_source(
    path: Path,
    *,
    seconds: float,
    rates: Sequence[tuple[float, int]] = ((float("inf"), 30),),
    size: tuple[int, int] = (320, 180),
    rotation: int = 0,
    sound_starts: float = 0.0,
    audio_rate: int = 48000,
    codec: str = "libx264",
    audio_codec: str = "aac",
    container_format: str = "mp4",
    marker: bool = False,
) -> Path:
    """Write a test source. Flashes fall on the first frame at or after each event instant,
    so the rates should put a frame on every multiple of EVENT_EVERY. `marker` paints a red
    square in the stored picture's top-left corner, to see where it lands once turned upright.
    """
    width, height = size
    times = frame_times(seconds, rates)
    events = [index * EVENT_EVERY for index in range(1, int(seconds / EVENT_EVERY))]
    black = np.zeros((height, width, 3), dtype=np.uint8)
    white = np.full((height, width, 3), 255, dtype=np.uint8)
    if marker:
        for image in (black, white):
            image[: height // 4, : width // 4] = (255, 0, 0)
    flashes = {min(range(len(times)), key=lambda i, e=e: abs(times[i] - e)) for e in events}
    with av.open(str(path), "w", format=container_format) as container:
        video = container.add_stream(codec, rate=max(fps for _, fps in rates))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = TIME_BASE
        video.codec_context.time_base = TIME_BASE
        if rotation:
            video.set_display_rotation(rotation)
        sound = container.add_stream(audio_codec, rate=audio_rate, layout="stereo")
        for index, time in enumerate(times):
            frame = av.VideoFrame.from_ndarray(white if index in flashes else black, "rgb24")
            frame.pts, frame.time_base = round(time / TIME_BASE), TIME_BASE
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = np.zeros(round((seconds - sound_starts) * audio_rate), dtype=np.float32)
        tone = np.arange(round(BEEP_SECONDS * audio_rate)) / audio_rate
        beep = 0.5 * np.sin(2 * np.pi * 1000 * tone)
        for event in events:
            at = round((event - sound_starts) * audio_rate)
            if 0 <= at < samples.size:
                samples[at : at + beep.size] = beep[: samples.size - at]
        chunk = sound.codec_context.frame_size or 1152
        for start in range(0, samples.size, chunk):
            block = np.ascontiguousarray(np.stack([samples[start : start + chunk]] * 2))
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate = audio_rate
            frame.pts = start + round(sound_starts * audio_rate)
            frame.time_base = Fraction(1, audio_rate)
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path


def flash_times(path: Path) -> tuple[list[float], float, tuple[int, int]]:
    """When the stored clip's picture turns white, its frame duration and its (width, height)."""
    times, previous, size = [], False, (0, 0)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        step = 1 / float(stream.average_rate)
        for frame in container.decode(stream):
            luma = frame.to_ndarray(format="gray")
            size = (frame.width, frame.height)
            bright = float(np.median(luma)) > 128
            if bright and not previous:
                times.append(frame.time)
            previous = bright
    return times, step, size


def beep_times(path: Path) -> list[float]:
    """When the stored clip's sound starts a beep (1 ms resolution)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        chunks, first = [], None
        for frame in container.decode(stream):
            if first is None:
                first = frame.time
            chunks.extend(c.to_ndarray().reshape(-1) for c in resampler.resample(frame))
        chunks.extend(c.to_ndarray().reshape(-1) for c in resampler.resample(None))
    sound = np.abs(np.concatenate(chunks))
    window = 48
    loud = sound[: sound.size // window * window].reshape(-1, window).max(axis=1) > 0.1
    onsets = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    if loud.size and loud[0]:
        onsets = np.concatenate([[0], onsets])
    return [(first or 0.0) + index * window / 48000 for index in onsets]


def events_in(path: Path, source_start: float = 0.0) -> list[tuple[float, float, float]]:
    """Each event of a stored clip cut from `source_start` seconds into its source: (when it
    should be, when the picture flashes, when the beep starts), in the clip's seconds. An event
    whose flash or beep is missing gets infinity, so any comparison with it fails."""
    flashes, _, _ = flash_times(path)
    beeps = beep_times(path)
    with av.open(str(path)) as container:
        length = float(container.duration / av.time_base)
    found = []
    for index in range(1, 100_000):
        at = index * EVENT_EVERY - source_start
        if at >= length - BEEP_SECONDS:
            break
        if at < 0:
            continue
        flash = min(flashes, key=lambda t: abs(t - at), default=float("inf"))
        beep = min(beeps, key=lambda t: abs(t - at), default=float("inf"))
        found.append((at, flash, beep))
    return found


def worst_offsets(events: list[tuple[float, float, float]]) -> tuple[float, float]:
    """The largest |beep - flash| (sound against picture) and the largest distance of either
    from the source time, over the events."""
    sync = max(abs(beep - flash) for _, flash, beep in events)
    timing = max(max(abs(flash - at), abs(beep - at)) for at, flash, beep in events)
    return sync, timing


def cut_short(source: Path, target: Path, keep: float = 0.5) -> Path:
    """`source` with its index first (as a web-ready file is), then only the first `keep` of
    its bytes: a download or a copy that stopped, whose header still declares the full length."""
    with (
        av.open(str(source)) as reader,
        av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as writer,
    ):
        streams = {s.index: writer.add_stream_from_template(s) for s in reader.streams}
        for packet in reader.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                writer.mux(packet)
    data = target.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def write_song_with_cover(path: Path, seconds: float = 2.0) -> Path:
    """An MP3 with album cover art: FFmpeg lists the cover as a video stream of one picture."""
    with av.open(str(path), "w", format="mp3") as container:
        sound = container.add_stream("libmp3lame", rate=44100, layout="stereo")
        cover = container.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        for packet in cover.encode(picture.reformat(format="yuvj420p")):
            container.mux(packet)
        for start in range(0, int(44100 * seconds), 1152):
            block = np.zeros((2, 1152), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 44100, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path
