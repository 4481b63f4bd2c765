"""Load MUSIC-AVQA records as accepted questions.

    manage.py import_avqa FILE.json [--videos DIR]

Records are matched to videos by id; with --videos, a video not yet in the collection is added
from DIR/<video_id>.mp4 (or .mkv, .webm, .mov, .avi). Records that do not fit the catalogue or
the collection rules are reported with the reason and skipped; the rest is imported in one
transaction, so an interrupted import leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator import errors
from annotator.dataset_import import dataset_import, read_records


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--videos", type=Path, help="Folder of video files named by id.")

    def handle(self, *args: object, file: Path, videos: Path | None, **_: object) -> None:
        if videos is not None and not videos.is_dir():
            raise CommandError(f"{videos}: not a folder")
        try:
            report = dataset_import(read_records(file), videos_dir=videos)
        except errors.ImportInvalid as refusal:
            raise CommandError(str(refusal)) from None
        for line in report.lines():
            self.stdout.write(line)
        style = self.style.WARNING if report.refused_count else self.style.SUCCESS
        summary = f"done: {report.imported} imported, {report.refused_count} refused"
        self.stdout.write(style(summary))
