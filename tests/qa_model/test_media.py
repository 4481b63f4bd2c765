"""Writing and probing MP4 files with PyAV."""

from __future__ import annotations

import numpy as np
import pytest

from qa_model import media


def frames(count: int):
    for index in range(count):
        yield np.full((64, 96, 3), index % 255, dtype=np.uint8)


def test_it_writes_h264_and_aac_that_probe_back(tmp_path):
    audio = 0.2 * np.sin(np.linspace(0, 2000, 16000 * 3))
    path = media.write_mp4(tmp_path / "clip.mp4", frames(30), audio, fps=10, sample_rate=16000)
    info = media.probe(path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (96, 64)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.1)


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path):
    def broken():
        yield from frames(5)
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        media.write_mp4(tmp_path / "clip.mp4", broken(), np.zeros(1600), fps=10, sample_rate=16000)
    assert list(tmp_path.iterdir()) == []


def test_probing_something_that_is_not_a_video_names_the_file(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(media.MediaError, match=r"notes\.mp4") as refusal:
        media.probe(bogus)
    # In words for a person: no errno, and not the server's path to the file.
    assert "Errno" not in str(refusal.value) and str(tmp_path) not in str(refusal.value)
    assert "Invalid data found when processing input" in str(refusal.value)
