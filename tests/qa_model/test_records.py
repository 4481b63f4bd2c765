"""Records against the real validation split: the tokenizer, the dataset format, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_model.records import DataError, load_records, parse_records, question_tokens
from tests.qa_model.conftest import record

REAL_VAL = Path(__file__).resolve().parent.parent / "fixtures" / "avqa-val.json"


@pytest.fixture(scope="module")
def real_records():
    return load_records(REAL_VAL)


def test_the_tokenizer_substitutes_slots_and_drops_the_question_mark():
    tokens = question_tokens(
        "Is the <Object> on the <LR> louder than the <Object> on the <LR>?",
        ["acoustic_guitar", "left", "cello", "right"],
    )
    assert tokens == [
        "Is",
        "the",
        "acoustic_guitar",
        "on",
        "the",
        "left",
        "louder",
        "than",
        "the",
        "cello",
        "on",
        "the",
        "right",
    ]
    assert question_tokens("How many sounding <Object> in the video？", ["piano"])[-1] == "video"
    assert question_tokens("Are there <Object> and <Object> sound? ", ["a", "b"])[-1] == "sound"


def test_every_real_validation_question_tokenizes_cleanly(real_records):
    for item in real_records:
        tokens = item.tokens()
        assert tokens and len(tokens) <= 16
        assert not any(t.startswith("<") or t.endswith(("?", "？")) or t == "" for t in tokens)
        assert set(item.slot_values) <= set(tokens)


def test_records_round_trip_to_the_dataset_format():
    raw = json.loads(REAL_VAL.read_text())[:50]
    assert [r.to_json() for r in parse_records(raw)] == raw


def test_records_with_unknown_answers_are_refused_with_their_count():
    raw = [
        record("v1", 1, "Is there a <Object> sound?", ["cello"], "maybe", "Audio", "Counting"),
        record("v1", 2, "Is there a <Object> sound?", ["cello"], "perhaps", "Audio", "Counting"),
        record("v1", 3, "Is there a <Object> sound?", ["cello"], "yes", "Audio", "Counting"),
    ]
    with pytest.raises(DataError, match=r"2 record\(s\) have an answer outside the 42-word"):
        parse_records(raw)


def test_records_with_unknown_templates_are_refused_with_their_count():
    raw = [record("v1", 1, "Is it loud?", [], "yes", "Audio", "Counting")]
    with pytest.raises(DataError, match=r"1 record\(s\) use a template outside the catalogue"):
        parse_records(raw)


def test_malformed_records_and_files_are_refused(tmp_path):
    with pytest.raises(DataError, match="malformed record"):
        parse_records([{"video_id": "v1"}])
    with pytest.raises(DataError, match="no such file"):
        load_records(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not JSON"):
        load_records(tmp_path / "bad.json")
