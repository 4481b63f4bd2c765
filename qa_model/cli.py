"""`python -m qa_model synth|extract|train|evaluate|predict|bench`: the ML library from a shell.

Every command refuses bad input with one line naming the file or record and exits with 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from qa_model.data import FeatureStore
from qa_model.features import VIDEO_ID
from qa_model.media import MediaError
from qa_model.model import VARIANTS
from qa_model.records import DataError, load_records

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ogv"}


def video_id_for(stem: str) -> str:
    """The feature file's id for a video file named `stem`: the stem itself when it is an id
    (letters, digits, _ and -, as MUSIC-AVQA's are), else its letters and digits joined by -
    ("Cello duet (take 2)" -> "Cello-duet-take-2"; accents kept as their base letter)."""
    if VIDEO_ID.fullmatch(stem):
        return stem
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "-", plain).strip("-")[:100] or "video"


def _video_files(paths: Sequence[str]) -> list[tuple[str, Path]]:
    """(video id, file) for files and the video files inside folders. The id is the file stem,
    or made from it when the stem is no id (spaces, accents); two files that would share an id
    get -2, -3, ... in the order they are listed."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        elif path.exists():
            found.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    named, taken = [], set()
    for path in found:
        base = candidate = video_id_for(path.stem)
        number = 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        if candidate != path.stem:
            print(f"{path}: features saved as {candidate}.npz")
        named.append((candidate, path))
    return named


def _seconds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of seconds, e.g. 0,6,12") from None


def synth(args: argparse.Namespace) -> None:
    from qa_model.synthetic import synthesize

    with tqdm(total=args.videos, desc="rendering", unit="video") as bar:
        counts = synthesize(
            args.out,
            videos=args.videos,
            seed=args.seed,
            duration_seconds=args.seconds,
            fps=args.fps,
            workers=args.workers,
            on_video=lambda _: bar.update(),
        )
    print(
        f"{sum(counts.values())} records in {args.out}: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )


def extract(args: argparse.Namespace) -> None:
    from qa_model.features import FeatureExtractor

    videos = _video_files(args.videos)
    if not videos:
        raise DataError("no video files found")
    extractor = FeatureExtractor(
        visual_weights=args.visual_weights,
        audio_weights=args.audio_weights,
        seconds=args.seconds,
        device=args.device,
    )
    with tqdm(total=len(videos), desc="extracting", unit="video") as bar:

        def done(video_id: str, path: Path | None, error: Exception | None) -> None:
            bar.update()
            if error:
                tqdm.write(f"skipped {error}")

        failures = extractor.extract(
            videos,
            args.out,
            batch_videos=args.batch_videos,
            decode_workers=args.decode_workers,
            on_done=done,
        )
    print(f"{len(videos) - len(failures)} of {len(videos)} videos have features in {args.out}")
    if failures:
        raise SystemExit(1)


def train(args: argparse.Namespace) -> None:
    from qa_model.training import TrainConfig, save_checkpoint
    from qa_model.training import train as run

    train_records = load_records(args.train)
    val_records = load_records(args.val) if args.val else []
    store = FeatureStore(args.features)
    config = TrainConfig(
        epochs=args.epochs,
        grounding_epochs=args.grounding_epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        device=args.device,
    )
    bar = tqdm(desc="training", unit="epoch")

    def show(progress) -> None:
        bar.total = progress.epochs
        bar.set_description(f"{progress.stage}")
        bar.n = progress.epoch
        val = f"{progress.val_accuracy:.2%}" if progress.val_accuracy is not None else "–"
        bar.set_postfix(loss=f"{progress.loss:.4f}", val=val)
        bar.refresh()

    result = run(
        train_records, val_records, store, variant=args.variant, config=config, on_progress=show
    )
    bar.close()
    extra = {
        "variant": args.variant,
        "best_epoch": result.best_epoch,
        "best_val_accuracy": result.best_val_accuracy,
    }
    save_checkpoint(args.out, result.model, result.vocabulary, extra=extra)
    accuracy = result.best_val_accuracy
    shown = "no validation records" if accuracy is None else f"val accuracy {accuracy:.2%}"
    print(f"saved {args.out} (best epoch {result.best_epoch}, {shown})")


def evaluate(args: argparse.Namespace) -> None:
    from qa_model.evaluation import evaluate as run
    from qa_model.evaluation import format_table2
    from qa_model.training import load_checkpoint

    model, vocabulary, extra = load_checkpoint(args.checkpoint, args.device)
    records = load_records(args.records)
    table = run(model, vocabulary, records, FeatureStore(args.features))
    print(format_table2({extra.get("variant", "model"): table}))
    if args.json:
        Path(args.json).write_text(json.dumps(table.to_json(), indent=1))


def predict(args: argparse.Namespace) -> None:
    from qa_model.evaluation import predict as run
    from qa_model.training import load_checkpoint

    model, vocabulary, _ = load_checkpoint(args.checkpoint, args.device)
    records = load_records(args.records)
    predictions = run(model, vocabulary, records, FeatureStore(args.features))
    text = json.dumps([prediction.to_json() for prediction in predictions])
    if args.out:
        Path(args.out).write_text(text)
        print(f"{len(predictions)} predictions in {args.out}")
    else:
        print(text)


def bench(args: argparse.Namespace) -> None:
    from qa_model import bench as benchmarks

    benchmarks.main(
        workdir=args.workdir, videos=args.videos, repeats=args.repeats, device=args.device
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m qa_model", description=__doc__)
    root.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = root.add_subparsers(dest="command", required=True)

    command = commands.add_parser("synth", help="render synthetic scenes and their records")
    command.add_argument("out")
    command.add_argument("--videos", type=int, default=400)
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--seconds", type=float, default=60.0)
    command.add_argument("--fps", type=int, default=8)
    command.add_argument("--workers", type=int, default=1, help="render in this many processes")
    command.set_defaults(run=synth)

    command = commands.add_parser("extract", help="extract audio and visual features")
    command.add_argument("videos", nargs="+", help="video files or folders")
    command.add_argument("--out", required=True)
    command.add_argument("--visual-weights", help="torchvision ResNet-18 state dict (.pth)")
    command.add_argument("--audio-weights", help="converted VGGish state dict (.pth)")
    command.add_argument("--seconds", type=_seconds, default=tuple(range(0, 60, 6)))
    command.add_argument("--batch-videos", type=int, default=4)
    command.add_argument("--decode-workers", type=int, default=2, help="decoding threads")
    command.add_argument("--device")
    command.set_defaults(run=extract)

    command = commands.add_parser("train", help="train AVST or an ablation")
    command.add_argument("--train", required=True, help="records (MUSIC-AVQA JSON)")
    command.add_argument("--val", help="validation records; the best epoch on them is kept")
    command.add_argument("--features", required=True)
    command.add_argument("--out", required=True, help="checkpoint to write")
    command.add_argument("--variant", choices=list(VARIANTS), default="avst")
    command.add_argument("--epochs", type=int, default=30)
    command.add_argument("--grounding-epochs", type=int, default=2)
    command.add_argument("--batch-size", type=int, default=64)
    command.add_argument("--lr", type=float, default=1e-4)
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--device")
    command.set_defaults(run=train)

    for name, run, help_text in (
        ("evaluate", evaluate, "print the Table 2 breakdown"),
        ("predict", predict, "answers, confidences, top 3 and grounding weights"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--checkpoint", required=True)
        command.add_argument("--records", required=True)
        command.add_argument("--features", required=True)
        command.add_argument("--device")
        command.add_argument("--json" if name == "evaluate" else "--out", help="write JSON here")
        command.set_defaults(run=run)

    command = commands.add_parser("bench", help="training, inference and extraction speed")
    command.add_argument("--workdir", default="var/bench")
    command.add_argument("--videos", type=int, default=16)
    command.add_argument("--repeats", type=int, default=5)
    command.add_argument("--device")
    command.set_defaults(run=bench)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        args.run(args)
    except (DataError, MediaError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
