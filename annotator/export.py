"""Accepted QA pairs as a MUSIC-AVQA dataset (AVQA.md §1), split by video.

The training export of the model loop and the admin's dataset export (a later issue) are this
one function, so the model always trains on exactly what a lab would download.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from annotator.models import Question, QuestionStatus
from qa_model import data
from qa_model.data import SPLITS, Record
from qa_model.files import atomic_write

MANIFEST_FORMAT = "avqa-platform-export/1"


def split_of(video_id: str) -> str:
    """The video's split under the SPLIT_* settings (qa_model.data.split_of): from the id
    alone, so one version's test videos are never a later version's training data."""
    return data.split_of(video_id, settings.SPLIT_RATIOS)


def record_of(question: Question, *, answer: str | None = None) -> Record:
    """A question as a MUSIC-AVQA record; `answer` defaults to its accepted answer."""
    template = question.template
    return Record(
        video_id=question.video.avqa_id,
        question_id=question.pk,
        modality=template.modality,
        question_type=template.question_type,
        template=template.text,
        slot_values=tuple(question.slot_values),
        answer=answer if answer is not None else question.accepted_answer.text,
    )


@dataclass(frozen=True)
class Dataset:
    splits: dict[str, list[Record]]

    @property
    def hash(self) -> str:
        """sha256 of the records in canonical form: equal data, equal hash."""
        canonical = json.dumps(
            {split: [record.to_json() for record in self.splits[split]] for split in SPLITS},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def counts(self) -> dict[str, dict]:
        """Pairs, videos and pairs per "Modality/Type" in each split."""
        return {split: _counts(records) for split, records in self.splits.items()}

    def files(self) -> dict[str, bytes]:
        """The export's files: avqa-{split}.json as MUSIC-AVQA ships them (a JSON list of
        records), in question-id order, so equal data gives byte-identical files."""
        return {
            f"avqa-{split}.json": json.dumps(
                [record.to_json() for record in self.splits[split]], indent=1
            ).encode()
            for split in SPLITS
        }

    def manifest(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "hash": self.hash,
            "exported_at": timezone.now().isoformat(timespec="seconds"),
            "split_ratios": dict(zip(SPLITS, settings.SPLIT_RATIOS, strict=True)),
            "counts": self.counts(),
        }

    def write(self, out_dir: Path) -> dict:
        """Write the split files and manifest.json (last, each file atomically): a reader that
        finds the manifest finds the records it describes."""
        for name, content in self.files().items():
            with atomic_write(out_dir / name) as temporary:
                temporary.write_bytes(content)
        manifest = self.manifest()
        with atomic_write(out_dir / "manifest.json") as temporary:
            temporary.write_text(json.dumps(manifest, indent=2) + "\n")
        return manifest

    def to_json(self) -> dict:
        return {
            "hash": self.hash,
            "counts": self.counts(),
            **{split: [r.to_json() for r in records] for split, records in self.splits.items()},
        }


def _counts(records: Iterable[Record]) -> dict:
    records = list(records)
    types = Counter(f"{r.modality}/{r.question_type}" for r in records)
    return {
        "pairs": len(records),
        "videos": len({r.video_id for r in records}),
        "types": dict(sorted(types.items())),
    }


def dataset_export() -> Dataset:
    """Every accepted question, ordered by id, in its video's split."""
    questions = (
        Question.objects.filter(status=QuestionStatus.ACCEPTED)
        .select_related("video", "template", "accepted_answer")
        .order_by("id")
    )
    splits: dict[str, list[Record]] = {split: [] for split in SPLITS}
    for question in questions:
        splits[split_of(question.video.avqa_id)].append(record_of(question))
    return Dataset(splits)
