"""Load MUSIC-AVQA records as accepted questions.

    manage.py import_avqa FILE.json [--videos DIR] [--split train|val|test] [--release NAME]
                          [--on-conflict keep|replace|review] [--update]

Records are matched to videos by id; with --videos, a video not yet in the collection is added
from DIR/<video_id>.mp4 (or .mkv, .webm, .mov, .avi). Each record keeps where it came from: the
release (--release, "MUSIC-AVQA" by default) and the split it was published in (--split, or
read from the file name: avqa-train.json, avqa-val.json, avqa-test.json), which an export
keeps. Records that break the collection rules are imported as published and flagged. A
question id that comes again with another answer is a conflict: --on-conflict keep, replace, or
review (the default: reviewers decide it in the disputed queue); --update takes a newer
release's answers. Records that do not fit the catalogue are reported with the reason and
skipped; the rest is imported in one transaction, so an interrupted import leaves nothing
behind. Exits 1, after the summary, when any record was refused.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator import errors
from annotator.dataset_import import (
    DEFAULT_RELEASE,
    ON_CONFLICT,
    SPLITS,
    dataset_import,
    read_records,
    split_from_name,
)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--videos", type=Path, help="Folder of video files named by id.")
        parser.add_argument(
            "--split", choices=SPLITS, help="The split the file holds (default: from its name)."
        )
        parser.add_argument("--release", default=DEFAULT_RELEASE, help="The release's name.")
        parser.add_argument("--on-conflict", choices=ON_CONFLICT, default="review")
        parser.add_argument(
            "--update", action="store_true", help="A newer release: take its changed answers."
        )

    def handle(self, *args: object, file: Path, videos: Path | None, **options: object) -> None:
        if videos is not None and not videos.is_dir():
            raise CommandError(f"{videos}: not a folder")
        split = options["split"] or split_from_name(file)
        if not split:
            self.stdout.write(
                self.style.WARNING(
                    f"{file.name}: the file name does not say its split; without --split its "
                    "records are split by video on export"
                )
            )
        try:
            report = dataset_import(
                read_records(file),
                videos_dir=videos,
                release=options["release"],
                split=split,
                on_conflict=options["on_conflict"],
                update=options["update"],
            )
        except errors.ImportInvalid as refusal:
            raise CommandError(str(refusal)) from None
        for line in report.lines(videos_given=videos is not None):
            self.stdout.write(line)
        summary = (
            f"done: {report.imported} imported, {report.already_present} already present, "
            f"{report.refused_count} refused"
        )
        if report.refused_count:
            # Scripts that bootstrap a collection must notice a partial import.
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
