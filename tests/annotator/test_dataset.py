"""Dataset export and import: the MUSIC-AVQA record format read back by an independent reader,
a deterministic split by video, a byte-identical round trip, and imports that report every
record they refuse and leave nothing behind when interrupted."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator import counts
from annotator import dataset_import as importing
from annotator.export import split_of
from annotator.models import Question, QuestionStatus, StatusChange, Video
from tests.annotator.helpers import ask, video_make, vote

pytestmark = pytest.mark.django_db
RECORD_KEYS = {
    "video_id",
    "question_id",
    "type",
    "question_content",
    "templ_values",
    "question_deleted",
    "anser",
}
FIXTURE = "tests/fixtures/avqa-val.json"


def read_musicavqa(path) -> list[dict]:
    """A reader written from docs/dataset-format.md alone: a JSON list of seven-key records
    whose `type` and `templ_values` are strings holding JSON lists, placeholders filled left to
    right."""
    records = json.loads(path.read_text())
    assert isinstance(records, list)
    parsed = []
    for record in records:
        assert set(record) == RECORD_KEYS
        assert isinstance(record["video_id"], str) and isinstance(record["question_id"], int)
        kind = json.loads(record["type"])
        values = json.loads(record["templ_values"])
        assert isinstance(kind, list) and len(kind) == 2 and isinstance(values, list)
        assert record["question_deleted"] == 0 and isinstance(record["anser"], str)
        text = record["question_content"]
        for value in values:
            start = text.index("<")
            text = text[:start] + value + text[text.index(">", start) + 1 :]
        assert "<" not in text
        parsed.append({**record, "type": kind, "templ_values": values, "text": text})
    return parsed


@pytest.fixture
def accepted(annotator, other_annotator, third_annotator):
    """Accepted questions on three videos, plus an open one that must not be exported."""
    questions = []
    for video_id in ("a0000001", "b0000002", "c0000003"):
        video = video_make(avqa_id=video_id)
        for template_id, values in ((29, ["cello", "left", "violin", "right"]), (2, [])):
            question = ask(annotator, video, template_id=template_id, slot_values=values)
            answer = question.template.answers[1]
            vote(other_annotator, question, answer)
            vote(third_annotator, question, answer)
            questions.append(question)
    ask(annotator, video, template_id=1, slot_values=["piano"])
    return questions


@pytest.mark.slow
def test_the_export_reads_back_with_an_independent_reader(accepted, tmp_path):
    call_command("export_avqa", str(tmp_path), stdout=io.StringIO())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    seen = {}
    for split in ("train", "val", "test"):
        records = read_musicavqa(tmp_path / f"avqa-{split}.json")
        assert manifest["counts"][split]["pairs"] == len(records)
        assert [r["question_id"] for r in records] == sorted(r["question_id"] for r in records)
        for record in records:
            assert split_of(record["video_id"]) == split  # all of a video in one split
            seen[record["question_id"]] = record
    assert set(seen) == {q.pk for q in accepted}
    question = accepted[0]
    record = seen[question.pk]
    assert record["type"] == ["Audio-Visual", "Comparative"]
    assert record["text"].rstrip() == question.text.rstrip()
    assert record["templ_values"] == ["cello", "left", "violin", "right"]
    assert record["anser"] == Question.objects.get(pk=question.pk).accepted_answer.text
    assert sum(c["pairs"] for c in manifest["counts"].values()) == 6
    assert len(manifest["hash"]) == 64 and manifest["exported_at"]
    assert manifest["split_ratios"] == {"train": 0.7, "val": 0.1, "test": 0.2}


def test_the_split_follows_the_ratio_setting(settings):
    ids = [f"v{n:06d}" for n in range(3000)]
    shares = {
        split: sum(split_of(i) == split for i in ids) / len(ids)
        for split in ("train", "val", "test")
    }
    assert shares["train"] == pytest.approx(0.7, abs=0.03)
    assert shares["test"] == pytest.approx(0.2, abs=0.03)
    settings.SPLIT_RATIOS = (0.0, 0.0, 1.0)
    assert {split_of(i) for i in ids[:50]} == {"test"}


@pytest.mark.slow
def test_export_import_export_is_byte_identical(accepted, tmp_path, django_db_blocker):
    first, second = tmp_path / "first", tmp_path / "second"
    call_command("export_avqa", str(first), stdout=io.StringIO())
    records = [
        r
        for s in ("train", "val", "test")
        for r in json.loads((first / f"avqa-{s}.json").read_text())
    ]
    # A fresh collection holding only the videos.
    Question.objects.all().delete()
    report = importing.dataset_import(records)
    assert (report.imported, report.refused_count) == (6, 0)
    call_command("export_avqa", str(second), stdout=io.StringIO())
    for split in ("train", "val", "test"):
        name = f"avqa-{split}.json"
        assert (second / name).read_bytes() == (first / name).read_bytes()
    hashes = [json.loads((d / "manifest.json").read_text())["hash"] for d in (first, second)]
    assert hashes[0] == hashes[1]


@pytest.mark.slow
def test_the_real_validation_records_import_with_their_videos(make_annotator):
    records = json.loads(Path(FIXTURE).read_text())[:200]
    for video_id in {r["video_id"] for r in records}:
        video_make(avqa_id=video_id)
    report = importing.dataset_import(records)
    assert report.imported == 200 and report.refused_count == 0
    question = Question.objects.get(pk=records[0]["question_id"])
    assert question.status == QuestionStatus.ACCEPTED
    assert question.accepted_answer.text == records[0]["anser"]
    assert StatusChange.objects.filter(question=question, cause="import").exists()
    assert question.video.live_questions == question.video.questions.count()
    assert counts.drift() == []
    # Importing again changes nothing.
    again = importing.dataset_import(records)
    assert (again.imported, again.already_present) == (0, 200)
    # Questions asked afterwards get ids past the imported ones (the sequence moved on).
    fresh = ask(make_annotator("alice"), video_make(), template_id=1)
    assert fresh.pk > max(r["question_id"] for r in records)


def test_records_that_do_not_fit_are_reported_not_dropped(catalogue):
    video_make(avqa_id="00000001")
    good = {
        "video_id": "00000001",
        "question_id": 10,
        "type": '["Audio", "Counting"]',
        "question_content": "Is there a <Object> sound?",
        "templ_values": '["cello"]',
        "question_deleted": 0,
        "anser": "yes",
    }
    bad = [
        {**good, "question_id": 11, "question_content": "Is it loud?"},
        {**good, "question_id": 12, "templ_values": '["kazoo"]'},
        {**good, "question_id": 13, "anser": "seven"},
        {**good, "question_id": 14, "video_id": "99999999"},
        {**good, "question_id": 15, "type": "not json"},
        {**good, "question_id": 16, "question_deleted": 1},
    ]
    report = importing.dataset_import([good, *bad])
    assert report.imported == 1 and report.refused_count == len(bad)
    assert set(report.refused) == {
        "template not in the catalogue",
        "slot values or answer outside the catalogue",
        "no such video",
        "malformed record",
        "deleted in the source",
    }
    assert Question.objects.count() == 1


def test_the_command_reports_and_refuses_bad_files(catalogue, tmp_path):
    out = io.StringIO()
    path = tmp_path / "records.json"
    path.write_text(json.dumps([{"video_id": "x"}]))
    with pytest.raises(CommandError, match="0 imported, 0 already present, 1 refused"):
        call_command("import_avqa", str(path), stdout=out)
    assert "refused: 1" in out.getvalue() and "malformed record: 1" in out.getvalue()
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(CommandError, match="not a JSON file"):
        call_command("import_avqa", str(tmp_path / "broken.json"))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_avqa", str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="not a folder"):
        call_command("import_avqa", str(path), "--videos", str(tmp_path / "nope"))


def test_videos_come_from_the_folder_and_an_interrupted_import_leaves_nothing(
    catalogue, tmp_path, settings, monkeypatch
):
    from qa_model.synthetic import Scene, render_scene

    folder = tmp_path / "videos"
    render_scene(Scene.random(1, duration_seconds=3.0), folder / "00000042.mp4", fps=4)
    record = {
        "video_id": "00000042",
        "question_id": 42,
        "type": '["Audio", "Counting"]',
        "question_content": "Is there a <Object> sound?",
        "templ_values": '["cello"]',
        "question_deleted": 0,
        "anser": "yes",
    }
    second = {
        **record,
        "question_id": 43,
        "question_content": "How many musical instruments were heard throughout the video?",
        "templ_values": "[]",
        "anser": "two",
    }

    calls = {"n": 0}
    real = importing._import_one

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(importing, "_import_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        importing.dataset_import([record, second], videos_dir=folder)
    assert not Video.objects.exists() and not Question.objects.exists()
    assert not list((settings.MEDIA_ROOT / "videos").glob("*"))

    monkeypatch.setattr(importing, "_import_one", real)
    report = importing.dataset_import([record, second], videos_dir=folder)
    assert report.videos_added == ["00000042"] and report.imported == 2


@pytest.mark.slow
def test_the_admin_exports_a_zip(accepted, client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="a-long-test-password")
    client.force_login(admin)
    page = client.get(reverse("admin:annotator_question_changelist"))
    assert b"Export dataset" in page.content
    response = client.get(reverse("admin:annotator_question_export"))
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [
        "avqa-test.json",
        "avqa-train.json",
        "avqa-val.json",
        "manifest.json",
        "provenance.json",
    ]
    total = sum(len(json.loads(archive.read(f"avqa-{s}.json"))) for s in ("train", "val", "test"))
    assert total == 6


@pytest.mark.parametrize(
    "video_id",
    ["../outside", "/abs/outside", "..\\outside", "out\x00side", "..%2Foutside", "outside\n", ""],
)
def test_a_video_id_cannot_reach_a_file_outside_the_videos_folder(
    catalogue, tmp_path, settings, video_id
):
    from qa_model.synthetic import Scene, render_scene

    folder = tmp_path / "videos"
    folder.mkdir()
    outside = render_scene(Scene.random(1, duration_seconds=3.0), tmp_path / "outside.mp4", fps=4)
    record = {
        "video_id": video_id,
        "question_id": 42,
        "type": '["Audio", "Counting"]',
        "question_content": "Is there a <Object> sound?",
        "templ_values": '["cello"]',
        "question_deleted": 0,
        "anser": "yes",
    }
    report = importing.dataset_import([record], videos_dir=folder)
    assert report.refused == {"video id is not a slug": [f"record 42: {video_id!r}"]}
    assert not Video.objects.exists() and not Question.objects.exists()
    assert outside.exists() and not (settings.MEDIA_ROOT / "videos").exists()
