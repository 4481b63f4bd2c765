"""Accepted QA pairs as a MUSIC-AVQA dataset (the release's JSON records), split by video.

The training export of the model loop and the admin's dataset export are this one function, so
the model always trains on exactly what a lab would download. Questions are read as plain rows
(no model instances; the 33 templates once), so a MUSIC-AVQA-sized collection exports in
about a second.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from annotator.models import Question, QuestionStatus, QuestionTemplate
from qa_model.files import atomic_write
from qa_model.records import SPLITS, UNLABELLED, Record
from qa_model.records import split_of as split_by_ratios

MANIFEST_FORMAT = "avqa-platform-export/1"


def split_of(video_id: str) -> str:
    """The video's split under the SPLIT_* settings (qa_model.records.split_of): from the id
    alone, so one version's test videos are never a later version's training data."""
    return split_by_ratios(video_id, settings.SPLIT_RATIOS)


def question_records(questions: QuerySet[Question]) -> Iterator[Record]:
    """These questions as MUSIC-AVQA records in id order, each answered with its accepted
    answer (UNLABELLED when it has none)."""
    templates = {template.pk: template for template in QuestionTemplate.objects.all()}
    rows = questions.order_by("pk").values_list(
        "pk", "video__avqa_id", "template_id", "slot_values", "accepted_answer__text"
    )
    for pk, video_id, template_id, slot_values, answer in rows.iterator(chunk_size=5000):
        template = templates[template_id]
        yield Record(
            video_id=video_id,
            question_id=pk,
            modality=template.modality,
            question_type=template.question_type,
            template=template.text,
            slot_values=tuple(slot_values),
            answer=answer or UNLABELLED,
        )


@dataclass(frozen=True)
class Dataset:
    splits: dict[str, list[Record]]

    @cached_property
    def _json(self) -> dict[str, list[dict]]:
        """Each split's records in the dataset's JSON form, made once for the hash, the files
        and the worker's copy."""
        return {split: [record.to_json() for record in self.splits[split]] for split in SPLITS}

    @cached_property
    def hash(self) -> str:
        """sha256 of the records in canonical form: equal data, equal hash."""
        canonical = json.dumps(self._json, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def counts(self) -> dict[str, dict]:
        """Pairs, videos and pairs per "Modality/Type" in each split."""
        return {split: _counts(records) for split, records in self.splits.items()}

    def files(self) -> dict[str, bytes]:
        """The export's files: avqa-{split}.json as MUSIC-AVQA ships them (a JSON list of
        records), in question-id order, so equal data gives byte-identical files."""
        return {
            f"avqa-{split}.json": json.dumps(self._json[split], indent=1).encode()
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
            **self._json,
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
    splits: dict[str, list[Record]] = {split: [] for split in SPLITS}
    split_of_video: dict[str, str] = {}
    for record in question_records(Question.objects.filter(status=QuestionStatus.ACCEPTED)):
        split = split_of_video.get(record.video_id)
        if split is None:
            split = split_of_video[record.video_id] = split_of(record.video_id)
        splits[split].append(record)
    return Dataset(splits)
