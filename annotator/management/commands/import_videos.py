"""Import video files into the collection.

    manage.py import_videos PATH... [--random-offsets] [--seed N] [--background]

PATHs are files or folders (searched recursively for video files). Each file is probed, cut
into clips of CLIP_SECONDS (60 s; with --random-offsets the clips start at a random offset, as
the paper cut its videos), transcoded to H.264/AAC MP4 unless it can be stored as it is, checked
to decode from end to end, and skipped when the same content was imported before. A refused
file is named with the reason and leaves nothing behind. Each new clip's features are then
extracted on the gpu queue.

The import runs here, with a progress bar, and exits 1 when a file was refused; it is recorded
under Admin -> Video imports like an upload. With --background it is sent to the worker instead
(the files must be readable there) and the command returns at once.
"""

from __future__ import annotations

import random
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator import imports
from annotator.models import VideoImport
from annotator.video_import import video_files


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--random-offsets", action="store_true")
        parser.add_argument("--seed", type=int, help="Seed for the random offsets.")
        parser.add_argument(
            "--background", action="store_true", help="Send the import to the worker."
        )

    def handle(self, *args: object, paths: list[Path], **options: object) -> None:
        files = [path.resolve() for path in video_files(paths)]
        if not files:
            raise CommandError("no video files found in " + ", ".join(map(str, paths)))
        # One import per folder, so each reads its files from one place.
        by_folder: dict[Path, list[str]] = {}
        for path in files:
            by_folder.setdefault(path.parent, []).append(path.name)
        if options["background"]:
            for folder, names in by_folder.items():
                job = imports.import_queue(
                    folder=folder, files=names, random_offsets=options["random_offsets"]
                )
                self.stdout.write(
                    f"import {job.pk} queued: {len(names)} file(s) from {folder}; "
                    "follow it under Admin -> Video imports"
                )
            return
        rng = random.Random(options["seed"])
        added = skipped = refused = finished = 0
        with tqdm(total=len(files), desc="importing", unit="file", disable=None) as bar:

            def progress(row: VideoImport) -> None:
                bar.n = round(finished + row.progress * len(row.files), 2)
                bar.set_postfix_str(row.current_file[:40])
                bar.refresh()

            def outcome(line: str) -> None:
                tqdm.write(line, file=self.stdout)

            for folder, names in by_folder.items():
                # Recorded like an upload (Admin -> Video imports), but run here.
                job = imports.import_queue(
                    folder=folder,
                    files=names,
                    random_offsets=options["random_offsets"],
                    send=False,
                )
                job = imports.import_run(job.pk, on_progress=progress, on_outcome=outcome, rng=rng)
                finished += len(names)
                added += job.clips_made
                refused += job.refused
                skipped += sum(line.startswith("skipped:") for line in job.outcomes)
        summary = f"{added} clip(s) added, {skipped} duplicate(s) skipped, {refused} refused"
        if refused:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
