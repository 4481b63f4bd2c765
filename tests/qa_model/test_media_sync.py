"""Transcoding keeps what was recorded: picture and sound at their source times (a variable
frame rate included), the picture upright and no taller than asked, and a file that does not
decode to its end refused. Sources flash and beep at known instants (tests/media_sources.py)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from qa_model import media
from tests import media_sources as sources


def transcoded(source, tmp_path, **options):
    return media.transcode_clip(source, tmp_path / "clip.mp4", **options)


def assert_in_sync(clip, *, source_start: float = 0.0):
    events = sources.events_in(clip, source_start)
    assert len(events) >= 3
    frame = 1 / float(media.probe(clip).frame_rate)
    sync, timing = sources.worst_offsets(events)
    # Sound against picture within a frame, and each where the source had it.
    assert sync < frame, events
    assert timing < frame, events
    return sync


@pytest.mark.slow
def test_a_constant_rate_source_stays_in_sync(tmp_path):
    source = sources.write_source(tmp_path / "steady.mp4", seconds=12)
    assert_in_sync(transcoded(source, tmp_path))


@pytest.mark.slow
def test_a_variable_frame_rate_keeps_each_picture_at_its_time(tmp_path):
    # 30 fps, then 5 fps, then 30 fps again: averaging the rate would drift by seconds.
    rates = ((6.0, 30), (16.0, 5), (float("inf"), 30))
    source = sources.write_source(tmp_path / "phone.mp4", seconds=22, rates=rates)
    info = media.probe(source)
    assert info.frame_rate < 20  # the average, which the old transcode stored at
    clip = transcoded(source, tmp_path)
    assert media.probe(clip).frame_rate == pytest.approx(30)
    assert_in_sync(clip)
    assert media.probe(clip).duration_seconds == pytest.approx(22, abs=0.1)


@pytest.mark.slow
def test_sound_that_starts_late_stays_at_its_time(tmp_path):
    source = sources.write_source(tmp_path / "late.mp4", seconds=12, sound_starts=0.7)
    assert_in_sync(transcoded(source, tmp_path, duration=12))


@pytest.mark.slow
def test_sound_missing_for_more_than_a_second_is_refused(tmp_path):
    source = sources.write_source(tmp_path / "mute start.mp4", seconds=12, sound_starts=1.5)
    with pytest.raises(media.MediaError, match=r"mute start\.mp4: its sound starts only at 1\.5 s"):
        transcoded(source, tmp_path, duration=12)


@pytest.mark.slow
def test_a_cut_from_the_middle_keeps_the_source_times(tmp_path):
    rates = ((8.0, 30), (float("inf"), 5))
    source = sources.write_source(
        tmp_path / "long.mkv", seconds=24, rates=rates, container_format="matroska"
    )
    clip = transcoded(source, tmp_path, start=7.3, duration=12)
    assert media.probe(clip).duration_seconds == pytest.approx(12, abs=0.1)
    assert_in_sync(clip, source_start=7.3)


@pytest.mark.slow
def test_a_rotated_phone_video_is_stored_upright(tmp_path):
    # Stored 320×180 with a display matrix turning it 90° counter-clockwise, as FFmpeg reads it.
    source = sources.write_source(tmp_path / "portrait.mp4", seconds=8, rotation=90, marker=True)
    clip = transcoded(source, tmp_path)
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (180, 320)
        assert not frame.rotation  # turned once, not again by the player
        picture = frame.to_ndarray(format="rgb24").astype(int)
    # The stored top-left corner turned counter-clockwise is the bottom-left.
    red = (picture[..., 0] > 150) & (picture[..., 1] < 100)
    rows, columns = np.nonzero(red)
    assert rows.min() > 320 * 0.6 and columns.max() < 180 * 0.4
    assert_in_sync(clip)


@pytest.mark.parametrize(
    ("size", "stored"), [((1920, 1080), (1280, 720)), ((720, 1280), (404, 720))]
)
@pytest.mark.slow
def test_tall_pictures_are_scaled_to_the_height_asked(tmp_path, size, stored):
    source = sources.write_source(tmp_path / "big.mp4", seconds=5, size=size)
    clip = transcoded(source, tmp_path, max_height=720)
    info = media.probe(clip)
    assert (info.width, info.height) == stored


@pytest.mark.slow
def test_a_file_cut_short_is_refused_naming_where_it_stops(tmp_path):
    whole = sources.write_source(tmp_path / "whole.mp4", seconds=20)
    remuxed = sources.cut_short(whole, tmp_path / "cut.mp4")
    assert media.probe(remuxed).duration_seconds == pytest.approx(20, abs=0.2)
    # Where the data stops, the last packet is cut too: a decode error or an early end.
    stops = r"cut\.mp4: (cannot be decoded at \d+\.\d s|.*decodes only up to \d+\.\d s of 20\.0 s)"
    with pytest.raises(media.MediaError, match=stops):
        problem = media.scan(remuxed).problem(20)
        raise media.MediaError(f"cut.mp4: {problem}")
    with pytest.raises(media.MediaError, match=stops):
        transcoded(remuxed, tmp_path)
    assert not (tmp_path / "clip.mp4").exists()


def test_a_sound_file_with_cover_art_is_named_as_such(tmp_path):
    info = media.probe(sources.write_song_with_cover(tmp_path / "song.mp3"))
    assert info.cover_art_only and not info.has_video and info.has_audio
