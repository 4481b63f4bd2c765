"""Accuracy on synthetic audio-visual scenes: the paper's Table 3 variants, Table 2 breakdown.

    .venv/bin/python -m bench.accuracy [--videos 400] [--epochs 20] [--workdir var/bench/accuracy]

Renders the scenes and extracts their features once (kept in the work folder), trains every
variant on the train split with the same seed and schedule, keeps each one's best validation
epoch, and prints its Table 2 on the test split beside the question-only baseline measured in
the same run, then the full model's margin over that baseline. Each variant's result is saved
in the work folder (results.json) as soon as it is measured; a run with the same settings skips
the saved ones, so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from tqdm import tqdm

from qa_model.catalogue import AUDIO_VISUAL, TABLE2_TYPES
from qa_model.data import FeatureStore
from qa_model.evaluation import Table2, evaluate, format_table2
from qa_model.features import FeatureExtractor
from qa_model.model import VARIANTS
from qa_model.records import load_records
from qa_model.synthetic import synthesize
from qa_model.training import TrainConfig, train


def prepare(workdir: Path, videos: int, seed: int, workers: int) -> None:
    if (
        not (workdir / "avqa-test.json").exists()
        or len(list((workdir / "videos").glob("*.mp4"))) < videos
    ):
        with tqdm(total=videos, desc="rendering", unit="video") as bar:
            synthesize(
                workdir, videos=videos, seed=seed, workers=workers, on_video=lambda _: bar.update()
            )
    clips = sorted((workdir / "videos").glob("*.mp4"))
    with tqdm(total=len(clips), desc="features", unit="video") as bar:
        FeatureExtractor().extract(
            [(clip.stem, clip) for clip in clips], workdir / "features", decode_workers=workers,
            on_done=lambda *_: bar.update(),
        )  # fmt: skip


def _settings(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ("variants", "workdir", "workers")}


def _load(workdir: Path, args: argparse.Namespace) -> dict:
    path = workdir / "results.json"
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    return saved.get("variants", {}) if saved.get("config") == _settings(args) else {}


def _save(workdir: Path, args: argparse.Namespace, tables: dict, timings: dict) -> None:
    variants = {
        variant: {
            "correct": {f"{m}/{t}": n for (m, t), n in table.correct.items()},
            "total": {f"{m}/{t}": n for (m, t), n in table.total.items()},
            "columns": table.columns(),
            "train_seconds": timings[variant],
        }
        for variant, table in tables.items()
    }
    results = {"config": _settings(args), "variants": variants}
    (workdir / "results.json").write_text(json.dumps(results, indent=1))


def _table(data: dict) -> Table2:
    def keyed(counts: dict) -> dict:
        return {tuple(key.split("/", 1)): n for key, n in counts.items()}

    return Table2(correct=keyed(data["correct"]), total=keyed(data["total"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--grounding-epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--workdir", default="var/bench/accuracy")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="render and decode in parallel"
    )
    args = parser.parse_args()
    workdir = Path(args.workdir)
    # Each variant's result is saved as soon as it is measured, and a later run with the same
    # settings skips what is saved: an interrupted benchmark resumes instead of starting over,
    # and one whose variants are all saved only prints (results.json can be copied from the
    # machine that measured it).
    saved = _load(workdir, args)
    tables = {variant: _table(data) for variant, data in saved.items()}
    timings = {variant: data["train_seconds"] for variant, data in saved.items()}
    todo = [variant for variant in args.variants.split(",") if variant not in tables]
    for variant in args.variants.split(","):
        if variant in tables:
            print(f"{variant}: saved earlier ({timings[variant]:.0f} s)")
    if todo:
        prepare(workdir, args.videos, args.seed, args.workers)
        splits = {
            split: load_records(workdir / f"avqa-{split}.json")
            for split in ("train", "val", "test")
        }  # fmt: skip
        print("records: " + ", ".join(f"{split} {len(rs)}" for split, rs in splits.items()))
        store = FeatureStore(workdir / "features")
        config = TrainConfig(
            epochs=args.epochs, grounding_epochs=args.grounding_epochs, learning_rate=args.lr,
            seed=args.seed,
        )  # fmt: skip
    for variant in todo:
        started = time.perf_counter()
        result = train(splits["train"], splits["val"], store, variant=variant, config=config)
        timings[variant] = time.perf_counter() - started
        tables[variant] = evaluate(result.model, result.vocabulary, splits["test"], store)
        print(f"{variant}: best epoch {result.best_epoch}, {timings[variant]:.0f} s")
        _save(workdir, args, tables, timings)
    tables = {variant: tables[variant] for variant in VARIANTS if variant in tables}
    questions = max(sum(table.total.values()) for table in tables.values())
    print(f"\nTest split, accuracy % ({questions} questions)")
    print(format_table2(tables))
    if "question_only" in tables and "avst" in tables:
        base, full = tables["question_only"], tables["avst"]
        all_gain = full.overall - base.overall
        av_gain = full.modality_accuracy(AUDIO_VISUAL) - base.modality_accuracy(AUDIO_VISUAL)
        print(
            f"\nAVST over question-only: All {100 * all_gain:+.2f} points, "
            f"AV avg {100 * av_gain:+.2f} points; per audio-visual type:"
        )
        for key in TABLE2_TYPES:
            if key[0] == AUDIO_VISUAL and base.accuracy(key) is not None:
                print(f"  {key[1]:<12} {100 * (full.accuracy(key) - base.accuracy(key)):+.2f}")


if __name__ == "__main__":
    main()
