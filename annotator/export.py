"""Accepted QA pairs as a MUSIC-AVQA dataset (the release's JSON records), split by video.

A record imported from a published release keeps the split it was published in, and a question
collected here on one of the release's videos follows that video's split, so a release's test
questions never land in an exported training split. Questions collected on other videos are
split by video id (SPLIT_* ratios). The manifest says where every record came from.

The training export of the model loop and the admin's dataset export are this one function, so
the model always trains on exactly what a lab would download. Questions are read as plain rows
(no model instances; the 33 templates once), so a MUSIC-AVQA-sized collection exports in
about a second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from annotator.models import Question, QuestionStatus, QuestionTemplate, Vote
from qa_model.files import atomic_write
from qa_model.records import SPLITS, UNLABELLED, Record
from qa_model.records import split_of as split_by_ratios

MANIFEST_FORMAT = "avqa-platform-export/2"
COLLECTED = "collected here"


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


def source_of(release: str, split: str) -> str:
    """Where a record came from, in the manifest's words: "collected here", or the release and
    the split it was published in ("MUSIC-AVQA test"; "MUSIC-AVQA" when the split is unknown)."""
    return f"{release} {split}".strip() if release else COLLECTED


@dataclass(frozen=True)
class Dataset:
    splits: dict[str, list[Record]]
    # question id -> source_of(...); records not in it were collected here
    sources: dict[int, str] = field(default_factory=dict)
    # question id -> answerable-without-watching score (Question.blind_score), where scored
    blind_scores: dict[int, float] = field(default_factory=dict)

    def provenance(self) -> dict[str, dict[str, int]]:
        """Records per source and split: {"collected here": {"train": 10, ...}, ...}."""
        table: dict[str, Counter] = {}
        for split, records in self.splits.items():
            for record in records:
                source = self.sources.get(record.question_id, COLLECTED)
                table.setdefault(source, Counter())[split] += 1
        return {source: dict(sorted(row.items())) for source, row in sorted(table.items())}

    def provenance_file(self) -> bytes:
        """provenance.json: each source's question ids, in order."""
        ids: dict[str, list[int]] = {}
        for records in self.splits.values():
            for record in records:
                source = self.sources.get(record.question_id, COLLECTED)
                ids.setdefault(source, []).append(record.question_id)
        return json.dumps({k: sorted(v) for k, v in sorted(ids.items())}, indent=1).encode()

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
        records), in question-id order, so equal data gives byte-identical files; and
        provenance.json, each source's question ids."""
        files = {
            f"avqa-{split}.json": json.dumps(self._json[split], indent=1).encode()
            for split in SPLITS
        }
        files["provenance.json"] = self.provenance_file()
        return files

    def manifest(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "hash": self.hash,
            "exported_at": timezone.now().isoformat(timespec="seconds"),
            "split_ratios": dict(zip(SPLITS, settings.SPLIT_RATIOS, strict=True)),
            "split_rule": (
                "records imported from a release keep the split it published them in; "
                "questions collected here follow their video's published split, or are split "
                "by video id with split_ratios"
            ),
            "counts": self.counts(),
            "provenance": self.provenance(),
            "answerable_without_watching": {
                "meaning": (
                    "the probability that a model reading only the question (no audio, no "
                    "video), trained at the platform's latest retrain, gives the accepted "
                    "answer; near 1, the pair can be answered without watching"
                ),
                "flagged_at": settings.BLIND_SCORE_WARNING,
                "scored": len(self.blind_scores),
                "scores": {str(pk): score for pk, score in sorted(self.blind_scores.items())},
            },
        }

    def write(self, out_dir: Path, *, votes: bool = False) -> dict:
        """Write the split files, provenance.json, votes.json with `votes`, and manifest.json
        (last, each file atomically): a reader that finds the manifest finds the records it
        describes."""
        files = self.files()
        if votes:
            files["votes.json"] = votes_file()
        for name, content in files.items():
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


def published_splits() -> dict[str, str]:
    """Video id -> the split a release published it in, for videos with imported records."""
    rows = (
        Question.objects.exclude(origin_split="")
        .order_by("video__avqa_id", "origin_split")
        .values_list("video__avqa_id", "origin_split")
        .distinct()
    )
    return dict(rows)


def dataset_export() -> Dataset:
    """Every accepted question, ordered by id: a record imported from a release in the split it
    was published in; a question collected here in its video's published split, or its video's
    split by id (split_of)."""
    splits: dict[str, list[Record]] = {split: [] for split in SPLITS}
    accepted = Question.objects.filter(status=QuestionStatus.ACCEPTED)
    origins = {
        pk: (release, split)
        for pk, release, split in accepted.exclude(origin_release="").values_list(
            "pk", "origin_release", "origin_split"
        )
    }
    split_of_video = published_splits()
    for record in question_records(accepted):
        split = origins.get(record.question_id, ("", ""))[1]
        if not split:
            split = split_of_video.get(record.video_id)
        if not split:
            split = split_of_video[record.video_id] = split_of(record.video_id)
        splits[split].append(record)
    sources = {pk: source_of(release, split) for pk, (release, split) in origins.items()}
    blind_scores = dict(accepted.filter(blind_score__isnull=False).values_list("pk", "blind_score"))
    return Dataset(splits, sources, blind_scores)


def annotator_pseudonym(user_id: int) -> str:
    """A stable name for an annotator that does not say who they are: the same person has the
    same pseudonym in every export of this installation (a keyed hash of their id)."""
    key = settings.SECRET_KEY.encode()
    return "annotator-" + hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:12]


def votes_file() -> bytes:
    """votes.json, for researchers who study annotation itself: every vote on an exported
    (accepted) question, in vote order, with its annotator's pseudonym, its time, its answer
    (null when it flagged the question invalid) and whether it counted towards the decision (a
    gold check, or a vote a reviewer or a reopening discounted, did not)."""
    rows = (
        Vote.objects.filter(question__status=QuestionStatus.ACCEPTED)
        .order_by("pk")
        .values_list(
            "pk",
            "question_id",
            "annotator_id",
            "created_at",
            "answer__text",
            "invalid",
            "gold_check",
            "discounted_at",
        )
    )
    votes = []
    for row in rows.iterator(chunk_size=5000):
        pk, question_id, annotator_id, created_at, answer, invalid, gold_check, discounted = row
        votes.append(
            {
                "vote_id": pk,
                "question_id": question_id,
                "annotator": annotator_pseudonym(annotator_id),
                "at": created_at.isoformat(timespec="seconds"),
                "answer": answer,
                "invalid": invalid,
                "counted": not gold_check and discounted is None,
                "gold_check": gold_check,
            }
        )
    return json.dumps(votes, indent=1).encode()
