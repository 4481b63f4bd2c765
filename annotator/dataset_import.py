"""Existing MUSIC-AVQA records loaded as accepted questions, so a lab can start from the public
dataset. Each record is checked against the catalogue and the collection rules; those that do
not fit are reported with the reason, never silently dropped. One transaction: an import that
fails or is interrupted leaves nothing behind, neither rows nor video files."""

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


@dataclass
class ImportReport:
    imported: int = 0
    already_present: int = 0
    videos_added: list[str] = field(default_factory=list)
    # reason -> examples "record <question_id>: detail"
    refused: dict[str, list[str]] = field(default_factory=dict)

    def refuse(self, reason: str, item: object, detail: str) -> None:
        question_id = item.get("question_id", "?") if isinstance(item, dict) else "?"
        self.refused.setdefault(reason, []).append(f"record {question_id}: {detail}")

    @property
    def refused_count(self) -> int:
        return sum(len(examples) for examples in self.refused.values())

    def lines(self) -> list[str]:
        lines = [
            f"imported {self.imported} accepted question(s)",
            f"already present: {self.already_present}",
            f"videos added: {len(self.videos_added)}",
            f"refused: {self.refused_count}",
        ]
        for reason, examples in sorted(self.refused.items()):
            lines.append(f"  {reason}: {len(examples)} (e.g. {'; '.join(examples[:3])})")
        return lines


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


def dataset_import(records: Iterable, *, videos_dir: Path | None = None) -> ImportReport:
    """Import records (parsed JSON) as accepted questions; return what happened."""
    report = ImportReport()
    added_files: list[Video] = []
    try:
        with transaction.atomic():
            author = _import_author()
            templates = {t.text: t for t in QuestionTemplate.objects.all()}
            answers = {a.text: a for a in Answer.objects.all()}
            for item in records:
                _import_one(item, report, author, templates, answers, videos_dir, added_files)
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


def _import_one(item, report, author, templates, answers, videos_dir, added_files) -> None:
    try:
        question_id = int(item["question_id"])
        video_id = str(item["video_id"])
        modality, question_type = json.loads(item["type"])
        slot_values = json.loads(item["templ_values"])
        template_text, answer_text = item["question_content"], item["anser"]
        deleted = int(item.get("question_deleted", 0))
    except (KeyError, TypeError, ValueError) as error:
        report.refuse("malformed record", item, str(error))
        return
    if not re.fullmatch(AVQA_ID_PATTERN, video_id):
        # The id becomes a file name in the videos folder: "../x" would read a file beside it.
        report.refuse("video id is not a slug", item, repr(video_id))
        return
    if deleted:
        report.refuse("deleted in the source", item, "question_deleted is 1")
        return
    template = templates.get(template_text)
    if template is None:
        report.refuse("template not in the catalogue", item, repr(template_text))
        return
    if (template.modality, template.question_type) != (modality, question_type):
        report.refuse("type does not match the template", item, f"{modality}/{question_type}")
        return
    try:
        rules.check_slot_values(template.text, slot_values)
        rules.check_answer(answer_text, template.answers)
    except errors.RuleViolation as refusal:
        report.refuse("slot values or answer outside the catalogue", item, str(refusal))
        return
    existing = Question.objects.filter(pk=question_id).select_related("video", "template").first()
    if existing is not None:
        same = (
            existing.video.avqa_id == video_id and existing.template_id == template.pk
            and existing.slot_values == slot_values
        )  # fmt: skip
        if same:
            report.already_present += 1
        else:
            report.refuse("question id already used", item, f"question {question_id} differs")
        return
    video = Video.objects.filter(avqa_id=video_id).first()
    if video is None:
        source = _video_file(videos_dir, video_id)
        if source is None:
            report.refuse("no such video", item, f"video {video_id}")
            return
        try:
            video = services.video_create(avqa_id=video_id, source=source)
        except Exception as error:  # media errors name the file
            report.refuse("video file refused", item, str(error))
            return
        added_files.append(video)
        report.videos_added.append(video_id)
    # The video's lock, as the services take it: annotators asking on it meanwhile wait, so the
    # Q2/Q3 checks below hold when the question is added.
    video = Video.objects.select_for_update(no_key=True).get(pk=video.pk)
    live = Question.objects.live().filter(video=video)
    if live.filter(template=template).exists():
        report.refuse("template already used on the video (Q2)", item, f"video {video_id}")
        return
    if live.count() >= settings.QUESTIONS_PER_VIDEO:
        report.refuse("video already has its questions (Q3)", item, f"video {video_id}")
        return
    question = Question.objects.create(
        pk=question_id, video=video, template=template, slot_values=slot_values, author=author,
        status=QuestionStatus.ACCEPTED, accepted_answer=answers[answer_text],
        decided_at=timezone.now(),
    )  # fmt: skip
    counts.video_live_refresh(video.pk)
    StatusChange.objects.create(
        question=question, from_status="", to_status=QuestionStatus.ACCEPTED,
        accepted_answer=answers[answer_text], cause=StatusChange.Cause.IMPORT,
        note="imported from a MUSIC-AVQA file",
    )  # fmt: skip
    report.imported += 1
