"""Feature extraction on generated clips: shapes, padding, weights, refusals, atomic files."""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
import torchvision

from qa_model import decode, features
from qa_model.decode import FeatureError
from qa_model.features import FeatureExtractor, load_features
from qa_model.media import write_mp4
from qa_model.synthetic import Scene, render_scene


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor(device="cpu")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An 8-s synthetic performance: shorter than the 60 s the features cover."""
    scene = Scene.random(4, duration_seconds=8.0)
    return render_scene(scene, tmp_path_factory.mktemp("clips") / "perf.mp4", fps=4)


def frames(count, value=90):
    for index in range(count):
        yield np.full((48, 64, 3), (value + 10 * index) % 255, dtype=np.uint8)


@pytest.mark.slow
def test_features_have_the_documented_layout(extractor, clip, tmp_path):
    failures = extractor.extract([("perf", clip)], tmp_path)
    assert failures == {}
    arrays = load_features(tmp_path / "perf.npz")
    assert arrays["audio"].shape == (10, 128) and arrays["audio"].dtype == np.float16
    assert arrays["visual"].shape == (10, 512, 14, 14) and arrays["visual"].dtype == np.float16
    assert arrays["seconds"].tolist() == list(range(0, 60, 6))
    assert np.isfinite(arrays["visual"].astype(np.float32)).all()


def test_a_short_clip_is_padded_by_repeating_its_last_second(extractor, clip):
    decoded = decode.decode_clip(clip)
    # Seconds 12 … 54 lie past the 8-s clip: they all show its last frame.
    assert all((decoded.frames[index] == decoded.frames[-1]).all() for index in range(2, 10))
    assert decoded.audio.shape == (60 * 16000,)
    last_second = decoded.audio[7 * 16000 : 8 * 16000]
    assert np.allclose(decoded.audio[20 * 16000 : 21 * 16000], last_second)


@pytest.mark.slow
def test_the_sampled_seconds_are_configurable(clip, tmp_path):
    extractor = FeatureExtractor(seconds=(0, 1, 2, 3), device="cpu")
    extractor.extract([("perf", clip)], tmp_path)
    arrays = load_features(tmp_path / "perf.npz")
    assert arrays["audio"].shape == (4, 128) and arrays["seconds"].tolist() == [0, 1, 2, 3]


def test_resnet_with_layer4_stride_1_gives_14_by_14():
    net = features.resnet18_stride1()
    with torch.inference_mode():
        assert net(torch.zeros(1, 3, 224, 224)).shape == (1, 512, 14, 14)


def test_the_log_mel_front_end_matches_vggish(extractor):
    second = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)
    mel = features.log_mel(torch.from_numpy(second))
    assert mel.shape == (98, 64)  # 1 + (16000 - 400) // 160 frames of 64 bands
    peak_band = int(mel.mean(0).argmax())
    edges = np.linspace(1127 * np.log(1 + 125 / 700), 1127 * np.log(1 + 7500 / 700), 66)
    centre_hz = 700 * (np.exp(edges[peak_band + 1] / 1127) - 1)
    assert abs(centre_hz - 1000) < 60, "a 1 kHz tone peaks in the band centred on 1 kHz"
    silence = features.log_mel(torch.zeros(16000))
    assert torch.allclose(silence, torch.full_like(silence, np.log(0.01)))
    patches = features.audio_patches(np.zeros(60 * 16000, np.float32), (0, 54), torch.device("cpu"))
    assert patches.shape == (2, 1, 96, 64)


@pytest.mark.slow
def test_weights_load_from_the_files_the_operator_names(tmp_path, clip, caplog):
    torch.manual_seed(1)
    resnet = torchvision.models.resnet18(weights=None)
    vggish = features.VGGish()
    torch.save(resnet.state_dict(), tmp_path / "resnet18.pth")
    torch.save(vggish.state_dict(), tmp_path / "vggish.pth")
    with caplog.at_level(logging.WARNING):
        loaded = FeatureExtractor(
            visual_weights=tmp_path / "resnet18.pth",
            audio_weights=tmp_path / "vggish.pth",
            device="cpu",
        )
    assert "random initialisation" not in caplog.text
    assert torch.equal(loaded.visual_net[0].weight, resnet.conv1.weight)
    assert torch.equal(loaded.audio_net.embeddings[4].weight, vggish.embeddings[4].weight)


@pytest.mark.slow
def test_without_weights_it_warns_about_random_initialisation(caplog):
    with caplog.at_level(logging.WARNING):
        FeatureExtractor(device="cpu")
    assert caplog.text.count("using random initialisation") == 2


@pytest.mark.slow
def test_a_video_without_sound_gets_silent_audio_features_and_a_warning(
    extractor, tmp_path, caplog
):
    silent = write_mp4(tmp_path / "silent.mp4", frames(30), None, fps=10)
    with caplog.at_level(logging.WARNING):
        extractor.extract([("silent", silent)], tmp_path / "out")
    assert "silent.mp4: no audio stream" in caplog.text
    audio = load_features(tmp_path / "out" / "silent.npz")["audio"]
    # Every segment has the features of silence: equal rows, up to the last bit of float16
    # (a batched matmul may round rows differently depending on how threads split it).
    audio = audio.astype(np.float32)
    np.testing.assert_allclose(audio, np.broadcast_to(audio[0], audio.shape), rtol=2e-3, atol=2e-3)


def test_a_file_without_pictures_is_refused(extractor, tmp_path):
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = 16000, 0, Fraction(1, 16000)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    failures = extractor.extract([("voice", path)], tmp_path / "out")
    assert "voice.m4a: has no video stream" in str(failures["voice"])
    assert not (tmp_path / "out" / "voice.npz").exists()


def test_a_clip_shorter_than_a_segment_is_refused(extractor, tmp_path):
    short = write_mp4(tmp_path / "blip.mp4", frames(5), np.zeros(8000), fps=10)
    with pytest.raises(FeatureError, match=r"blip.mp4: shorter than one segment"):
        decode.decode_clip(short)


@pytest.mark.slow
def test_an_unreadable_file_is_named_and_the_others_go_on(extractor, clip, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    failures = extractor.extract([("broken", broken), ("perf", clip)], tmp_path / "out")
    assert list(failures) == ["broken"] and "broken.mp4" in str(failures["broken"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["perf.npz"]


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def explode(stream, **arrays):
        stream.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(OSError, match="disk full"):
        features.save_features(tmp_path / "v.npz", {"audio": np.zeros(1)})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_decoding_in_threads_writes_the_same_features_and_keeps_failures(extractor, clip, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    clips = [(f"perf{index}", clip) for index in range(3)] + [("broken", broken)]
    done = []
    serial = extractor.extract(clips, tmp_path / "one", batch_videos=2)
    threaded = extractor.extract(
        clips,
        tmp_path / "two",
        batch_videos=2,
        decode_workers=3,
        on_done=lambda video_id, path, error: done.append((video_id, error is None)),
    )
    assert set(serial) == set(threaded) == {"broken"}
    assert sorted(done) == [("broken", False), ("perf0", True), ("perf1", True), ("perf2", True)]
    for index in range(3):
        one = load_features(tmp_path / "one" / f"perf{index}.npz")
        two = load_features(tmp_path / "two" / f"perf{index}.npz")
        assert all((one[key] == two[key]).all() for key in one)


@pytest.mark.parametrize("video_id", ["../x", "/etc/passwd", "a/b", "x\x00", "..", "", "x\n"])
def test_a_video_id_that_is_not_a_slug_names_no_file(tmp_path, video_id):
    with pytest.raises(ValueError, match="is not a video id"):
        features.feature_path(tmp_path, video_id)
    assert features.feature_path(tmp_path, "00000042") == tmp_path / "00000042.npz"


@pytest.mark.slow
def test_a_clip_whose_decoding_stops_early_is_refused(extractor, tmp_path):
    from tests import media_sources as sources

    whole = sources.write_source(tmp_path / "whole.mp4", seconds=12)
    cut = sources.cut_short(whole, tmp_path / "cut.mp4", keep=0.7)
    with pytest.raises(FeatureError, match=r"cut\.mp4: .*(stop at|cannot be decoded)"):
        decode.decode_clip(cut)
    failures = extractor.extract([("cut", cut)], tmp_path / "out")
    assert list(failures) == ["cut"] and not any((tmp_path / "out").iterdir())


def test_feature_files_get_the_mode_of_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        features.save_features(tmp_path / "v.npz", {"audio": np.zeros(1)})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "v.npz").stat().st_mode) == 0o644
