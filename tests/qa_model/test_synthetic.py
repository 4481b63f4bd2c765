"""Synthetic scenes: deterministic, playable, and their records correct against the ground truth.

The oracle below is written independently of qa_model.synthetic, from the template wording.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from qa_model import catalogue, media
from qa_model.synthetic import (
    Player,
    Scene,
    balance_answers,
    render_audio,
    render_frames,
    render_scene,
    scene_records,
    split_of,
    synthesize,
)

ORDER = ("left", "middle", "right")
COUNTS = catalogue.COUNTS


def oracle(scene: Scene, number: int, values: list[str]) -> str | None:
    """The answer from the scene's facts, or None for templates this oracle does not cover."""
    seen = sorted((p for p in scene.players if p.position), key=lambda p: ORDER.index(p.position))
    heard = [p for p in scene.players if p.end > p.start]
    playing = [p for p in seen if p.end > p.start]
    at = {p.position: p for p in seen}
    named = {p.instrument: p for p in scene.players}
    yes = lambda condition: "yes" if condition else "no"  # noqa: E731
    by_start = sorted(playing, key=lambda p: p.start)
    if number == 1:
        return yes(values[0] in {p.instrument for p in heard})
    if number == 2:
        return COUNTS[len(heard)]
    if number == 3:
        return yes(set(values) <= {p.instrument for p in heard})
    if number in (4, 5, 6):
        a, b = named[values[0]], named[values[1]]
        key = {4: "gain", 5: "rhythm"}.get(number)
        measure = (lambda p: getattr(p, key)) if key else (lambda p: p.end - p.start)
        return yes(measure(a) > measure(b))
    if number == 7:
        return yes(values[0] in {p.instrument for p in seen})
    if number == 8:
        return yes(set(values) <= {p.instrument for p in seen})
    if number == 9:
        return COUNTS[len({p.instrument for p in seen})]
    if number == 10:
        return COUNTS[sum(p.instrument == values[0] for p in seen)]
    if number == 11:
        return "outdoor" if scene.outdoor else "indoor"
    if number == 13:
        return seen[0].instrument
    if number == 14:
        return (seen[0] if values[0] == "leftest" else seen[-1]).instrument
    if number == 15:
        return yes(all(p.position for p in heard))
    if number == 16:
        player = next(p for p in seen if p.instrument == values[0])
        return yes(player.start == 0 and player.end >= scene.duration_seconds)
    if number == 17:
        return yes(scene.voiceover is not None)
    if number == 18:
        return COUNTS[len(playing)]
    if number == 19:
        return COUNTS[len({p.instrument for p in heard})]
    if number == 20:
        return COUNTS[sum(p.end <= p.start for p in seen)]
    if number == 21:
        return COUNTS[sum(p.instrument == values[0] for p in playing)]
    if number == 22:
        pick = max if values[0] == "loudest" else min
        return pick(playing, key=lambda p: p.gain).position
    if number == 23:
        first = by_start[0] if values[0] == "first" else by_start[-1]
        return yes(first.position == values[1])
    if number in (26, 27):
        key = "rhythm" if number == 26 else "gain"
        return yes(getattr(at[values[0]], key) > getattr(at[values[1]], key))
    if number in (28, 29):
        key = "rhythm" if number == 28 else "gain"
        a, b = at[values[1]], at[values[3]]
        assert (a.instrument, b.instrument) == (values[0], values[2])
        return yes(getattr(a, key) > getattr(b, key))
    if number == 30:
        return (by_start[0] if values[0] == "first" else by_start[-1]).position
    if number == 33:
        return by_start[catalogue.SLOT_VALUES["TH"].index(values[0])].instrument
    return None


@pytest.mark.parametrize("seed", range(300))
def test_records_agree_with_the_scene(seed):
    scene = Scene.random(seed)
    for record in scene_records(scene, f"v{seed}", 0):
        spec = catalogue.TEMPLATES_BY_TEXT[record["question_content"]]
        values = json.loads(record["templ_values"])
        expected = oracle(scene, spec.number, values)
        if expected is not None:
            assert record["anser"] == expected, (spec.number, values, scene)


def test_records_have_the_dataset_format():
    records = [
        r for seed in range(50) for r in scene_records(Scene.random(seed), f"v{seed}", seed * 100)
    ]
    assert len({r["question_id"] for r in records}) == len(records)
    for record in records:
        assert set(record) == {
            "video_id",
            "question_id",
            "type",
            "question_content",
            "templ_values",
            "question_deleted",
            "anser",
        }
        spec = catalogue.TEMPLATES_BY_TEXT[record["question_content"]]
        assert json.loads(record["type"]) == [spec.modality, spec.question_type]
        values = json.loads(record["templ_values"])
        assert all(v in catalogue.SLOT_VALUES[s] for s, v in zip(spec.slots, values, strict=True))
        assert record["anser"] in spec.answers and record["question_deleted"] == 0


def test_scenes_cover_every_template_and_balance_yes_and_no():
    used, yes_no = set(), Counter()
    for seed in range(400):
        for record in scene_records(Scene.random(seed), "v", 0):
            used.add(record["question_content"])
            if record["anser"] in ("yes", "no"):
                yes_no[record["anser"]] += 1
    assert used == set(catalogue.TEMPLATES_BY_TEXT)
    assert 0.4 < yes_no["yes"] / sum(yes_no.values()) < 0.6


@pytest.mark.slow
def test_balanced_answers_leave_nothing_to_guess_from_the_question():
    """Most scenes have no off-screen instrument, so "Is this sound from the instrument in
    the video?" is "yes" four times in five; balanced, no answer of a template outnumbers its
    runner-up, so a question-only model is at chance on yes/no templates."""
    records = [
        r for seed in range(300) for r in scene_records(Scene.random(seed), f"v{seed}", seed * 100)
    ]
    kept = balance_answers(records)
    assert 0.6 * len(records) < len(kept) < len(records)
    assert kept == [r for r in records if r in kept], "the order is kept"
    by_template = {}
    for record in kept:
        by_template.setdefault(record["question_content"], Counter())[record["anser"]] += 1
    assert set(by_template) == set(catalogue.TEMPLATES_BY_TEXT)
    for template, answers in by_template.items():
        if len(answers) > 1:
            first, second = (n for _, n in answers.most_common(2))
            assert first == second, template
    visible = by_template["Is this sound from the instrument in the video?"]
    assert visible["yes"] == visible["no"]
    assert balance_answers(records) == kept, "the same records are kept every time"


def test_a_scene_is_determined_by_its_seed():
    assert Scene.random(7) == Scene.random(7)
    assert Scene.from_json(Scene.random(7).to_json()) == Scene.random(7)
    assert len({Scene.random(seed) for seed in range(20)}) == 20


def test_scenes_place_one_to_three_visible_players_and_maybe_one_heard_off_screen():
    for seed in range(200):
        scene = Scene.random(seed)
        visible = [p for p in scene.players if p.position]
        assert 1 <= len(visible) <= 3
        assert len({p.position for p in visible}) == len(visible)
        assert len(scene.players) - len(visible) <= 1
        assert any(p.sounds for p in scene.players)


def test_a_silent_player_adds_no_sound_and_a_player_sounds_only_on_schedule():
    scene = Scene.random(1)
    silent = Scene(1, 10.0, False, tuple(p for p in scene.players if not p.sounds) or ())
    assert not np.any(render_audio(silent))
    late = Scene(2, 20.0, False, (Player("cello", "left", 12.0, 20.0),))
    audio = render_audio(late)
    assert not np.any(audio[: 12 * 16000]) and np.any(audio[12 * 16000 :])


def test_a_rendered_scene_is_a_playable_clip(tmp_path):
    scene = Scene.random(3, duration_seconds=4.0)
    info = media.probe(render_scene(scene, tmp_path / "scene.mp4", fps=6))
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert abs(info.duration_seconds - 4.0) < 0.2
    first = next(render_frames(scene, fps=6))
    assert first.shape == (180, 320, 3) and first.dtype == np.uint8


def test_splits_are_by_video_and_deterministic():
    assert split_of("00000028") == split_of("00000028")
    counts = Counter(split_of(f"video{index}") for index in range(2000))
    assert 0.65 < counts["train"] / 2000 < 0.75 and 0.15 < counts["test"] / 2000 < 0.25


@pytest.mark.slow
def test_synthesize_writes_videos_records_and_ground_truth(tmp_path):
    counts = synthesize(tmp_path, videos=3, seed=5, duration_seconds=4.0, fps=4)
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == [
        "syn00500000.mp4",
        "syn00500001.mp4",
        "syn00500002.mp4",
    ]
    written = {s: json.loads((tmp_path / f"avqa-{s}.json").read_text()) for s in counts}
    assert {s: len(r) for s, r in written.items()} == counts
    by_video = {r["video_id"]: split for split, records in written.items() for r in records}
    assert all(split_of(video) == split for video, split in by_video.items())
    assert set(json.loads((tmp_path / "scenes.json").read_text())) == set(by_video)


@pytest.mark.slow
def test_rendering_in_several_processes_gives_the_same_set(tmp_path):
    serial = synthesize(tmp_path / "one", videos=4, seed=6, duration_seconds=3.0, fps=4)
    done = []
    parallel = synthesize(
        tmp_path / "two",
        videos=4,
        seed=6,
        duration_seconds=3.0,
        fps=4,
        workers=2,
        on_video=done.append,
    )
    assert parallel == serial and sorted(done) == [f"syn00600{i:03d}" for i in range(4)]
    for name in ("avqa-train.json", "avqa-val.json", "avqa-test.json", "scenes.json"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()
    for clip in (tmp_path / "two" / "videos").iterdir():
        assert media.probe(clip).duration_seconds == pytest.approx(3.0, abs=0.3)
