"""Video import: clips of 60 s, transcoding what a browser cannot play, duplicates skipped, and
refusals that name the file and leave nothing behind."""

from __future__ import annotations

import io
import random
from fractions import Fraction

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator import services, video_import
from annotator.models import FeatureStatus, Video
from qa_model import media
from qa_model.synthetic import Scene, render_scene

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A 130-s and a 45-s H.264/AAC MP4, rendered once."""
    folder = tmp_path_factory.mktemp("sources")
    return {
        "long": render_scene(Scene.random(1, duration_seconds=130.0), folder / "concert.mp4",
                             fps=4),
        "short": render_scene(Scene.random(2, duration_seconds=45.0), folder / "duet.mp4", fps=4),
    }  # fmt: skip


def write_mkv(path, seconds: float, *, audio: bool = True):
    """A Matroska file with MPEG-4 Part 2 video and MP2 audio: nothing a browser plays."""
    with av.open(str(path), "w", format="matroska") as container:
        video = container.add_stream("mpeg4", rate=4)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        sound = container.add_stream("mp2", rate=44100, layout="stereo") if audio else None
        for index in range(int(seconds * 4)):
            image = np.full((120, 160, 3), (index * 7) % 255, dtype=np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode(None))
        if sound is not None:
            tone = (0.2 * np.sin(np.arange(int(seconds * 44100)) * 0.05)).astype(np.float32)
            for start in range(0, len(tone), 1152):
                block = np.ascontiguousarray(np.stack([tone[start : start + 1152]] * 2))
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = 44100, start
                frame.time_base = Fraction(1, 44100)
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path


def media_files(settings) -> list:
    return (
        sorted((settings.MEDIA_ROOT / "videos").glob("*")) if settings.MEDIA_ROOT.exists() else []
    )


class TestClips:
    def test_a_long_video_becomes_60_second_clips(self, catalogue, clips):
        outcome = video_import.import_file(clips["long"])
        assert outcome.videos == ["concert-01", "concert-02"] and outcome.error is None
        first, second = Video.objects.order_by("avqa_id")
        assert (first.clip_start_seconds, second.clip_start_seconds) == (0.0, 60.0)
        for video in (first, second):
            info = media.probe(video.file.path)
            assert info.duration_seconds == pytest.approx(60.0, abs=0.3)
            assert (info.video_codec, info.audio_codec) == ("h264", "aac")
            assert video.feature_status == FeatureStatus.PENDING
            assert video.source_name == "concert.mp4" and len(video.source_hash) == 64

    def test_random_offsets_shift_the_clips(self, catalogue, clips):
        outcome = video_import.import_file(clips["long"], random_offsets=True, rng=random.Random(4))
        starts = sorted(Video.objects.values_list("clip_start_seconds", flat=True))
        assert len(outcome.videos) == 2 and 0 < starts[0] < 10 and starts[1] == starts[0] + 60

    def test_a_playable_short_video_is_kept_as_it_is(self, catalogue, clips):
        outcome = video_import.import_file(clips["short"])
        video = Video.objects.get(avqa_id=outcome.videos[0])
        with video.file.open("rb") as stored:
            assert stored.read() == clips["short"].read_bytes()

    def test_a_format_browsers_cannot_play_is_transcoded(self, catalogue, tmp_path):
        source = write_mkv(tmp_path / "old recording.mkv", 50)
        assert media.probe(source).video_codec == "mpeg4"
        outcome = video_import.import_file(source)
        video = Video.objects.get(avqa_id="old-recording")
        assert outcome.videos == ["old-recording"] and video.file.name.endswith(".mp4")
        info = media.probe(video.file.path)
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")

    def test_the_same_content_again_is_skipped_and_reported(self, catalogue, clips, tmp_path):
        video_import.import_file(clips["short"])
        copy = tmp_path / "renamed.mp4"
        copy.write_bytes(clips["short"].read_bytes())
        outcome = video_import.import_file(copy)
        assert outcome.duplicate_of == "duet" and not outcome.videos
        assert "same content as video duet" in outcome.line()
        assert Video.objects.count() == 1


class TestRefusals:
    @pytest.mark.parametrize(
        ("make", "message"),
        [
            (lambda d: d.joinpath("notes.mp4").write_text("not a video") and d / "notes.mp4",
             "notes.mp4: not a readable media file"),
            (lambda d: write_mkv(d / "mute.mkv", 50, audio=False), "mute.mkv: has no audio stream"),
            (lambda d: write_mkv(d / "brief.mkv", 12),
             "brief.mkv: 12.0 s is shorter than the 40 s"),
            (lambda d: d / "missing.mp4", "missing.mp4: no such file"),
        ],
        ids=["not a video", "no audio", "too short", "missing"],
    )  # fmt: skip
    def test_it_names_the_file_and_writes_nothing(
        self, catalogue, tmp_path, settings, make, message
    ):
        outcome = video_import.import_file(make(tmp_path))
        assert message in outcome.error
        assert not Video.objects.exists() and not media_files(settings)

    def test_size_and_duration_limits_are_settings(self, catalogue, clips, settings):
        settings.IMPORT_MAX_BYTES = 1000
        assert (
            "over the 0.0 GB limit (IMPORT_MAX_BYTES)"
            in video_import.import_file(clips["short"]).error
        )
        settings.IMPORT_MAX_BYTES, settings.IMPORT_MAX_SECONDS = 10**9, 100
        assert "130 s is over the 100 s limit" in video_import.import_file(clips["long"]).error
        assert not Video.objects.exists()

    def test_a_failure_on_the_second_clip_removes_the_first(
        self, catalogue, clips, settings, monkeypatch
    ):
        real, calls = services.video_create, []

        def failing(**kwargs):
            calls.append(kwargs["avqa_id"])
            if len(calls) == 2:
                raise media.MediaError("concert-02.mp4: disk trouble")
            return real(**kwargs)

        monkeypatch.setattr(services, "video_create", failing)
        outcome = video_import.import_file(clips["long"])
        assert outcome.error == "concert-02.mp4: disk trouble"
        assert not Video.objects.exists() and not media_files(settings)


class TestCommandAndAdmin:
    def test_the_command_imports_a_folder_and_reports_each_file(self, catalogue, clips, tmp_path):
        folder = clips["short"].parent
        (folder / "readme.txt").write_text("ignored: not a video file")
        out = io.StringIO()
        call_command("import_videos", str(folder), "--seed", "1", stdout=out)
        text = out.getvalue()
        assert "added: concert.mp4 as 2 clip(s)" in text and "added: duet.mp4 as 1 clip(s)" in text
        assert "3 clip(s) added, 0 duplicate(s) skipped, 0 refused" in text
        out = io.StringIO()
        call_command("import_videos", str(clips["short"]), stdout=out)
        assert "0 clip(s) added, 1 duplicate(s) skipped" in out.getvalue()
        empty = tmp_path / "empty"
        empty.mkdir()
        with pytest.raises(CommandError, match="no video files"):
            call_command("import_videos", str(empty))

    def test_admins_upload_files(self, catalogue, clips, admin_client):
        page = admin_client.get(reverse("admin:annotator_video_changelist"))
        assert b"Upload videos" in page.content
        files = [
            SimpleUploadedFile("duet.mp4", clips["short"].read_bytes()),
            SimpleUploadedFile("junk.mp4", b"not a video"),
        ]
        response = admin_client.post(reverse("admin:annotator_video_upload"), {"files": files})
        text = " ".join(str(m) for m in admin_client.get(response["Location"]).context["messages"])
        assert "added: duet.mp4 as 1 clip(s)" in text and "junk.mp4: not a readable" in text
        assert list(Video.objects.values_list("avqa_id", flat=True)) == ["duet"]

    def test_metadata_is_edited_in_the_admin(self, catalogue, clips, admin_client):
        video_import.import_file(clips["short"])
        video = Video.objects.get()
        url = reverse("admin:annotator_video_change", args=[video.pk])
        form = admin_client.get(url).context["adminform"].form
        data = {**form.initial, "instruments": "cello, piano", "ensemble": "ensemble",
                "source_url": "https://example.org/duet", "file": ""}  # fmt: skip
        data = {key: value for key, value in data.items() if value is not None}
        admin_client.post(url, data)
        video.refresh_from_db()
        assert (video.instruments, video.ensemble) == ("cello, piano", "ensemble")
