"""Training in two stages, best-validation checkpoints that load alone, Table 2 and predictions."""

from __future__ import annotations

import pytest
import torch

from qa_model.data import FeatureStore, batches
from qa_model.evaluation import evaluate, format_table2, predict, table2_of
from qa_model.records import DataError
from qa_model.training import (
    TrainConfig,
    batch_inputs,
    forward,
    load_checkpoint,
    save_checkpoint,
    train,
)
from tests.qa_model.conftest import TINY

FAST = TrainConfig(epochs=3, grounding_epochs=2, batch_size=8, learning_rate=1e-3, seed=3)


def test_avst_trains_in_two_stages_and_reports_progress(tiny_set):
    train_records, val_records, features = tiny_set
    seen = []
    result = train(
        train_records,
        val_records,
        FeatureStore(features),
        variant="avst",
        config=FAST,
        model_overrides=TINY,
        on_progress=seen.append,
    )
    assert [(p.stage, p.epoch) for p in seen] == [
        ("grounding", 1),
        ("grounding", 2),
        ("qa", 1),
        ("qa", 2),
        ("qa", 3),
    ]
    assert all(p.val_accuracy is None for p in seen[:2])
    assert all(0 <= p.val_accuracy <= 1 for p in seen[2:])
    best = max(p.val_accuracy for p in seen[2:])
    assert result.best_val_accuracy == best
    assert seen[1 + result.best_epoch].val_accuracy == best


def test_the_kept_weights_are_those_of_the_best_validation_epoch(tiny_set):
    train_records, val_records, features = tiny_set
    store = FeatureStore(features)
    result = train(
        train_records, val_records, store, variant="av_q", config=FAST, model_overrides=TINY
    )
    from qa_model.training import accuracy_of

    assert (
        accuracy_of(result.model, result.vocabulary, val_records, store) == result.best_val_accuracy
    )


def test_without_validation_records_the_last_epoch_is_kept(tiny_set):
    from dataclasses import replace

    train_records, _, features = tiny_set
    store = FeatureStore(features)
    runs = {
        epochs: train(
            train_records,
            [],
            store,
            variant="av_q",
            config=replace(FAST, epochs=epochs),
            model_overrides=TINY,
        )
        for epochs in (1, 3)
    }
    assert (runs[3].best_epoch, runs[3].best_val_accuracy) == (3, None)
    # Same seed: the 3-epoch run kept other weights than its first epoch's.
    first, last = (list(runs[n].model.parameters()) for n in (1, 3))
    assert not all(torch.equal(a, b) for a, b in zip(first, last, strict=True))


def test_variants_without_spatial_grounding_skip_the_grounding_stage(tiny_set):
    train_records, val_records, features = tiny_set
    seen = []
    train(
        train_records,
        val_records,
        FeatureStore(features),
        variant="question_only",
        config=FAST,
        model_overrides=TINY,
        on_progress=seen.append,
    )
    assert {p.stage for p in seen} == {"qa"}


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed(tiny_set):
    train_records, val_records, features = tiny_set
    runs = [
        train(
            train_records,
            val_records,
            FeatureStore(features),
            variant="avst",
            config=FAST,
            model_overrides=TINY,
        ).history
        for _ in range(2)
    ]
    assert [p.loss for p in runs[0]] == [p.loss for p in runs[1]]


@pytest.mark.parametrize("variant", ["avst", "avst_plus"])
def test_a_checkpoint_loads_alone_and_answers_identically(tiny_set, tmp_path, variant):
    train_records, val_records, features = tiny_set
    store = FeatureStore(features)
    result = train(
        train_records, val_records, store, variant=variant, config=FAST, model_overrides=TINY
    )
    path = save_checkpoint(
        tmp_path / "models" / "model.pt", result.model, result.vocabulary, extra={"variant": "avst"}
    )
    # Trained on CUDA where there is one: compare on the same device, where results are exact.
    device = result.model.visual_mean.device
    model, vocabulary, extra = load_checkpoint(path, device)
    assert extra == {"variant": "avst"}
    assert vocabulary == result.vocabulary
    assert model.config == result.model.config
    result.model.eval()
    inputs = batch_inputs(model, training=False)
    batch = next(
        batches(val_records, vocabulary, store, batch_size=8, shuffle=False, inputs=inputs)
    )
    batch = batch.to(device)
    with torch.inference_mode():
        loaded = forward(model, batch, negatives=False).logits
        assert torch.equal(loaded, forward(result.model, batch, negatives=False).logits)
    assert list(path.parent.iterdir()) == [path], "no temporary file left behind"


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "model.pt")
    with pytest.raises(DataError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_training_without_records_is_refused(tiny_set):
    _, val_records, features = tiny_set
    with pytest.raises(DataError, match="no training records"):
        train([], val_records, FeatureStore(features), config=FAST, model_overrides=TINY)


def test_table2_pools_over_questions_not_over_types(tiny_set):
    train_records, _, _ = tiny_set
    audio_counting = [r for r in train_records if r.type_key == ("Audio", "Counting")][:4]
    visual_location = [r for r in train_records if r.type_key == ("Visual", "Location")][:2]
    records = audio_counting + visual_location
    predicted = (
        [r.answer for r in audio_counting[:3]] + ["zero"] + [visual_location[0].answer, "zero"]
    )
    table = table2_of(records, predicted)
    columns = table.columns()
    assert columns["A-Count"] == 0.75 and columns["A avg"] == 0.75
    assert columns["V-Loc"] == 0.5
    assert columns["All"] == pytest.approx(4 / 6)  # pooled, not (0.75 + 0.5) / 2
    assert columns["AV-Temp"] is None
    text = format_table2({"avst": table})
    assert "A-Count" in text and "75.00" in text and "66.67" in text


def test_predictions_carry_confidence_top3_and_grounding(tiny_set):
    train_records, val_records, features = tiny_set
    store = FeatureStore(features)
    result = train(
        train_records, val_records, store, variant="avst", config=FAST, model_overrides=TINY
    )
    predictions = predict(result.model, result.vocabulary, val_records, store)
    assert [p.question_id for p in predictions] == [r.question_id for r in val_records]
    for prediction in predictions:
        assert prediction.top3[0] == (prediction.answer, prediction.confidence)
        confidences = [p for _, p in prediction.top3]
        assert confidences == sorted(confidences, reverse=True) and sum(confidences) <= 1 + 1e-6
        assert len(prediction.audio_weights) == len(prediction.visual_weights) == 10
        assert sum(prediction.audio_weights) == pytest.approx(1, abs=1e-5)
        assert len(prediction.spatial_maps) == 10 and len(prediction.spatial_maps[0]) == 4
    table = evaluate(result.model, result.vocabulary, val_records, store)
    assert sum(table.total.values()) == len(val_records)


def test_every_suggestion_is_an_answer_the_template_admits(tiny_set):
    from qa_model import catalogue

    train_records, val_records, features = tiny_set
    store = FeatureStore(features)
    result = train(
        train_records, val_records, store, variant="av_q", config=FAST, model_overrides=TINY
    )
    # Push the model towards "yes" for everything: the mask must still keep it off the
    # questions that cannot be answered "yes".
    with torch.no_grad():
        result.model.answer.bias[result.vocabulary.answers.index("yes")] += 100.0
    records = [*train_records, *val_records]
    predictions = predict(result.model, result.vocabulary, records, store, grounding=False)
    kinds = set()
    for record, prediction in zip(records, predictions, strict=True):
        admitted = catalogue.TEMPLATES_BY_TEXT[record.template].answers
        kinds.add(admitted)
        assert prediction.answer in admitted
        assert [answer for answer, _ in prediction.top3] == [
            answer for answer, _ in prediction.top3 if answer in admitted
        ]
        assert len(prediction.top3) == min(3, len(admitted))
        assert sum(p for _, p in prediction.top3) <= 1 + 1e-6
        if "yes" in admitted:
            assert prediction.answer == "yes"
        if len(admitted) == 2:
            assert sum(p for _, p in prediction.top3) == pytest.approx(1)
    assert len(kinds) == 2  # yes/no questions and indoor/outdoor ones both checked


def test_the_mask_can_be_in_the_loss_too(tiny_set):
    from dataclasses import replace

    train_records, val_records, features = tiny_set
    result = train(
        train_records,
        val_records,
        FeatureStore(features),
        variant="av_q",
        config=replace(FAST, mask_answers_in_loss=True),
        model_overrides=TINY,
    )
    assert all(p.loss == p.loss and p.loss < float("inf") for p in result.history)  # no NaN


def test_question_only_predictions_have_no_grounding(tiny_set):
    train_records, val_records, features = tiny_set
    store = FeatureStore(features)
    result = train(
        train_records, [], store, variant="question_only", config=FAST, model_overrides=TINY
    )
    prediction = predict(result.model, result.vocabulary, val_records[:1], store)[0]
    assert prediction.audio_weights is None and prediction.spatial_maps is None


def test_feature_statistics_are_those_of_the_training_videos(tiny_set):
    import numpy as np

    train_records, _, features = tiny_set
    store = FeatureStore(features)
    videos = sorted({r.video_id for r in train_records})
    store.standardise(store.statistics(videos))  # the raw sums are kept: same answer after
    audio_mean, audio_std, visual_mean, visual_std = store.statistics(videos)
    store.standardise(None)
    audio = np.concatenate([store[v]["audio"] for v in videos]).astype(np.float64)
    visual = np.concatenate([store[v]["visual"] for v in videos]).astype(np.float64)
    assert np.allclose(audio_mean, audio.mean(0), atol=1e-5)
    assert np.allclose(audio_std, audio.std(0), atol=1e-4)
    assert np.allclose(visual_mean, visual.mean((0, 2, 3)), atol=1e-5)
    assert np.allclose(visual_std, visual.std((0, 2, 3)), atol=1e-4)


def test_the_statistics_travel_with_the_checkpoint(tiny_set, tmp_path):
    train_records, val_records, features = tiny_set
    result = train(
        train_records,
        val_records,
        FeatureStore(features),
        variant="av_q",
        config=FAST,
        model_overrides=TINY,
    )
    assert not torch.equal(result.model.visual_mean.cpu(), torch.zeros(16))
    model, _, _ = load_checkpoint(
        save_checkpoint(tmp_path / "m.pt", result.model, result.vocabulary)
    )
    assert torch.equal(model.visual_std.cpu(), result.model.visual_std.cpu())
