"""Export the accepted QA pairs as a MUSIC-AVQA dataset.

    manage.py export_avqa OUT_DIR

Writes avqa-train.json, avqa-val.json, avqa-test.json (split by video with the SPLIT_*
settings, deterministic) and manifest.json (counts per split and type, the dataset hash, the
export time). Equal data gives byte-identical split files.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from annotator.export import dataset_export


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", type=Path)

    def handle(self, *args: object, out_dir: Path, **_: object) -> None:
        manifest = dataset_export().write(out_dir)
        for split, counts in manifest["counts"].items():
            self.stdout.write(f"{split:<5} {counts['pairs']:>6} pairs on {counts['videos']} videos")
        self.stdout.write(f"hash {manifest['hash']}")
        self.stdout.write(self.style.SUCCESS(f"wrote {out_dir}"))
