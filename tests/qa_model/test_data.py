"""Vocabularies built from the real validation split, and batches of features."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from qa_model import data
from qa_model.data import FeatureStore, Vocabulary, make_batch
from qa_model.records import DataError, load_records, parse_records
from tests.qa_model.conftest import record, tiny_features

REAL_VAL = Path(__file__).resolve().parent.parent / "fixtures" / "avqa-val.json"


@pytest.fixture(scope="module")
def real_records():
    return load_records(REAL_VAL)


def test_the_vocabulary_is_case_sensitive_and_built_in_order_of_appearance(real_records):
    vocabulary = Vocabulary.build(real_records)
    assert vocabulary.words[:2] == ("<pad>", "<unk>")
    assert vocabulary.words[2:5] == tuple(real_records[0].tokens()[:3])
    assert "Is" in vocabulary.words and "is" in vocabulary.words
    # The reference reports 93 words on the full training split; the val split uses most.
    assert 80 <= len(vocabulary.words) - 2 <= 93


def test_unknown_words_map_to_the_unknown_token(real_records):
    vocabulary = Vocabulary.build(real_records)
    assert vocabulary.encode(["Is", "kazoo"]) == [vocabulary.words.index("Is"), 1]


def test_answers_are_the_fixed_42_word_vocabulary(real_records):
    vocabulary = Vocabulary.build(real_records[:5])
    assert len(vocabulary.answers) == 42
    assert vocabulary.answer_index("more than ten") == vocabulary.answers.index("more than ten")


def test_questions_are_padded_to_the_longest():
    questions, lengths = data.pad_questions([[5, 6, 7], [8]])
    assert questions.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert lengths.tolist() == [3, 1]


def test_records_without_features_are_refused_up_front(tmp_path, tiny_set):
    train, _, features = tiny_set
    missing = parse_records(
        [record("ghost", 1, "Where is the performance?", [], "indoor", "Visual", "Location")]
    )
    with pytest.raises(DataError, match=r"1 video\(s\) have no features .* ghost"):
        FeatureStore(features).check(train + missing)


def test_non_matched_visuals_come_from_another_video_of_the_batch(tiny_set):
    train, _, features = tiny_set
    store = FeatureStore(features)
    batch = make_batch(train[:8], Vocabulary.build(train), store, random.Random(0))
    for row, item in enumerate(batch.records):
        own = store[item.video_id]["visual"]
        assert not (batch.negative_visual[row].numpy() == own.astype("float32")).all()


def test_a_single_video_batch_takes_its_negatives_from_memory_not_disk(tiny_set, monkeypatch):
    train, _, features = tiny_set
    store = FeatureStore(features)
    store.preload({r.video_id for r in train})
    reads = []
    monkeypatch.setattr(data, "load_features", lambda path: reads.append(path))
    single = [r for r in train if r.video_id == train[0].video_id]
    batch = make_batch(single, Vocabulary.build(train), store, random.Random(0))
    assert reads == []
    own = store[single[0].video_id]["visual"].astype("float32")
    assert not (batch.negative_visual[0].numpy() == own).all()


def test_feature_files_are_read_once(tmp_path, monkeypatch):
    tiny_features(tmp_path, ["a"])
    store = FeatureStore(tmp_path)
    calls = []
    real = data.load_features
    monkeypatch.setattr(data, "load_features", lambda path: calls.append(path) or real(path))
    store["a"], store["a"]
    assert len(calls) == 1


def batch_before_and_after_holding(tiny_set, device: str, held: bool):
    """A batch made before and after `hold_on(device)`, which must answer `held`."""
    train, _, features = tiny_set
    store = FeatureStore(features)
    store.preload({r.video_id for r in train})
    vocabulary = Vocabulary.build(train)
    before = make_batch(train[:8], vocabulary, store, random.Random(3))
    assert store.hold_on(torch.device(device)) is held
    return before, make_batch(train[:8], vocabulary, store, random.Random(3)), store, train


def test_features_stay_on_the_cpu_without_cuda_and_batches_are_unchanged(tiny_set):
    before, after, store, train = batch_before_and_after_holding(tiny_set, "cpu", held=False)
    assert store.gather([train[0].video_id], [train[1].video_id]) is None
    assert torch.equal(before.visual, after.visual)
    assert torch.equal(before.negative_visual, after.negative_visual)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_features_held_on_the_gpu_give_the_same_batches(tiny_set):
    on_cpu, held, _, _ = batch_before_and_after_holding(tiny_set, "cuda", held=True)
    assert held.visual.is_cuda and held.visual.dtype == torch.float32
    for name in ("audio", "visual", "negative_visual"):
        assert torch.equal(getattr(held, name).cpu(), getattr(on_cpu, name))
