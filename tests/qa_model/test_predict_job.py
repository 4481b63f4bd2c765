"""The gpu worker's predict task: the active version's suggestions for open questions that have
none, posted once; a task whose post failed is not reported done, and its next delivery posts."""

from __future__ import annotations

import shutil

import pytest
import requests

from qa_model import catalogue
from qa_model.data import FeatureStore
from qa_model.training import TrainConfig, save_checkpoint, train
from qa_model.worker import WorkerConfig, predict_job
from tests.qa_model.conftest import TINY


class FakePlatform:
    """The worker API of one model version, in memory."""

    def __init__(self, open_records: list, checkpoint) -> None:
        self.open_records, self.checkpoint_file = open_records, checkpoint
        self.stored: dict[int, dict] = {}
        self.failures_left = 0
        self.done_calls = self.downloads = 0

    def unpredicted(self, version_id: int, limit: int) -> list[dict]:
        todo = [r for r in self.open_records if r.question_id not in self.stored][:limit]
        return [{**r.to_json(), "anser": None} for r in todo]

    def checkpoint(self, version_id: int, target):
        self.downloads += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.checkpoint_file, target)
        return target

    def post_predictions(self, version_id: int, items) -> dict:
        if self.failures_left:
            self.failures_left -= 1
            raise requests.ConnectionError("the web app is restarting")
        new = [item for item in items if item["question_id"] not in self.stored]
        self.stored.update({item["question_id"]: item for item in new})
        return {"stored": len(new), "unchanged": len(items) - len(new)}

    def predictions_done(self, version_id: int) -> int:
        self.done_calls += 1
        return len([r for r in self.open_records if r.question_id not in self.stored])


@pytest.fixture
def platform(tiny_set, tmp_path):
    train_records, val_records, features = tiny_set
    config = TrainConfig(epochs=1, grounding_epochs=1, batch_size=8, seed=1)
    result = train(
        train_records,
        val_records,
        FeatureStore(features),
        variant="avst",
        config=config,
        model_overrides=TINY,
    )
    checkpoint = save_checkpoint(tmp_path / "v1.pt", result.model, result.vocabulary)
    return FakePlatform(val_records, checkpoint)


def worker_config(tiny_set, tmp_path) -> WorkerConfig:
    # The worker's features folder is work_dir/features: the tiny set's, already extracted.
    return WorkerConfig(api_url="http://unused", token="t", work_dir=tiny_set[2].parent)


def test_open_questions_get_admissible_suggestions_once(platform, tiny_set, tmp_path):
    config = worker_config(tiny_set, tmp_path)
    outcome = predict_job(platform, config, 1)
    assert outcome == {
        "version": 1,
        "stored": len(platform.open_records),
        "unchanged": 0,
        "remaining": 0,
    }
    assert platform.done_calls == 1
    for record in platform.open_records:
        item = platform.stored[record.question_id]
        assert item["answer"] in catalogue.TEMPLATES_BY_TEXT[record.template].answers
    # Nothing left: the next delivery only says so.
    assert predict_job(platform, config, 1)["stored"] == 0
    assert platform.done_calls == 2 and platform.downloads == 1  # the checkpoint is kept


def test_a_failed_post_is_not_reported_done_and_the_next_delivery_posts(
    platform, tiny_set, tmp_path
):
    config = worker_config(tiny_set, tmp_path)
    platform.failures_left = 1
    with pytest.raises(requests.ConnectionError):
        predict_job(platform, config, 1)
    assert platform.done_calls == 0 and not platform.stored  # beat will send it again
    assert predict_job(platform, config, 1)["stored"] == len(platform.open_records)
    assert platform.done_calls == 1


@pytest.mark.slow
def test_predictions_are_posted_in_bodies_the_web_side_accepts(settings):
    """A prediction with its three 14x14 heat maps is about 6 KB as JSON: 500 of them were a
    3 MB body, which Django refuses (413) above DATA_UPLOAD_MAX_MEMORY_SIZE. The client splits
    the posts by size as well as by count."""
    import json

    from qa_model.worker import POST_MAX_BYTES, PREDICTIONS_PER_POST, _chunks

    grid = [[0.00517] * 14 for _ in range(14)]  # rounded to 5 places, as posted
    item = {
        "question_id": 1,
        "answer": "yes",
        "confidence": 0.5,
        "top3": [{"answer": "yes", "confidence": 0.5}],
        "audio_weights": [0.1] * 10,
        "visual_weights": [0.1] * 10,
        "spatial_maps": {"segments": [0, 1, 2], "maps": [grid, grid, grid]},
    }
    items = [{**item, "question_id": n} for n in range(1, 1201)]
    chunks = list(_chunks(items, PREDICTIONS_PER_POST, POST_MAX_BYTES))
    assert [i for chunk in chunks for i in chunk] == items  # all of them, in order
    for chunk in chunks:
        body = json.dumps({"predictions": chunk})  # as requests sends it
        assert len(body) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert len(json.dumps({"predictions": items[:PREDICTIONS_PER_POST]})) > (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    ), "the case this guards against"
