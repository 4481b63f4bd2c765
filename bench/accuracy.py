"""Accuracy on synthetic audio-visual scenes: the paper's Table 3 variants, Table 2 breakdown.

    .venv/bin/python -m bench.accuracy [--videos 400] [--epochs 20] [--seeds 0,1]
        [--variants question_only,avst,avst_plus] [--loss-mask off|on|both]
        [--workdir var/bench/accuracy]

Renders the scenes and extracts their features once (kept in the work folder), trains every
variant on the train split with each training seed and the same schedule, keeps each run's
best validation epoch, and prints its Table 2 on the test split beside the question-only
baseline measured in the same run, then the tables pooled over the seeds and each model's
margin over question-only (and the best one's over AVST, per type). `--loss-mask both` trains
each variant with and without the template mask in the loss. Each run's result is saved in the
work folder (results.json) as soon as it is measured; a run with the same settings skips the
saved ones, so an interrupted benchmark resumes.
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
            [(clip.stem, clip) for clip in clips],
            workdir / "features",
            decode_workers=workers,
            on_done=lambda *_: bar.update(),
        )


def _settings(args: argparse.Namespace) -> dict:
    ignored = ("variants", "workdir", "workers", "seeds", "loss_mask")
    return {k: v for k, v in vars(args).items() if k not in ignored}


def _load(workdir: Path, args: argparse.Namespace) -> dict:
    path = workdir / "results.json"
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    return saved.get("runs", {}) if saved.get("config") == _settings(args) else {}


def _save(workdir: Path, args: argparse.Namespace, tables: dict, timings: dict) -> None:
    runs = {
        run: {
            "correct": {f"{m}/{t}": n for (m, t), n in table.correct.items()},
            "total": {f"{m}/{t}": n for (m, t), n in table.total.items()},
            "columns": table.columns(),
            "train_seconds": timings[run],
        }
        for run, table in tables.items()
    }
    results = {"config": _settings(args), "runs": runs}
    (workdir / "results.json").write_text(json.dumps(results, indent=1))


def _table(data: dict) -> Table2:
    def keyed(counts: dict) -> dict:
        return {tuple(key.split("/", 1)): n for key, n in counts.items()}

    return Table2(correct=keyed(data["correct"]), total=keyed(data["total"]))


def _pooled(tables: list[Table2]) -> Table2:
    """Several seeds' tables as one: their correct and total counts summed (the mean accuracy
    over seeds, each seed weighted by the same test questions)."""
    correct: dict = {}
    total: dict = {}
    for table in tables:
        for key, count in table.correct.items():
            correct[key] = correct.get(key, 0) + count
        for key, count in table.total.items():
            total[key] = total.get(key, 0) + count
    return Table2(correct=correct, total=total)


def _run_name(variant: str, masked: bool, seed: int) -> str:
    return f"{variant}{'+mask' if masked else ''}@{seed}"


def _margins(tables: dict[str, Table2]) -> None:
    """Each model's margin over question-only (overall and audio-visual average), then each
    other model's over AVST per type, pooled over seeds."""
    if "question_only" not in tables:
        return
    base = tables["question_only"]
    ranked = sorted(
        (name for name in tables if name != "question_only"),
        key=lambda name: tables[name].modality_accuracy(AUDIO_VISUAL) or 0.0,
        reverse=True,
    )
    print("\nOver question-only (points), pooled over the seeds:")
    for name in ranked:
        table = tables[name]
        av_gain = table.modality_accuracy(AUDIO_VISUAL) - base.modality_accuracy(AUDIO_VISUAL)
        print(
            f"  {name:<16} All {100 * (table.overall - base.overall):+6.2f}"
            f"   AV avg {100 * av_gain:+6.2f}"
        )
    if "avst" not in tables:
        return
    avst = tables["avst"]
    for name in (
        name for name in ranked if not name.startswith(("avst+", "avst@")) and name != "avst"
    ):
        other = tables[name]
        print(f"\n{name} over avst, per type (points):")
        for key in TABLE2_TYPES:
            if other.accuracy(key) is not None and avst.accuracy(key) is not None:
                gain = 100 * (other.accuracy(key) - avst.accuracy(key))
                print(f"  {key[0]:<12} {key[1]:<12} {gain:+6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--grounding-epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0, help="the synthetic set's seed")
    parser.add_argument("--seeds", default="0,1", help="training seeds, comma-separated")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--loss-mask",
        choices=("off", "on", "both"),
        default="off",
        help="mask the answers a template does not admit in the loss too (always at prediction)",
    )
    parser.add_argument("--workdir", default="var/bench/accuracy")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="render and decode in parallel"
    )
    args = parser.parse_args()
    workdir = Path(args.workdir)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    masks = {"off": [False], "on": [True], "both": [False, True]}[args.loss_mask]
    variants = args.variants.split(",")
    wanted = [(variant, masked, seed) for variant in variants for masked in masks for seed in seeds]
    # Each run's result is saved as soon as it is measured, and a later run with the same
    # settings skips what is saved: an interrupted benchmark resumes instead of starting over,
    # and one whose runs are all saved only prints (results.json can be copied from the
    # machine that measured it).
    saved = _load(workdir, args)
    tables = {run: _table(data) for run, data in saved.items()}
    timings = {run: data["train_seconds"] for run, data in saved.items()}
    todo = [key for key in wanted if _run_name(*key) not in tables]
    for key in wanted:
        if _run_name(*key) in tables:
            print(f"{_run_name(*key)}: saved earlier ({timings[_run_name(*key)]:.0f} s)")
    if todo:
        prepare(workdir, args.videos, args.seed, args.workers)
        splits = {
            split: load_records(workdir / f"avqa-{split}.json")
            for split in ("train", "val", "test")
        }
        print("records: " + ", ".join(f"{split} {len(rs)}" for split, rs in splits.items()))
        store = FeatureStore(workdir / "features")
    for variant, masked, seed in todo:
        name = _run_name(variant, masked, seed)
        config = TrainConfig(
            epochs=args.epochs,
            grounding_epochs=args.grounding_epochs,
            learning_rate=args.lr,
            seed=seed,
            mask_answers_in_loss=masked,
        )
        started = time.perf_counter()
        result = train(splits["train"], splits["val"], store, variant=variant, config=config)
        timings[name] = time.perf_counter() - started
        tables[name] = evaluate(result.model, result.vocabulary, splits["test"], store)
        print(
            f"{name}: best epoch {result.best_epoch}, val {result.best_val_accuracy:.2%},"
            f" test {tables[name].overall:.2%}, {timings[name]:.0f} s"
        )
        _save(workdir, args, tables, timings)
    runs = [_run_name(*key) for key in wanted]
    questions = max(sum(tables[run].total.values()) for run in runs)
    print(f"\nTest split, accuracy % ({questions} questions), each training seed")
    print(format_table2({run: tables[run] for run in runs}))
    models = {}
    for variant in variants:
        for masked in masks:
            name = f"{variant}{'+mask' if masked else ''}"
            models[name] = _pooled([tables[_run_name(variant, masked, seed)] for seed in seeds])
    print(f"\nPooled over seeds {', '.join(map(str, seeds))}")
    print(format_table2(models))
    _margins(models)


if __name__ == "__main__":
    main()
