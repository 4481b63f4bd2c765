"""Video import: clips of 60 s, transcoding what a browser cannot play, duplicates skipped, and
refusals that name the file and leave nothing behind."""

from __future__ import annotations

import errno
import io
import random
from fractions import Fraction
from pathlib import Path
from shutil import _ntuple_diskusage as Usage

import av
import numpy as np
import pytest
from django.core.files.base import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from annotator import imports, services, video_import
from annotator.models import FeatureStatus, ImportStatus, Video, VideoImport
from qa_model import media
from qa_model.synthetic import Scene, render_scene
from tests import media_sources as sources

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A 130-s and a 45-s H.264/AAC MP4, rendered once."""
    folder = tmp_path_factory.mktemp("sources")
    return {
        "long": render_scene(
            Scene.random(1, duration_seconds=130.0), folder / "concert.mp4", fps=4
        ),
        "short": render_scene(Scene.random(2, duration_seconds=45.0), folder / "duet.mp4", fps=4),
    }


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
    @pytest.mark.slow
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

    @pytest.mark.slow
    def test_random_offsets_shift_the_clips(self, catalogue, clips):
        outcome = video_import.import_file(clips["long"], random_offsets=True, rng=random.Random(4))
        starts = sorted(Video.objects.values_list("clip_start_seconds", flat=True))
        assert len(outcome.videos) == 2 and 0 < starts[0] < 10 and starts[1] == starts[0] + 60

    def test_a_playable_short_video_is_kept_as_it_is(self, catalogue, clips):
        outcome = video_import.import_file(clips["short"])
        video = Video.objects.get(avqa_id=outcome.videos[0])
        with video.file.open("rb") as stored:
            assert stored.read() == clips["short"].read_bytes()

    @pytest.mark.slow
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
            (
                lambda d: d.joinpath("notes.mp4").write_text("not a video") and d / "notes.mp4",
                "notes.mp4: not a readable media file",
            ),
            (lambda d: write_mkv(d / "mute.mkv", 50, audio=False), "mute.mkv: has no audio stream"),
            (
                lambda d: write_mkv(d / "brief.mkv", 12),
                "brief.mkv: 12.0 s is shorter than the 40 s",
            ),
            (lambda d: d / "missing.mp4", "missing.mp4: no such file"),
        ],
        ids=["not a video", "no audio", "too short", "missing"],
    )
    def test_it_names_the_file_and_writes_nothing(
        self, catalogue, tmp_path, settings, make, message
    ):
        outcome = video_import.import_file(make(tmp_path))
        assert message in outcome.error
        assert not Video.objects.exists() and not media_files(settings)

    def test_size_and_duration_limits_are_settings(self, catalogue, clips, settings):
        settings.IMPORT_MAX_BYTES = 1000
        assert (
            "duet.mp4: 187.9 KB is over the 1000 bytes limit (IMPORT_MAX_BYTES)"
            in video_import.import_file(clips["short"]).error
        )
        settings.IMPORT_MAX_BYTES, settings.IMPORT_MAX_SECONDS = 10**9, 100
        assert "130 s is over the 100 s limit" in video_import.import_file(clips["long"]).error
        assert not Video.objects.exists()

    @pytest.mark.slow
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
    @pytest.mark.slow
    def test_the_command_imports_a_folder_and_reports_each_file(self, catalogue, clips, tmp_path):
        folder = clips["short"].parent
        (folder / "readme.txt").write_text("ignored: not a video file")
        out = io.StringIO()
        call_command("import_videos", str(folder), "--seed", "1", stdout=out)
        text = out.getvalue()
        assert "added: concert.mp4 as 2 clip(s)" in text and "added: duet.mp4 as 1 clip(s)" in text
        assert "3 clip(s) added, 0 duplicate(s) skipped, 0 refused" in text
        # Recorded like an upload, and the files named on the server stay where they are.
        job = VideoImport.objects.get()
        assert (job.status, job.clips_made, job.progress, job.files) == (
            "done",
            3,
            1.0,
            ["concert.mp4", "duet.mp4"],
        )
        assert clips["short"].exists()
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
        # The request only queues the import: nothing is transcoded inside it.
        job = VideoImport.objects.get()
        assert response["Location"] == reverse("admin:annotator_videoimport_change", args=[job.pk])
        assert job.status == ImportStatus.QUEUED and job.files == ["duet.mp4", "junk.mp4"]
        assert not Video.objects.exists()
        page = admin_client.get(response["Location"])
        assert f"Import {job.pk} queued: 2 file(s)" in " ".join(map(str, page.context["messages"]))
        assert b'http-equiv="refresh"' in page.content  # follows the progress
        run_queued_imports()
        job.refresh_from_db()
        assert (job.status, job.progress, job.clips_made, job.refused) == ("done", 1.0, 1, 1)
        assert job.outcomes[0] == "added: duet.mp4 as 1 clip(s): duet"
        assert job.outcomes[1].startswith("refused: junk.mp4: not a readable")
        assert list(Video.objects.values_list("avqa_id", flat=True)) == ["duet"]
        assert not Path(job.folder).exists()  # the uploaded files are gone once read
        page = admin_client.get(reverse("admin:annotator_videoimport_change", args=[job.pk]))
        assert b"added: duet.mp4 as 1 clip(s)" in page.content
        assert b'http-equiv="refresh"' not in page.content
        # Any path under the admin's page of imports is routed to it: no id is no error.
        missing = admin_client.get("/admin/annotator/videoimport/annotator/video/", follow=True)
        assert missing.status_code == 200

    @pytest.mark.slow
    def test_a_failed_import_keeps_its_files_and_runs_again_from_where_it_stopped(
        self, catalogue, clips, admin_client, monkeypatch
    ):
        files = [
            SimpleUploadedFile("duet.mp4", clips["short"].read_bytes()),
            SimpleUploadedFile("concert.mp4", clips["long"].read_bytes()),
        ]
        admin_client.post(reverse("admin:annotator_video_upload"), {"files": files})
        job = VideoImport.objects.get()
        real = video_import.import_file

        def crash_on_the_second(path, **kwargs):
            if path.name == "concert.mp4":
                raise RuntimeError("worker lost its disk")
            return real(path, **kwargs)

        monkeypatch.setattr(video_import, "import_file", crash_on_the_second)
        with pytest.raises(RuntimeError):
            imports.import_run(job.pk)
        job.refresh_from_db()
        assert (job.status, job.files_done, job.error) == (
            "failed",
            1,
            "RuntimeError: worker lost its disk",
        )
        assert sorted(p.name for p in Path(job.folder).iterdir()) == ["concert.mp4", "duet.mp4"]
        monkeypatch.setattr(video_import, "import_file", real)
        admin_client.post(
            reverse("admin:annotator_videoimport_changelist"),
            {"action": "run_again", "_selected_action": [job.pk]},
        )
        run_queued_imports()
        job.refresh_from_db()
        assert (job.status, job.clips_made) == ("done", 3)
        assert job.outcomes == [
            "added: duet.mp4 as 1 clip(s): duet",
            "added: concert.mp4 as 2 clip(s): concert-01, concert-02",
        ]
        assert not Path(job.folder).exists()

    def test_the_command_can_send_the_import_to_the_worker(self, catalogue, clips):
        out = io.StringIO()
        call_command("import_videos", str(clips["short"]), "--background", stdout=out)
        job = VideoImport.objects.get()
        assert f"import {job.pk} queued: 1 file(s)" in out.getvalue()
        assert not Video.objects.exists()
        assert run_queued_imports() == ["added: duet.mp4 as 1 clip(s): duet"]
        assert clips["short"].exists()  # files named on the server are left where they are

    def test_metadata_is_edited_in_the_admin(self, catalogue, clips, admin_client):
        video_import.import_file(clips["short"])
        video = Video.objects.get()
        url = reverse("admin:annotator_video_change", args=[video.pk])
        form = admin_client.get(url).context["adminform"].form
        data = {
            **form.initial,
            "instruments": "cello, piano",
            "ensemble": "ensemble",
            "source_url": "https://example.org/duet",
            "file": "",
        }
        data = {key: value for key, value in data.items() if value is not None}
        admin_client.post(url, data)
        video.refresh_from_db()
        assert (video.instruments, video.ensemble) == ("cello, piano", "ensemble")


# --- hostile files ---------------------------------------------------------------------------


def write_declared(path, *, width: int, height: int, seconds: float, rate: int = 25):
    """A file of a few hundred bytes whose Matroska headers declare raw `width`×`height` video
    at `rate` frames per second spanning `seconds`, with an audio track: what decodes to
    gigabytes, or hours of work, from almost nothing."""
    with av.open(str(path), "w", format="matroska") as container:
        video = container.add_stream("rawvideo", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        container.add_stream("mp2", rate=44100, layout="stereo")
        for frame in (0, 1, 2, int(seconds * rate)):
            packet = av.Packet(b"\0" * 64)
            packet.stream, packet.time_base = video, Fraction(1, rate)
            packet.pts = packet.dts = frame
            container.mux(packet)
    return path


@pytest.fixture
def never_decoded(monkeypatch):
    """A transcode would decode the frames: a refusal on the probe must come before it."""

    def decoding(*args, **kwargs):
        raise AssertionError("the file was decoded")

    monkeypatch.setattr(media, "transcode_clip", decoding)


class TestHostileFiles:
    def test_a_png_renamed_mp4_is_refused(self, catalogue, tmp_path, settings):
        poster = tmp_path / "poster.mp4"
        Image.new("RGB", (64, 64), (200, 0, 0)).save(poster, format="PNG")
        outcome = video_import.import_file(poster)
        assert (
            outcome.line() == "refused: poster.mp4: has no audio stream (questions are about sound)"
        )
        assert not Video.objects.exists() and not media_files(settings)

    def test_a_tiny_file_declaring_huge_frames_is_refused_on_its_probe(
        self, catalogue, tmp_path, settings, never_decoded
    ):
        bomb = write_declared(tmp_path / "bomb.mkv", width=15000, height=15000, seconds=50)
        assert bomb.stat().st_size < 2000
        outcome = video_import.import_file(bomb)
        assert outcome.error == video_import.TOO_MANY_PIXELS.format(
            name="bomb.mkv", width=15000, height=15000, limit=settings.IMPORT_MAX_PIXELS
        )
        assert "15000×15000 frames are over the 8,294,400 pixel limit" in outcome.error
        assert not Video.objects.exists() and not media_files(settings)

    def test_a_tiny_file_declaring_a_huge_frame_rate_is_refused_on_its_probe(
        self, catalogue, tmp_path, settings, never_decoded
    ):
        bomb = write_declared(tmp_path / "fast.mkv", width=16, height=16, seconds=50, rate=1000)
        outcome = video_import.import_file(bomb)
        assert outcome.error == (
            "fast.mkv: 1000 frames per second is over the 120 limit (IMPORT_MAX_FPS)"
        )
        assert not Video.objects.exists() and not media_files(settings)

    def test_a_tiny_file_declaring_days_of_video_is_refused_on_its_probe(
        self, catalogue, tmp_path, settings, never_decoded
    ):
        bomb = write_declared(tmp_path / "endless.mkv", width=16, height=16, seconds=10**6)
        outcome = video_import.import_file(bomb)
        assert "endless.mkv: 1000000 s is over the 14400 s limit (IMPORT_MAX_SECONDS)" in (
            outcome.error
        )
        assert not Video.objects.exists() and not media_files(settings)

    def test_the_command_refuses_them_too(self, catalogue, tmp_path, never_decoded):
        write_declared(tmp_path / "bomb.mkv", width=15000, height=15000, seconds=50)
        (tmp_path / "notes.mp4").write_text("not a video")
        out = io.StringIO()
        # A script that imports must notice: the command exits non-zero after its summary.
        with pytest.raises(
            CommandError, match=r"0 clip\(s\) added, 0 duplicate\(s\) skipped, 2 refused"
        ):
            call_command("import_videos", str(tmp_path), stdout=out)
        assert "refused: bomb.mkv: its 15000×15000 frames" in out.getvalue()
        assert "refused: notes.mp4: not a readable media file" in out.getvalue()


# --- the media disk --------------------------------------------------------------------------


def enospc() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


class TestDiskFull:
    def test_an_import_that_would_not_fit_is_refused_before_writing(
        self, catalogue, clips, settings, monkeypatch, never_decoded
    ):
        # The machine cannot fill a disk safely; the disk reports 100 MB free instead.
        monkeypatch.setattr(video_import.shutil, "disk_usage", lambda p: Usage(10**12, 0, 10**8))
        outcome = video_import.import_file(clips["long"])
        assert outcome.error.startswith("concert.mp4: not enough free space in ")
        assert (
            "(95.4 MB free; " in outcome.error and "IMPORT_FREE_MARGIN_BYTES kept" in outcome.error
        )
        settings.IMPORT_FREE_MARGIN_BYTES = 0
        monkeypatch.setattr(video_import.shutil, "disk_usage", lambda p: Usage(10**12, 0, 1000))
        assert "not enough free space" in video_import.import_file(clips["long"]).error
        assert not Video.objects.exists() and not media_files(settings)

    @pytest.mark.slow
    def test_a_disk_that_fills_during_a_transcode_leaves_nothing(
        self, catalogue, tmp_path, settings, monkeypatch
    ):
        real, written = media._transcode, []

        def filling(source, target, *args):
            written.append(Path(target))
            Path(target).write_bytes(b"half a clip")
            raise enospc()

        monkeypatch.setattr(media, "_transcode", filling)
        outcome = video_import.import_file(write_mkv(tmp_path / "old.mkv", 50))
        assert outcome.error == video_import.DISK_FULL.format(name="old.mkv")
        assert written and not any(path.exists() for path in written)  # the temporary is gone
        assert not any(written[0].parent.parent.glob(written[0].parent.name))
        assert not Video.objects.exists() and not media_files(settings)
        monkeypatch.setattr(media, "_transcode", real)
        assert video_import.import_file(tmp_path / "old.mkv").videos == ["old"]

    @pytest.mark.slow
    def test_a_disk_that_fills_while_a_clip_is_stored_leaves_nothing(
        self, catalogue, clips, settings, monkeypatch
    ):
        real, calls = File.chunks, []

        def filling(self, chunk_size=None):
            calls.append(self)
            if len(calls) == 2:  # the second clip: half written into the media folder, then full
                yield next(real(self, 1024))
                assert media_files(settings)
                raise enospc()
            yield from real(self, chunk_size)

        monkeypatch.setattr(File, "chunks", filling)
        outcome = video_import.import_file(clips["long"])
        assert outcome.error == video_import.DISK_FULL.format(name="concert.mp4")
        assert not Video.objects.exists() and not media_files(settings)


# --- the admin upload ------------------------------------------------------------------------


@pytest.fixture
def upload_folder(settings, tmp_path):
    """Where uploads stream to, checked empty after each refusal."""
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    return settings.FILE_UPLOAD_TEMP_DIR


def run_queued_imports() -> list[str]:
    """Run the queued imports as the worker does; every file's outcome line."""
    for job in VideoImport.objects.filter(status=ImportStatus.QUEUED):
        imports.import_run(job.pk)
    return [line for job in VideoImport.objects.order_by("pk") for line in job.outcomes]


def upload(client, *files: SimpleUploadedFile) -> str:
    """Post files to the admin upload; the messages the admin then sees, and once the worker
    has run the import, each file's outcome."""
    response = client.post(reverse("admin:annotator_video_upload"), {"files": list(files)})
    assert response.status_code == 302
    shown = [str(m) for m in client.get(response["Location"]).context["messages"]]
    return " ".join(shown + run_queued_imports())


class TestAdminUpload:
    def test_an_upload_over_the_limit_is_refused_before_a_byte_is_written(
        self, catalogue, admin_client, settings, upload_folder, monkeypatch
    ):
        settings.IMPORT_MAX_BYTES = 10_000

        def written(*args, **kwargs):
            raise AssertionError("the upload was written")

        monkeypatch.setattr(TemporaryFileUploadHandler, "new_file", written)
        text = upload(admin_client, SimpleUploadedFile("huge.mp4", b"\0" * 20_000))
        assert text.startswith("The upload (19.")
        assert "is over the 9.8 KB limit (IMPORT_MAX_BYTES) and was not read" in text
        assert not Video.objects.exists() and not any(upload_folder.iterdir())
        assert not media_files(settings)

    def test_an_upload_bigger_than_the_free_space_is_refused(
        self, catalogue, admin_client, settings, upload_folder, monkeypatch
    ):
        monkeypatch.setattr(video_import.shutil, "disk_usage", lambda p: Usage(10**12, 0, 10**6))
        text = upload(admin_client, SimpleUploadedFile("duet.mp4", b"\0" * 20_000))
        assert text.startswith(f"The upload: not enough free space in {upload_folder} (976.6 KB")
        assert not Video.objects.exists() and not any(upload_folder.iterdir())

    def test_refused_files_leave_nothing_in_the_upload_or_media_folders(
        self, catalogue, admin_client, settings, upload_folder, tmp_path
    ):
        poster = io.BytesIO()
        Image.new("RGB", (64, 64)).save(poster, format="PNG")
        bomb = write_declared(tmp_path / "bomb.mkv", width=15000, height=15000, seconds=50)
        text = upload(
            admin_client,
            SimpleUploadedFile("notes.mp4", b"just text"),
            SimpleUploadedFile("poster.mp4", poster.getvalue()),
            SimpleUploadedFile("bomb.mkv", bomb.read_bytes()),
        )
        assert "refused: notes.mp4: not a readable media file" in text
        assert "refused: poster.mp4: has no audio stream" in text
        assert "refused: bomb.mkv: its 15000×15000 frames are over the" in text
        assert not Video.objects.exists() and not media_files(settings)
        assert not any(upload_folder.iterdir())

    @pytest.mark.slow
    def test_a_file_name_cannot_lead_outside_the_upload_folder(
        self, catalogue, clips, admin_client, settings, upload_folder, tmp_path
    ):
        # Django's test client strips paths from file names, so the body is written by hand.
        hostile = [
            "../../../../evil.mp4",
            "/etc/evil.mp4",
            "..\\..\\evil.mp4",
            "..%2fevil.mp4",
            "evil\x00.mp4",
            "&#46;&#46;/evil.mp4",
        ]
        for index, name in enumerate(hostile):
            data = clips["short"].read_bytes() + bytes([index])  # not a duplicate of the last
            body = (
                b'--b\r\nContent-Disposition: form-data; name="files"; filename="'
                + name.encode()
                + b'"\r\nContent-Type: video/mp4\r\n\r\n'
                + data
                + b"\r\n--b--\r\n"
            )
            response = admin_client.post(
                reverse("admin:annotator_video_upload"),
                body,
                content_type="multipart/form-data; boundary=b",
            )
            assert response.status_code == 302
            assert "evil.mp4 as 1 clip(s)" in run_queued_imports()[-1], name
        for video in Video.objects.all():
            assert Path(video.file.path).parent == settings.MEDIA_ROOT / "videos"
        outside = [p for p in tmp_path.rglob("*evil*") if settings.MEDIA_ROOT not in p.parents]
        assert not outside and not any(upload_folder.iterdir())
        assert not list(Path("/etc").glob("evil*"))

    @pytest.mark.parametrize(
        "name", ["..", "../..", "/abs/clip.mp4", "a\0b.mp4", "..\\x.mp4", "é" * 300 + ".mp4", ""]
    )
    def test_upload_paths_stay_in_their_folder(self, tmp_path, name):
        path = video_import.upload_path(tmp_path, name)
        assert path.parent == tmp_path and path.name not in ("", ".", "..")
        assert "\0" not in str(path) and len(path.name.encode()) < 255

    def test_the_plain_add_and_change_forms_take_no_file(self, catalogue, clips, admin_client):
        add = admin_client.get(reverse("admin:annotator_video_add"))
        assert add["Location"] == reverse("admin:annotator_video_upload")
        video_import.import_file(clips["short"])
        video = Video.objects.get()
        url = reverse("admin:annotator_video_change", args=[video.pk])
        form = admin_client.get(url).context["adminform"].form
        assert "file" not in form.fields
        data = {key: value for key, value in form.initial.items() if value is not None}
        admin_client.post(url, {**data, "file": SimpleUploadedFile("x.mp4", b"not a video")})
        video.refresh_from_db()
        with video.file.open("rb") as stored:
            assert stored.read() == clips["short"].read_bytes()

    def test_the_import_still_needs_the_csrf_token(self, catalogue, clips, admin_user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(admin_user)
        files = {"files": [SimpleUploadedFile("duet.mp4", clips["short"].read_bytes())]}
        assert client.post(reverse("admin:annotator_video_upload"), files).status_code == 403
        assert not Video.objects.exists()


class TestFidelity:
    """What is stored is what was recorded: in sync, upright, no taller than IMPORT_MAX_HEIGHT,
    decoding from end to end; built from sources that flash and beep at known instants."""

    @pytest.fixture(autouse=True)
    def short_clips(self, settings):
        settings.VIDEO_MIN_SECONDS, settings.CLIP_SECONDS = 5, 10

    def stored(self, outcome):
        assert outcome.error is None, outcome.error
        return [Video.objects.get(avqa_id=avqa_id) for avqa_id in outcome.videos]

    @pytest.mark.slow
    def test_a_variable_rate_phone_video_is_stored_in_sync(self, catalogue, tmp_path):
        # Browser-playable H.264/AAC, but 30 fps then 5 fps: storing it as it is would be
        # fine for a player; it is re-timed to a constant rate on its timestamps instead.
        rates = ((4.0, 30), (8.0, 5), (float("inf"), 30))
        source = sources.write_source(tmp_path / "phone.mp4", seconds=10, rates=rates)
        (video,) = self.stored(video_import.import_file(source))
        assert video.file.read() != source.read_bytes()
        events = sources.events_in(Path(video.file.path))
        sync, timing = sources.worst_offsets(events)
        assert sync < 1 / 30 and timing < 1 / 30

    @pytest.mark.slow
    def test_a_long_source_becomes_clips_each_in_sync(self, catalogue, tmp_path):
        rates = ((12.0, 25), (20.0, 5), (float("inf"), 25))
        source = sources.write_source(
            tmp_path / "concert.mkv", seconds=31, rates=rates, container_format="matroska"
        )
        videos = self.stored(video_import.import_file(source))
        assert [v.clip_start_seconds for v in videos] == [0.0, 10.0, 20.0]
        for video in videos:
            events = sources.events_in(Path(video.file.path), video.clip_start_seconds)
            sync, timing = sources.worst_offsets(events)
            assert sync < 1 / 25 and timing < 1 / 25, (video.avqa_id, events)

    @pytest.mark.slow
    def test_a_rotated_video_is_stored_upright(self, catalogue, tmp_path):
        source = sources.write_source(tmp_path / "upright.mp4", seconds=6, rotation=-90)
        (video,) = self.stored(video_import.import_file(source))
        info = media.probe(video.file.path)
        assert (info.width, info.height) == (180, 320)
        assert media.scan(video.file.path).rotation == 0

    @pytest.mark.parametrize(
        ("size", "stored"), [((1920, 1080), (1280, 720)), ((720, 1280), (404, 720))]
    )
    @pytest.mark.slow
    def test_a_playable_video_taller_than_the_limit_is_scaled(
        self, catalogue, tmp_path, size, stored
    ):
        source = sources.write_source(tmp_path / "tall.mp4", seconds=6, size=size)
        (video,) = self.stored(video_import.import_file(source))
        info = media.probe(video.file.path)
        assert (info.width, info.height) == stored

    @pytest.mark.slow
    def test_a_file_cut_short_is_refused_and_nothing_is_stored(self, catalogue, tmp_path, settings):
        whole = sources.write_source(tmp_path / "whole.mp4", seconds=9)
        cut = sources.cut_short(whole, tmp_path / "download.mp4")
        outcome = video_import.import_file(cut)
        assert outcome.error and outcome.error.startswith("download.mp4: ")
        assert "decodes only up to" in outcome.error or "cannot be decoded at" in outcome.error
        assert not Video.objects.exists() and not media_files(settings)

    def test_a_sound_file_with_cover_art_is_named_as_such(self, catalogue, tmp_path):
        song = sources.write_song_with_cover(tmp_path / "song.mp3", seconds=8)
        outcome = video_import.import_file(song)
        assert outcome.error == (
            "song.mp3: is a sound file; its only picture is cover art (a still image), and a "
            "clip needs a video of the performance"
        )

    @pytest.mark.slow
    def test_clips_are_made_outside_any_transaction(self, catalogue, tmp_path, monkeypatch):
        # SQLite has one writer at a time: a transaction open while a long video transcodes
        # would stop every annotator's writes for minutes.
        from django.db import connection

        real, seen = media.transcode_clip, []
        outer = len(connection.atomic_blocks)  # the test's own transaction

        def watched(*args, **kwargs):
            seen.append(len(connection.atomic_blocks) > outer)
            return real(*args, **kwargs)

        monkeypatch.setattr(media, "transcode_clip", watched)
        source = write_mkv(tmp_path / "tape.mkv", 12)
        self.stored(video_import.import_file(source))
        assert seen == [False]
