"""Existing MUSIC-AVQA records loaded as accepted questions, so a lab can start from the public
dataset. Each record is checked against the catalogue; one that does not fit is reported with
the reason, never silently dropped. One transaction: an import that fails or is interrupted
leaves nothing behind, neither rows nor video files.

What a record says is kept: the release it came from and the split it was published in (an
export keeps that split), and records that break the collection rules (the public release has
videos with more than five questions and templates used twice on a video) are imported as
published and flagged, since they were not collected here. A question id that comes twice with
different answers, in the file or against an earlier import, is a conflict: kept, replaced or
sent to reviewers as disputed (`on_conflict`), and reported with both answers either way."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from annotator import counts, errors, rules, services
from annotator.models import (
    AVQA_ID_PATTERN,
    Answer,
    Question,
    QuestionStatus,
    QuestionTemplate,
    StatusChange,
    Video,
)

IMPORT_USERNAME = "musicavqa-import"
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi")
DEFAULT_RELEASE = "MUSIC-AVQA"
SPLITS = ("train", "val", "test")
ON_CONFLICT = ("keep", "replace", "review")
NO_SUCH_VIDEO = "no such video"


@dataclass
class ImportReport:
    imported: int = 0
    already_present: int = 0
    updated: int = 0
    videos_added: list[str] = field(default_factory=list)
    # reason -> examples "record <question_id>: detail"
    refused: dict[str, list[str]] = field(default_factory=dict)
    # rule -> question ids imported although they break it ("Q2", "Q3")
    exempted: dict[str, list[int]] = field(default_factory=dict)
    # "record <id>: answers 'a' and 'b'; <what was done>"
    conflicts: list[str] = field(default_factory=list)
    repeated: int = 0  # the same record again in the file
    missing_from_release: int = 0  # with update: imported before from this release, not now

    def refuse(self, reason: str, item: object, detail: str) -> None:
        question_id = item.get("question_id", "?") if isinstance(item, dict) else "?"
        self.refused.setdefault(reason, []).append(f"record {question_id}: {detail}")

    @property
    def refused_count(self) -> int:
        return sum(len(examples) for examples in self.refused.values())

    def lines(self, *, videos_given: bool = True) -> list[str]:
        lines = [
            f"imported {self.imported} accepted question(s)",
            f"already present: {self.already_present}",
            f"videos added: {len(self.videos_added)}",
            f"refused: {self.refused_count}",
        ]
        for reason, examples in sorted(self.refused.items()):
            lines.append(f"  {reason}: {len(examples)} (e.g. {'; '.join(examples[:3])})")
        if NO_SUCH_VIDEO in self.refused and not videos_given:
            lines.append(
                "  hint: these records name videos that are not in the collection; give "
                "--videos DIR, a folder of the release's videos named <video_id>.mp4"
            )
        for rule, ids in sorted(self.exempted.items()):
            shown = ", ".join(map(str, ids[:5]))
            lines.append(
                f"imported although the release breaks {rule}: {len(ids)} (flagged; e.g. {shown})"
            )
        if self.repeated:
            lines.append(f"the same record again in the file: {self.repeated} (counted once)")
        if self.conflicts:
            lines.append(f"conflicting answers: {len(self.conflicts)}")
            lines.extend(f"  {line}" for line in self.conflicts)
        if self.updated:
            lines.append(f"answers updated to the file's: {self.updated}")
        if self.missing_from_release:
            lines.append(
                f"imported before from this release and split but not in this file: "
                f"{self.missing_from_release} (left as they are)"
            )
        return lines


@dataclass
class _Import:
    """One import's settings and what it has seen so far."""

    report: ImportReport
    author: object
    templates: dict
    answers: dict
    videos_dir: Path | None
    added_files: list
    release: str = DEFAULT_RELEASE
    split: str = ""
    on_conflict: str = "review"
    update: bool = False
    seen: dict = field(default_factory=dict)  # question id -> (content, answer) in this file


def _import_author() -> object:
    user, created = get_user_model().objects.get_or_create(username=IMPORT_USERNAME)
    if created:
        user.set_unusable_password()
        user.is_active = False  # authors the imported questions; never signs in
        user.save(update_fields=["password", "is_active"])
    return user


def _video_file(videos_dir: Path | None, video_id: str) -> Path | None:
    if videos_dir is None:
        return None
    for suffix in VIDEO_SUFFIXES:
        candidate = videos_dir / f"{video_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_records(path: Path) -> list:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise errors.ImportInvalid(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise errors.ImportInvalid(f"{path}: not a JSON file ({error})") from None
    if not isinstance(raw, list):
        raise errors.ImportInvalid(f"{path}: expected a list of MUSIC-AVQA records")
    return raw


def split_from_name(path: Path) -> str:
    """The split a release file holds, from its name (avqa-train.json, avqa-val.json,
    avqa-test.json, as MUSIC-AVQA names them); "" when the name does not say."""
    words = set(re.split(r"[^a-z]+", path.stem.lower()))
    found = [split for split in SPLITS if split in words]
    if "valid" in words or "validation" in words:
        found.append("val")
    return found[0] if len(set(found)) == 1 else ""


def dataset_import(
    records: Iterable,
    *,
    videos_dir: Path | None = None,
    release: str = DEFAULT_RELEASE,
    split: str = "",
    on_conflict: str = "review",
    update: bool = False,
) -> ImportReport:
    """Import records (parsed JSON) as accepted questions of `release`, published in `split`
    ("" when not known: an export then splits them by video); return what happened.

    `on_conflict` says what a question id that comes again with another answer does: "keep"
    the first, "replace" it, or "review" (the question goes to the reviewers' disputed queue).
    With `update` (a newer release of what was imported), changed answers are replaced."""
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict is one of {', '.join(ON_CONFLICT)}")
    if split and split not in SPLITS:
        raise errors.ImportInvalid(f"the split is one of {', '.join(SPLITS)}, not {split!r}")
    report = ImportReport()
    added_files: list[Video] = []
    try:
        with transaction.atomic():
            state = _Import(
                report=report,
                author=_import_author(),
                templates={t.text: t for t in QuestionTemplate.objects.all()},
                answers={a.text: a for a in Answer.objects.all()},
                videos_dir=videos_dir,
                added_files=added_files,
                release=release[:64],
                split=split,
                on_conflict=on_conflict,
                update=update,
            )
            for item in records:
                _import_one(item, state)
            if update:
                earlier = Question.objects.filter(origin_release=state.release, origin_split=split)
                report.missing_from_release = earlier.exclude(pk__in=list(state.seen)).count()
            if report.imported:
                # Imported questions keep their dataset ids; move the id sequence past them
                # (PostgreSQL) so questions asked later do not collide.
                with connection.cursor() as cursor:
                    for statement in connection.ops.sequence_reset_sql(no_style(), [Question]):
                        cursor.execute(statement)
    except BaseException:
        for video in added_files:
            video.file.delete(save=False)
        raise
    return report


def _parse(item: object, state: _Import) -> tuple | None:
    """A record's fields checked against the catalogue, or None (the refusal reported)."""
    report = state.report
    try:
        question_id = int(item["question_id"])
        video_id = str(item["video_id"])
        modality, question_type = json.loads(item["type"])
        slot_values = json.loads(item["templ_values"])
        template_text, answer_text = item["question_content"], item["anser"]
        deleted = int(item.get("question_deleted", 0))
    except (KeyError, TypeError, ValueError) as error:
        report.refuse("malformed record", item, str(error))
        return None
    if not re.fullmatch(AVQA_ID_PATTERN, video_id):
        # The id becomes a file name in the videos folder: "../x" would read a file beside it.
        report.refuse("video id is not a slug", item, repr(video_id))
        return None
    if deleted:
        report.refuse("deleted in the source", item, "question_deleted is 1")
        return None
    template = state.templates.get(template_text)
    if template is None:
        report.refuse("template not in the catalogue", item, repr(template_text))
        return None
    if (template.modality, template.question_type) != (modality, question_type):
        report.refuse("type does not match the template", item, f"{modality}/{question_type}")
        return None
    try:
        rules.check_slot_values(template.text, slot_values)
        rules.check_answer(answer_text, template.answers)
    except errors.RuleViolation as refusal:
        report.refuse("slot values or answer outside the catalogue", item, str(refusal))
        return None
    return question_id, video_id, template, slot_values, answer_text


def _import_one(item: object, state: _Import) -> None:
    parsed = _parse(item, state)
    if parsed is None:
        return
    question_id, video_id, template, slot_values, answer_text = parsed
    report, content = state.report, (video_id, template.pk, tuple(slot_values))
    if question_id in state.seen:
        first_content, first_answer = state.seen[question_id]
        if first_content != content:
            report.refuse("question id used twice in the file", item, "for different questions")
        elif first_answer == answer_text:
            report.repeated += 1
        else:
            state.seen[question_id] = (content, answer_text)
            _conflict(Question.objects.get(pk=question_id), first_answer, answer_text, state)
        return
    existing = Question.objects.filter(pk=question_id).select_related("video", "template").first()
    if existing is not None:
        state.seen[question_id] = (content, answer_text)
        _import_again(existing, item, content, answer_text, state)
        return
    video = Video.objects.filter(avqa_id=video_id).first()
    if video is None:
        source = _video_file(state.videos_dir, video_id)
        if source is None:
            report.refuse(NO_SUCH_VIDEO, item, f"video {video_id}")
            return
        try:
            video = services.video_create(avqa_id=video_id, source=source)
        except Exception as error:  # media errors name the file
            report.refuse("video file refused", item, str(error))
            return
        state.added_files.append(video)
        report.videos_added.append(video_id)
    state.seen[question_id] = (content, answer_text)
    # The video's lock, as the services take it: annotators asking on it meanwhile wait, so the
    # rules an annotator would meet are checked against what is really there.
    video = Video.objects.select_for_update(no_key=True).get(pk=video.pk)
    live = Question.objects.live().filter(video=video)
    broken = []
    if live.filter(template=template).exists():
        broken.append("Q2")
    if live.count() >= settings.QUESTIONS_PER_VIDEO:
        broken.append("Q3")
    answer = state.answers[answer_text]
    question = Question.objects.create(
        pk=question_id,
        video=video,
        template=template,
        slot_values=slot_values,
        author=state.author,
        status=QuestionStatus.ACCEPTED,
        accepted_answer=answer,
        decided_at=timezone.now(),
        origin_release=state.release,
        origin_split=state.split,
        origin_exemptions=" ".join(broken),
    )
    counts.video_live_refresh(video.pk)
    where = f"{state.release} {state.split}".strip()
    StatusChange.objects.create(
        question=question,
        from_status="",
        to_status=QuestionStatus.ACCEPTED,
        accepted_answer=answer,
        cause=StatusChange.Cause.IMPORT,
        note=f"imported from {where}" + (f"; breaks {', '.join(broken)}" if broken else ""),
    )
    for rule in broken:
        report.exempted.setdefault(rule, []).append(question_id)
    report.imported += 1


def _import_again(existing: Question, item, content, answer_text: str, state: _Import) -> None:
    """A record whose question id is in the collection already."""
    report = state.report
    same = (existing.video.avqa_id, existing.template_id, tuple(existing.slot_values))
    if same != content:
        report.refuse("question id already used", item, f"question {existing.pk} differs")
        return
    current = existing.accepted_answer.text if existing.accepted_answer_id else None
    if current == answer_text:
        report.already_present += 1  # e.g. this collection's own export read back
    elif not existing.origin_release:
        # Collected here: its answer is the annotators', which no file overrides.
        report.refuse(
            "question id already used", item, f"question {existing.pk} was collected here"
        )
    elif state.update:
        _answer(existing, answer_text, state, note="answer updated from a newer release")
        report.updated += 1
    elif existing.status == QuestionStatus.DISPUTED and state.on_conflict == "review":
        report.already_present += 1  # already with the reviewers
    else:
        _conflict(existing, current or "(none: disputed)", answer_text, state)


def _conflict(question: Question, first: str, second: str, state: _Import) -> None:
    """The same question with two answers: keep the first, take the second, or let reviewers
    decide; reported with both answers either way."""
    action = state.on_conflict
    if action == "replace":
        _answer(question, second, state, note=f"conflicting records: {first!r} replaced")
        outcome = f"took {second!r}"
    elif action == "review":
        question = Question.objects.select_for_update().get(pk=question.pk)
        if question.status != QuestionStatus.DISPUTED:
            StatusChange.objects.create(
                question=question,
                from_status=question.status,
                to_status=QuestionStatus.DISPUTED,
                cause=StatusChange.Cause.IMPORT,
                note=f"conflicting records: answers {first!r} and {second!r}",
            )
            question.status, question.accepted_answer = QuestionStatus.DISPUTED, None
            question.gold_since = None
            question.save(update_fields=["status", "accepted_answer", "gold_since"])
        outcome = "sent to review (disputed)"
    else:
        outcome = f"kept {first!r}"
    state.report.conflicts.append(
        f"record {question.pk}: answers {first!r} and {second!r}; {outcome}"
    )


def _answer(question: Question, answer_text: str, state: _Import, *, note: str) -> None:
    question = Question.objects.select_for_update().get(pk=question.pk)
    answer = state.answers[answer_text]
    StatusChange.objects.create(
        question=question,
        from_status=question.status,
        to_status=QuestionStatus.ACCEPTED,
        accepted_answer=answer,
        cause=StatusChange.Cause.IMPORT,
        note=note,
    )
    question.status, question.accepted_answer = QuestionStatus.ACCEPTED, answer
    question.decided_at = timezone.now()
    question.save(update_fields=["status", "accepted_answer", "decided_at"])
