"""MUSIC-AVQA records: the dataset's JSON, its question tokenizer and the split of a video.

Records are the JSON of the MUSIC-AVQA release: `type` and `templ_values` are strings holding
JSON lists and the answer key is `anser`. The tokenizer
follows the reference: split on spaces, drop the final `?`/`？`, substitute the slot values left
to right; case-sensitive.

Plain Python, no NumPy or torch: the web side reads and writes records (export, the worker
API) without loading the ML stack.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa_model import catalogue

# The answer of a record that has none yet; its loss target is ignored (cross-entropy's -100).
UNLABELLED = ""


class DataError(ValueError):
    """Records or features that cannot be used; the message says which and how many."""


@dataclass(frozen=True)
class Record:
    video_id: str
    question_id: int
    modality: str
    question_type: str
    template: str
    slot_values: tuple[str, ...]
    answer: str

    @property
    def type_key(self) -> tuple[str, str]:
        return self.modality, self.question_type

    def tokens(self) -> list[str]:
        return question_tokens(self.template, self.slot_values)

    def to_json(self) -> dict:
        return {
            "video_id": self.video_id,
            "question_id": self.question_id,
            "type": json.dumps([self.modality, self.question_type]),
            "question_content": self.template,
            "templ_values": json.dumps(list(self.slot_values)),
            "question_deleted": 0,
            "anser": self.answer,
        }


def question_tokens(template: str, slot_values: Sequence[str]) -> list[str]:
    """Tokens of a question as the reference makes them."""
    words = template.rstrip().split(" ")
    if words and words[-1][-1:] in ("?", "？"):
        words[-1] = words[-1][:-1]
    values = iter(slot_values)
    return [next(values, word) if word.startswith("<") else word for word in words if word]


SPLITS = ("train", "val", "test")


def split_of(video_id: str, ratios: Sequence[float] = (0.7, 0.1, 0.2)) -> str:
    """The split a video belongs to, from its id alone (all its questions go there): a video
    never moves between splits as a dataset grows."""
    fraction = int(hashlib.sha256(video_id.encode()).hexdigest()[:8], 16) / 0x100000000
    if fraction < ratios[0]:
        return "train"
    return "val" if fraction < ratios[0] + ratios[1] else "test"


def parse_records(
    raw: Iterable[dict], *, source: str = "records", labelled: bool = True
) -> list[Record]:
    """Records from parsed JSON; refuses unknown templates or answers, with their counts.

    With `labelled=False` a record may have no answer yet (`"anser": null`), as the open
    questions the platform asks the model about do; such records can be predicted, not trained.
    """
    records, unknown_templates, unknown_answers = [], [], []
    for item in raw:
        try:
            modality, question_type = json.loads(item["type"])
            values = tuple(json.loads(item["templ_values"]))
            record = Record(
                video_id=str(item["video_id"]),
                question_id=int(item["question_id"]),
                modality=modality,
                question_type=question_type,
                template=item["question_content"],
                slot_values=values,
                answer=item["anser"] if item["anser"] is not None or labelled else UNLABELLED,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"{source}: malformed record {item!r:.200} ({error})") from None
        if record.template not in catalogue.TEMPLATES_BY_TEXT:
            unknown_templates.append(record.template)
        if record.answer not in catalogue.ANSWERS and record.answer != UNLABELLED:
            unknown_answers.append(record.answer)
        records.append(record)
    if unknown_templates:
        examples = ", ".join(repr(t) for t in sorted(set(unknown_templates))[:3])
        raise DataError(
            f"{source}: {len(unknown_templates)} record(s) use a template outside the catalogue "
            f"(e.g. {examples})"
        )
    if unknown_answers:
        examples = ", ".join(repr(a) for a in sorted(set(unknown_answers))[:3])
        raise DataError(
            f"{source}: {len(unknown_answers)} record(s) have an answer outside the 42-word "
            f"vocabulary (e.g. {examples})"
        )
    return records


def load_records(path: str | os.PathLike) -> list[Record]:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not JSON ({error})") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a list of records")
    return parse_records(raw, source=str(path))
