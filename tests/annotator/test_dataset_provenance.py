"""Records keep what the release says: its split (which the export keeps), its answers when they
conflict (reported, kept, replaced or sent to reviewers), the records that break collection
rules (imported and flagged), and a command that says when it could not import everything."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest
from django.core.management import CommandError, call_command

from annotator import dataset_import as importing
from annotator.audit import rules_audit
from annotator.export import COLLECTED, dataset_export, split_of
from annotator.models import Question, QuestionStatus, StatusChange
from tests.annotator.helpers import ask, video_make, vote

pytestmark = pytest.mark.django_db


def record(question_id: int, video_id: str, answer: str = "yes", template: int = 0) -> dict:
    """A MUSIC-AVQA record; `template` picks one of a few templates so a video can hold many."""
    kinds = [
        ('["Audio", "Counting"]', "Is there a <Object> sound?", '["cello"]', ("yes", "no")),
        (
            '["Audio", "Counting"]',
            "How many musical instruments were heard throughout the video?",
            "[]",
            ("two", "three"),
        ),
        (
            '["Visual", "Counting"]',
            "Is there a <Object> in the entire video?",
            '["piano"]',
            ("yes", "no"),
        ),
        (
            '["Visual", "Counting"]',
            "How many types of musical instruments appeared in the entire video?",
            "[]",
            ("two", "three"),
        ),
    ]
    kind, content, values, answers = kinds[template]
    if answer in ("yes", "no") and answers[0] != "yes":
        answer = answers[0] if answer == "yes" else answers[1]
    return {
        "video_id": video_id,
        "question_id": question_id,
        "type": kind,
        "question_content": content,
        "templ_values": values,
        "question_deleted": 0,
        "anser": answer,
    }


def video_in_split(split: str, start: int = 0) -> str:
    """A video id whose split by id is `split`."""
    return next(f"p{n:07d}" for n in range(start, 10_000) if split_of(f"p{n:07d}") == split)


def test_the_split_comes_from_the_file_name():
    from pathlib import Path

    assert importing.split_from_name(Path("avqa-train.json")) == "train"
    assert importing.split_from_name(Path("music_avqa_test.json")) == "test"
    assert importing.split_from_name(Path("avqa-val.json")) == "val"
    assert importing.split_from_name(Path("valid_records.json")) == "val"
    assert importing.split_from_name(Path("records.json")) == ""


def test_the_export_keeps_the_published_split(
    catalogue, annotator, other_annotator, third_annotator
):
    # A video that a split by id would put in training, published in the test split.
    video_id = video_in_split("train")
    video = video_make(avqa_id=video_id)
    report = importing.dataset_import([record(900001, video_id)], split="test")
    assert report.imported == 1
    question = Question.objects.get(pk=900001)
    assert (question.origin_release, question.origin_split) == ("MUSIC-AVQA", "test")
    # A question collected here on that video follows the video's published split.
    collected = ask(annotator, video, template_id=2)
    answer = collected.template.answers[1]
    vote(other_annotator, collected, answer)
    vote(third_annotator, collected, answer)
    dataset = dataset_export()
    assert [r.question_id for r in dataset.splits["test"]] == [collected.pk, 900001] or [
        r.question_id for r in dataset.splits["test"]
    ] == [900001, collected.pk]
    assert not dataset.splits["train"]
    assert dataset.provenance() == {COLLECTED: {"test": 1}, "MUSIC-AVQA test": {"test": 1}}
    files = dataset.files()
    assert json.loads(files["provenance.json"]) == {
        COLLECTED: [collected.pk],
        "MUSIC-AVQA test": [900001],
    }


def test_records_that_break_collection_rules_are_imported_and_flagged(catalogue):
    video_make(avqa_id="r0000001")
    # Six questions on one video (Q3 allows five), one template twice (Q2).
    records = [record(800000 + n, "r0000001", template=n % 4) for n in range(6)]
    report = importing.dataset_import(records, split="train")
    assert report.imported == 6 and report.refused_count == 0
    assert report.exempted == {"Q2": [800004, 800005], "Q3": [800005]}
    assert Question.objects.get(pk=800005).origin_exemptions == "Q2 Q3"
    assert any("breaks Q2" in line for line in report.lines())
    # The audit does not count what the release published as a violation.
    assert rules_audit().violations == 0


def test_a_conflicting_duplicate_goes_to_the_reviewers_by_default(catalogue):
    video_make(avqa_id="d0000001")
    report = importing.dataset_import(
        [record(700001, "d0000001", "yes"), record(700001, "d0000001", "no")]
    )
    question = Question.objects.get(pk=700001)
    assert question.status == QuestionStatus.DISPUTED and question.accepted_answer is None
    assert report.conflicts == ["record 700001: answers 'yes' and 'no'; sent to review (disputed)"]
    change = StatusChange.objects.filter(question=question).last()
    assert "'yes' and 'no'" in change.note and change.to_status == QuestionStatus.DISPUTED


@pytest.mark.parametrize(("choice", "kept"), [("keep", "yes"), ("replace", "no")])
def test_a_conflict_can_keep_the_first_answer_or_take_the_second(catalogue, choice, kept):
    video_make(avqa_id="d0000002")
    report = importing.dataset_import(
        [record(700002, "d0000002", "yes"), record(700002, "d0000002", "no")], on_conflict=choice
    )
    question = Question.objects.get(pk=700002)
    assert question.status == QuestionStatus.ACCEPTED and question.accepted_answer.text == kept
    assert "answers 'yes' and 'no'" in report.conflicts[0]


def test_the_same_record_twice_is_counted_once(catalogue):
    video_make(avqa_id="d0000003")
    report = importing.dataset_import([record(700003, "d0000003")] * 2)
    assert (report.imported, report.repeated, report.conflicts) == (1, 1, [])


def test_a_newer_release_updates_changed_answers(catalogue):
    video_make(avqa_id="u0000001")
    first = [record(600001, "u0000001", "yes"), record(600002, "u0000001", "two", template=1)]
    importing.dataset_import(first, split="train")
    newer = [record(600001, "u0000001", "no"), record(600002, "u0000001", "two", template=1)]
    # Without --update a changed answer is a conflict (reviewers decide by default) ...
    report = importing.dataset_import(newer, split="train", on_conflict="keep")
    assert report.conflicts and Question.objects.get(pk=600001).accepted_answer.text == "yes"
    # ... with it, the release's answer is taken and reported.
    report = importing.dataset_import(newer[:1], split="train", update=True)
    assert report.updated == 1 and Question.objects.get(pk=600001).accepted_answer.text == "no"
    assert report.missing_from_release == 1  # 600002 is not in this file
    assert any("not in this file: 1" in line for line in report.lines())


def test_the_command_exits_non_zero_with_a_hint_when_videos_are_missing(catalogue, tmp_path):
    path = tmp_path / "avqa-test.json"
    path.write_text(json.dumps([record(500001, "m0000001"), record(500002, "m0000002")]))
    out = io.StringIO()
    with pytest.raises(CommandError, match="0 imported, 0 already present, 2 refused"):
        call_command("import_avqa", str(path), stdout=out)
    text = out.getvalue()
    assert "no such video: 2" in text and "give --videos DIR" in text


def test_the_command_reads_the_split_from_the_name_and_exports_it(catalogue, tmp_path):
    video_id = video_in_split("train")
    video_make(avqa_id=video_id)
    path = tmp_path / "avqa-val.json"
    path.write_text(json.dumps([record(500003, video_id)]))
    call_command("import_avqa", str(path), stdout=io.StringIO())
    assert Question.objects.get(pk=500003).origin_split == "val"
    out_dir = tmp_path / "export"
    out = io.StringIO()
    call_command("export_avqa", str(out_dir), stdout=out)
    assert [r["question_id"] for r in json.loads((out_dir / "avqa-val.json").read_text())] == [
        500003
    ]
    assert "from MUSIC-AVQA val: val 1" in out.getvalue()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["provenance"] == {"MUSIC-AVQA val": {"val": 1}}


def test_exported_files_have_the_mode_of_the_umask(catalogue, tmp_path):
    old = os.umask(0o022)
    try:
        dataset_export().write(tmp_path / "out")
    finally:
        os.umask(old)
    for path in (tmp_path / "out").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name


def test_the_raw_votes_file_names_annotators_by_pseudonym(
    catalogue, annotator, other_annotator, third_annotator, tmp_path
):
    video = video_make()
    question = ask(annotator, video, template_id=2)
    answer = question.template.answers[1]
    vote(other_annotator, question, answer)
    vote(third_annotator, question, answer)
    dataset_export().write(tmp_path, votes=True)
    votes = json.loads((tmp_path / "votes.json").read_text())
    assert [v["question_id"] for v in votes] == [question.pk, question.pk]
    assert all(v["counted"] and v["answer"] == answer and v["at"] for v in votes)
    names = {v["annotator"] for v in votes}
    assert len(names) == 2 and all(name.startswith("annotator-") for name in names)
    assert other_annotator.username not in (tmp_path / "votes.json").read_text()
