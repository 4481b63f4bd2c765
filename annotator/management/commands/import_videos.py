"""Import video files into the collection.

    manage.py import_videos PATH... [--random-offsets] [--seed N]

PATHs are files or folders (searched recursively for video files). Each file is probed, cut
into clips of CLIP_SECONDS (60 s; with --random-offsets the clips start at a random offset, as
the paper cut its videos), transcoded to H.264/AAC MP4 when a browser could not play it, and
skipped when the same content was imported before. A refused file is named with the reason and
leaves nothing behind. Each new clip's features are then extracted on the gpu queue.
"""

from __future__ import annotations

import random
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator.video_import import import_file, video_files


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--random-offsets", action="store_true")
        parser.add_argument("--seed", type=int, help="Seed for the random offsets.")

    def handle(
        self, *args: object, paths: list[Path], random_offsets: bool, seed: int | None, **_: object
    ) -> None:
        files = list(video_files(paths))
        if not files:
            raise CommandError("no video files found in " + ", ".join(map(str, paths)))
        rng = random.Random(seed)
        added = skipped = refused = 0
        for path in tqdm(files, desc="importing", unit="file", disable=len(files) < 2):
            outcome = import_file(path, random_offsets=random_offsets, rng=rng)
            self.stdout.write(outcome.line())
            added += len(outcome.videos)
            skipped += bool(outcome.duplicate_of)
            refused += bool(outcome.error)
        summary = f"{added} clip(s) added, {skipped} duplicate(s) skipped, {refused} refused"
        self.stdout.write((self.style.WARNING if refused else self.style.SUCCESS)(summary))
