"""The catalogue against the paper's counts and the real MUSIC-AVQA validation split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qa_model import catalogue

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "avqa-val.json"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return json.loads(FIXTURE.read_text())


def test_it_has_33_templates_numbered_1_to_33():
    assert [spec.number for spec in catalogue.TEMPLATES] == list(range(1, 34))
    assert len(catalogue.TEMPLATES_BY_TEXT) == 33


def test_it_has_the_42_answers_and_22_instruments():
    assert len(catalogue.ANSWERS) == len(set(catalogue.ANSWERS)) == 42
    assert len(catalogue.INSTRUMENTS) == 22


def test_every_answer_kind_draws_from_the_vocabulary():
    for answers in catalogue.ANSWER_KINDS.values():
        assert set(answers) <= set(catalogue.ANSWERS)
    used = {spec.answer_kind for spec in catalogue.TEMPLATES}
    assert used == set(catalogue.ANSWER_KINDS)


def test_types_per_modality_follow_the_paper():
    pairs = Counter((spec.modality, spec.question_type) for spec in catalogue.TEMPLATES)
    assert set(pairs) == set(catalogue.TABLE2_TYPES)


def test_every_slot_has_a_kind():
    for spec in catalogue.TEMPLATES:
        assert all(slot in catalogue.SLOT_VALUES for slot in spec.slots), spec.text


def test_fill_replaces_slots_left_to_right():
    text = "Is the <Object> on the <LR> louder than the <Object> on the <LR>?"
    filled = catalogue.template_fill(text, ["cello", "left", "violin", "right"])
    assert filled == "Is the cello on the left louder than the violin on the right?"


def test_the_real_validation_split_fits_the_catalogue(records):
    assert len(records) == 4568
    used = set()
    for record in records:
        spec = catalogue.TEMPLATES_BY_TEXT.get(record["question_content"])
        assert spec is not None, record
        used.add(spec.number)
        assert json.loads(record["type"]) == [spec.modality, spec.question_type], record
        values = json.loads(record["templ_values"])
        assert len(values) == len(spec.slots), record
        for slot, value in zip(spec.slots, values, strict=True):
            assert value in catalogue.SLOT_VALUES[slot], record
        assert record["anser"] in spec.answers, record
    assert used == set(range(1, 34)), "every template occurs in the real split"


def test_the_reference_distribution_is_that_of_the_real_validation_split():
    import collections
    import json
    from pathlib import Path

    from qa_model.catalogue import REFERENCE_TEMPLATE_COUNTS, TEMPLATES_BY_TEXT

    records = json.loads((Path(__file__).parents[1] / "fixtures" / "avqa-val.json").read_text())
    counts = collections.Counter(TEMPLATES_BY_TEXT[r["question_content"]].number for r in records)
    assert dict(counts) == REFERENCE_TEMPLATE_COUNTS
