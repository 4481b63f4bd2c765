"""Export the accepted QA pairs as a MUSIC-AVQA dataset.

    manage.py export_avqa OUT_DIR [--votes]

Writes avqa-train.json, avqa-val.json, avqa-test.json, provenance.json (each record's source:
collected here, or the release and split it was imported from) and manifest.json (counts per
split and type, records per source and split, the dataset hash, the export time). Records
imported from a release keep its split; questions collected here are split by video (their
video's published split, or the SPLIT_* settings), deterministically: equal data gives
byte-identical split files. --votes adds votes.json: every vote on an exported question with
its annotator's pseudonym, time, answer and whether it counted.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from annotator.export import dataset_export


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", type=Path)
        parser.add_argument(
            "--votes", action="store_true", help="Also write votes.json (every raw vote)."
        )

    def handle(self, *args: object, out_dir: Path, votes: bool, **_: object) -> None:
        manifest = dataset_export().write(out_dir, votes=votes)
        for split, counts in manifest["counts"].items():
            self.stdout.write(f"{split:<5} {counts['pairs']:>6} pairs on {counts['videos']} videos")
        for source, row in manifest["provenance"].items():
            shown = ", ".join(f"{split} {count}" for split, count in row.items())
            self.stdout.write(f"from {source}: {shown}")
        self.stdout.write(f"hash {manifest['hash']}")
        self.stdout.write(self.style.SUCCESS(f"wrote {out_dir}"))
