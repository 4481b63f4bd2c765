"""Vocabularies built from the real validation split, and batches of features."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from qa_model import data
from qa_model.data import FeatureStore, Vocabulary, make_batch
from qa_model.records import DataError, load_records, parse_records
from tests.qa_model.conftest import TINY, record, tiny_features

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


def test_a_batch_converts_only_the_features_its_model_reads(tiny_set):
    from qa_model.model import build_model, variant_config
    from qa_model.training import batch_inputs

    train, _, features = tiny_set
    store = FeatureStore(features)
    vocabulary = Vocabulary.build(train)
    present = {}
    for variant in ("question_only", "audio_q", "av_q", "avst"):
        model = build_model(variant_config(variant, vocab_size=len(vocabulary.words), **TINY))
        batch = make_batch(
            train[:4], vocabulary, store, random.Random(0), batch_inputs(model, training=True)
        )
        present[variant] = {
            name
            for name in ("audio", "visual", "pooled_visual", "negative_visual")
            if getattr(batch, name) is not None
        }
    assert present == {
        "question_only": set(),
        "audio_q": {"audio"},
        "av_q": {"audio", "pooled_visual"},
        "avst": {"audio", "visual", "negative_visual"},
    }
    only_pooled = data.Inputs(audio=False, visual=False, pooled_visual=True, negatives=False)
    pooled = make_batch(train[:1], vocabulary, store, random.Random(0), only_pooled)
    own = store[train[0].video_id]["visual"].astype("float32").mean(axis=(2, 3))
    assert torch.allclose(pooled.pooled_visual[0], torch.from_numpy(own), atol=1e-5)


@pytest.mark.parametrize("variant", ["av_q", "avst"])
def test_a_standardised_store_gives_the_answers_of_raw_features(tiny_set, variant):
    """Standardising once in the store, instead of in every forward pass, changes nothing
    but float16 rounding."""
    from qa_model.model import build_model, variant_config
    from qa_model.training import batch_inputs, forward

    train, _, features = tiny_set
    store = FeatureStore(features)
    vocabulary = Vocabulary.build(train)
    torch.manual_seed(0)
    model = build_model(variant_config(variant, vocab_size=len(vocabulary.words), **TINY)).eval()
    raw_moments = store.statistics(r.video_id for r in train)
    model.set_feature_statistics(*(torch.from_numpy(s) for s in raw_moments))
    inputs = batch_inputs(model, training=False)
    raw = make_batch(train[:8], vocabulary, store, random.Random(1), inputs)
    store.standardise(model.feature_statistics())
    standardised = make_batch(train[:8], vocabulary, store, random.Random(1), inputs)
    assert not raw.standardised and standardised.standardised
    with torch.no_grad():
        expected = forward(model, raw, negatives=False).logits
        got = forward(model, standardised, negatives=False).logits
    assert torch.allclose(expected, got, atol=2e-2)
    # The statistics are still those of the raw features, and asking again is free.
    assert all(
        (a == b).all()
        for a, b in zip(store.statistics(r.video_id for r in train), raw_moments, strict=True)
    )
    store.standardise(model.feature_statistics())
    store.standardise(None)
    assert not make_batch(train[:8], vocabulary, store, random.Random(1), inputs).standardised
