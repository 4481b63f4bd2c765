"""Synthetic scenes: deterministic from a seed, rendered as playable clips."""

from __future__ import annotations

import numpy as np

from qa_model import catalogue, media
from qa_model.synthetic import Scene, render_audio, render_frames, render_scene


def test_a_scene_is_determined_by_its_seed():
    assert Scene.random(7) == Scene.random(7)
    assert {Scene.random(seed) for seed in range(20)} != {Scene.random(0)}


def test_scenes_use_catalogue_instruments_at_distinct_positions():
    for seed in range(50):
        scene = Scene.random(seed)
        assert 1 <= len(scene.players) <= 3
        assert all(player.instrument in catalogue.INSTRUMENTS for player in scene.players)
        assert len({player.position for player in scene.players}) == len(scene.players)


def test_a_silent_player_adds_no_sound():
    scene = Scene.random(1)
    silent = [player for player in scene.players if player.is_silent]
    assert silent, "seed 1 has a visible but silent instrument"
    alone = Scene(scene.seed, 10.0, scene.outdoor, tuple(silent))
    assert not np.any(render_audio(alone))


def test_a_rendered_scene_is_a_playable_clip(tmp_path):
    scene = Scene.random(3, duration_seconds=4.0)
    info = media.probe(render_scene(scene, tmp_path / "scene.mp4", fps=6))
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert abs(info.duration_seconds - 4.0) < 0.2
    first = next(render_frames(scene, fps=6))
    assert first.shape == (180, 320, 3) and first.dtype == np.uint8
