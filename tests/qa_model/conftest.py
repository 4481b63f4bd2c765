"""Small, fast inputs for the ML library: tiny feature files, records and generated clips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa_model.features import save_features
from qa_model.records import parse_records

TINY = {"audio_dim": 8, "visual_dim": 16, "hidden": 16, "word_dim": 8, "heads": 2}


def tiny_features(root, video_ids, *, segments=10, seed=0):
    """Random feature files with tiny dimensions (audio [T, 8], visual [T, 16, 4, 4])."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for video_id in video_ids:
        save_features(
            root / f"{video_id}.npz",
            {
                "audio": rng.standard_normal((segments, 8)).astype(np.float16),
                "visual": rng.standard_normal((segments, 16, 4, 4)).astype(np.float16),
                "seconds": np.arange(0, 6 * segments, 6, dtype=np.int16),
            },
        )


def record(video_id, question_id, template, values, answer, modality, question_type):
    return {
        "video_id": video_id,
        "question_id": question_id,
        "type": json.dumps([modality, question_type]),
        "question_content": template,
        "templ_values": json.dumps(values),
        "question_deleted": 0,
        "anser": answer,
    }


@pytest.fixture
def tiny_set(tmp_path):
    """12 videos with tiny features and two questions each (yes/no and a count)."""
    ids = [f"vid{index:02d}" for index in range(12)]
    tiny_features(tmp_path / "features", ids)
    raw = []
    for index, video_id in enumerate(ids):
        raw.append(
            record(
                video_id,
                index * 10,
                "Is there a <Object> sound?",
                ["cello"],
                "yes" if index % 2 else "no",
                "Audio",
                "Counting",
            )
        )
        raw.append(
            record(
                video_id,
                index * 10 + 1,
                "Where is the performance?",
                [],
                "indoor" if index % 3 else "outdoor",
                "Visual",
                "Location",
            )
        )
    records = parse_records(raw)
    return records[:16], records[16:], tmp_path / "features"
