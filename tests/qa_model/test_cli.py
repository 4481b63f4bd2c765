"""`python -m qa_model`: the whole path from synthetic clips to predictions, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.processes import ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa_model", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Six 30-s synthetic clips with records and features, made through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    made = run(
        "synth", str(root / "set"), "--videos", "6", "--seed", "3", "--seconds", "30", "--fps", "4"
    )
    assert made.returncode == 0, made.stderr
    extracted = run("extract", str(root / "set" / "videos"), "--out", str(root / "features"))
    assert extracted.returncode == 0, extracted.stderr
    assert "6 of 6 videos have features" in extracted.stdout
    return root


@pytest.mark.slow
def test_train_evaluate_and_predict_end_to_end(workspace, tmp_path):
    records = workspace / "set" / "avqa-train.json"
    trained = run(
        "train",
        "--train",
        str(records),
        "--val",
        str(records),
        "--features",
        str(workspace / "features"),
        "--out",
        str(tmp_path / "model.pt"),
        "--epochs",
        "1",
        "--grounding-epochs",
        "1",
        "--batch-size",
        "16",
    )
    assert trained.returncode == 0, trained.stderr
    assert "saved" in trained.stdout and (tmp_path / "model.pt").exists()

    evaluated = run(
        "evaluate",
        "--checkpoint",
        str(tmp_path / "model.pt"),
        "--records",
        str(records),
        "--features",
        str(workspace / "features"),
        "--json",
        str(tmp_path / "table.json"),
    )
    assert evaluated.returncode == 0, evaluated.stderr
    header = evaluated.stdout.splitlines()[0].split()
    assert header[1:] == [
        "A-Count",
        "A-Comp",
        "A",
        "avg",
        "V-Count",
        "V-Loc",
        "V",
        "avg",
        "AV-Ext",
        "AV-Loc",
        "AV-Count",
        "AV-Comp",
        "AV-Temp",
        "AV",
        "avg",
        "All",
    ]
    assert "All" in json.loads((tmp_path / "table.json").read_text())["columns"]

    predicted = run(
        "predict",
        "--checkpoint",
        str(tmp_path / "model.pt"),
        "--records",
        str(records),
        "--features",
        str(workspace / "features"),
        "--out",
        str(tmp_path / "predictions.json"),
    )
    assert predicted.returncode == 0, predicted.stderr
    predictions = json.loads((tmp_path / "predictions.json").read_text())
    assert len(predictions) == len(json.loads(records.read_text()))
    assert {
        "answer",
        "confidence",
        "top3",
        "audio_weights",
        "visual_weights",
        "spatial_maps",
    } <= set(predictions[0])


@pytest.mark.slow
def test_a_missing_file_is_a_clear_error(tmp_path):
    result = run("extract", str(tmp_path / "nowhere.mp4"), "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nowhere.mp4'}: no such file or folder"


@pytest.mark.slow
def test_a_corrupt_video_is_named_and_skipped(tmp_path):
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video at all")
    result = run("extract", str(tmp_path / "corrupt.mp4"), "--out", str(tmp_path / "features"))
    assert result.returncode == 1
    assert "corrupt.mp4: not a readable video" in result.stdout + result.stderr
    assert not any((tmp_path / "features").iterdir())


@pytest.mark.slow
def test_a_record_whose_video_has_no_features_is_refused(workspace, tmp_path):
    records = json.loads((workspace / "set" / "avqa-train.json").read_text())
    records[0]["video_id"] = "never-extracted"
    (tmp_path / "records.json").write_text(json.dumps(records))
    result = run(
        "train",
        "--train",
        str(tmp_path / "records.json"),
        "--features",
        str(workspace / "features"),
        "--out",
        str(tmp_path / "model.pt"),
    )
    assert result.returncode == 2
    assert "1 video(s) have no features" in result.stderr and "never-extracted" in result.stderr
    assert not (tmp_path / "model.pt").exists()


@pytest.mark.slow
def test_an_unknown_template_is_refused(workspace, tmp_path):
    records = json.loads((workspace / "set" / "avqa-train.json").read_text())
    records[0]["question_content"] = "Is this a trick question?"
    (tmp_path / "records.json").write_text(json.dumps(records))
    result = run(
        "evaluate",
        "--checkpoint",
        str(tmp_path / "model.pt"),
        "--records",
        str(tmp_path / "records.json"),
        "--features",
        str(workspace / "features"),
    )
    assert result.returncode == 2
    assert "no such checkpoint" in result.stderr
    result = run(
        "train",
        "--train",
        str(tmp_path / "records.json"),
        "--features",
        str(workspace / "features"),
        "--out",
        str(tmp_path / "model.pt"),
    )
    assert result.returncode == 2
    assert "1 record(s) use a template outside the catalogue" in result.stderr


@pytest.mark.slow
def test_any_file_name_is_extracted_and_one_bad_file_does_not_stop_the_rest(tmp_path):
    from qa_model.synthetic import Scene, render_scene

    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("Cello duet (take 2).mp4", "Violoncelle été.mp4"):
        render_scene(Scene.random(3, duration_seconds=3.0), folder / name, fps=4)
    (folder / "broken file.mp4").write_bytes(b"not a video at all")
    result = run("extract", str(folder), "--out", str(tmp_path / "features"))
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "broken file.mp4: not a readable video" in output
    assert "2 of 3 videos have features" in output
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == [
        "Cello-duet-take-2.npz",
        "Violoncelle-ete.npz",
    ]
    assert "Violoncelle été.mp4: features saved as Violoncelle-ete.npz" in output
