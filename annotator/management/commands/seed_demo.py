"""Seed a demo: an admin, a reviewer, annotators with printed passwords, videos to work on, and a
synthetic collection already answered, so the first model has something to learn from.

The collection is rendered synthetic performances with their ground-truth MUSIC-AVQA records,
imported as accepted pairs of the release "Synthetic demo" in their published splits (its
videos are full: annotators ask about the open videos). A few of its yes/no pairs are made gold,
so new annotators have a qualification round to pass.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from annotator import accounts, services
from annotator.dataset_import import dataset_import, read_records
from annotator.models import Question, QuestionStatus, Video
from qa_model.records import SPLITS
from qa_model.synthetic import Scene, render_scene, synthesize

COLLECTION_RELEASE = "Synthetic demo"
COLLECTION_SEED = 900  # another seed than the open videos', so no clip appears twice
GOLD_QUESTIONS = 6


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--annotators", type=int, default=6)
        parser.add_argument("--videos", type=int, default=6)
        parser.add_argument("--seconds", type=float, default=60.0, help="length of each video")
        parser.add_argument(
            "--collection",
            type=int,
            # 48 clips (about 660 training pairs) taught AVST nothing over the question-only
            # model; 120 (about 1,650) gave it +7.9 points (bench.accuracy, docs/model.md).
            default=120,
            help="synthetic clips whose ground-truth questions are imported as accepted pairs",
        )

    def handle(
        self,
        *args: object,
        annotators: int,
        videos: int,
        seconds: float,
        collection: int,
        **_: object,
    ):
        if seconds < 40:
            self.stderr.write("Demo videos are at least 40 s long (the watch gate is 30 s).")
            raise SystemExit(2)
        credentials_file = settings.VAR_DIR / "demo-credentials.txt"
        credentials = self._people(annotators, credentials_file)
        self._videos(videos, seconds)
        self._collection(collection)
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (also in {credentials_file}):"))
        for line in credentials:
            self.stdout.write(f"  {line}")

    def _people(self, annotators: int, credentials_file: Path) -> list[str]:
        """Create missing demo users; passwords are random, kept in var/ to print again later."""
        known = credentials_file.read_text().splitlines() if credentials_file.exists() else []
        existing = get_user_model().objects.values_list("username", flat=True)
        wanted = [("admin", "admin"), ("reviewer", "reviewer")] + [
            (f"annotator{index}", "annotator") for index in range(1, annotators + 1)
        ]
        for username, role in wanted:
            if username in existing:
                continue
            password = secrets.token_urlsafe(9)
            with transaction.atomic():
                if role == "admin":
                    get_user_model().objects.create_superuser(username, password=password)
                elif role == "reviewer":
                    accounts.reviewer_create(username=username, password=password)
                else:
                    accounts.annotator_create(username=username, password=password)
            known.append(f"{role:<9} {username:<12} {password}")
        credentials_file.write_text("\n".join(known) + "\n")
        credentials_file.chmod(0o600)
        return known

    def _videos(self, count: int, seconds: float) -> None:
        for index in range(1, count + 1):
            avqa_id = f"demo{index:04d}"
            if Video.objects.filter(avqa_id=avqa_id).exists():
                continue
            scene = Scene.random(index, duration_seconds=seconds)
            with tempfile.TemporaryDirectory() as folder:
                clip = render_scene(scene, Path(folder) / f"{avqa_id}.mp4")
                names = " and ".join(player.instrument for player in scene.players)
                services.video_create(avqa_id=avqa_id, source=clip, title=f"Demo: {names}")
            self.stdout.write(f"  video {avqa_id}: {names}")

    def _collection(self, clips: int) -> None:
        if clips <= 0 or Question.objects.filter(origin_release=COLLECTION_RELEASE).exists():
            return
        self.stdout.write(f"  rendering a synthetic collection of {clips} clips …")
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder)
            synthesize(out, videos=clips, seed=COLLECTION_SEED, workers=os.cpu_count() or 1)
            imported = 0
            for split in SPLITS:
                records = read_records(out / f"avqa-{split}.json")
                report = dataset_import(
                    records, videos_dir=out / "videos", release=COLLECTION_RELEASE, split=split
                )
                imported += report.imported
        reviewer = get_user_model().objects.filter(is_superuser=True).first()
        yes_no = Question.objects.filter(
            origin_release=COLLECTION_RELEASE,
            status=QuestionStatus.ACCEPTED,
            template__answer_kind="yes_no",
        ).order_by("pk")[:GOLD_QUESTIONS]
        for question in yes_no:
            services.question_gold_set(reviewer=reviewer, question=question, gold=True)
        self.stdout.write(
            f"  {imported} accepted pairs on {clips} synthetic clips ({COLLECTION_RELEASE}), "
            f"{len(yes_no)} of them gold"
        )
