"""Speed benchmarks: training and inference samples/s at batch 64, and feature extraction as
seconds of video per second of wall time. Each figure is the median of several runs; ratios
compare against a baseline measured in the same run (question-only for the model, real time
for extraction), and the projected time of a full MUSIC-AVQA training run on each device."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from qa_model.data import FeatureStore, Vocabulary, batches
from qa_model.decode import CLIP_SECONDS
from qa_model.features import FeatureExtractor
from qa_model.model import build_model, variant_config
from qa_model.records import load_records
from qa_model.synthetic import synthesize
from qa_model.training import (
    TrainConfig,
    batch_inputs,
    forward,
    match_loss,
    resolve_device,
    seed_everything,
)

BATCH = 64
PAPER_TRAIN_PAIRS = 32_087
PAPER_EPOCHS = 30
WORKERS = os.cpu_count() or 1
# Question-only is the baseline; av_q reads pooled visual features, AVST the full maps.
SPEED_VARIANTS = ("question_only", "av_q", "avst")


def median_of(repeats: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeats))


def prepare(workdir: Path, videos: int) -> tuple[list, FeatureStore]:
    """A small synthetic set with features (kept in workdir between runs)."""
    if not (workdir / "avqa-train.json").exists():
        synthesize(workdir, videos=videos, seed=7, workers=WORKERS)
    extractor = FeatureExtractor()
    clips = sorted((workdir / "videos").glob("*.mp4"))
    extractor.extract(
        [(clip.stem, clip) for clip in clips], workdir / "features", decode_workers=WORKERS
    )
    records = [
        record
        for split in ("train", "val", "test")
        for record in load_records(workdir / f"avqa-{split}.json")
    ]
    return records, FeatureStore(workdir / "features")


def model_speed(
    records, store, variant: str, device: torch.device, *, training: bool, repeats: int
) -> tuple[float, float]:
    """Samples per second through one variant at batch 64 (batch assembly included), and the
    share of that time spent making batches and moving them to the device."""
    seed_everything(0)
    vocabulary = Vocabulary.build(records)
    model = build_model(variant_config(variant, vocab_size=len(vocabulary.words)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    # A GPU finishes four batches in milliseconds: time more of them there.
    size = BATCH * (16 if device.type == "cuda" else 4)
    pool = (records * (size // len(records) + 1))[:size]
    store.preload({r.video_id for r in pool})
    # As training does: statistics set, the store standardised once, features held.
    channel_stats = store.statistics(r.video_id for r in pool)
    model.set_feature_statistics(*(torch.from_numpy(s) for s in channel_stats))
    store.standardise(model.feature_statistics())
    model.to(device)
    store.hold_on(device)
    inputs = batch_inputs(model, training=training)

    def synchronise() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def run() -> tuple[float, float]:
        model.train(training)
        loading = 0.0
        started = time.perf_counter()
        made = iter(batches(pool, vocabulary, store, batch_size=BATCH, shuffle=True, inputs=inputs))
        while True:
            before = time.perf_counter()
            batch = next(made, None)
            if batch is None:
                break
            batch = batch.to(device)
            synchronise()
            loading += time.perf_counter() - before
            with torch.set_grad_enabled(training):
                output = forward(model, batch, negatives=training)
                if training:
                    loss = torch.nn.functional.cross_entropy(output.logits, batch.answers)
                    if model.config.spatial_grounding:
                        loss = loss + TrainConfig().match_weight * match_loss(output)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        synchronise()
        seconds = time.perf_counter() - started
        return len(pool) / seconds, loading / seconds

    run()  # warm-up
    runs = [run() for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def extraction_speed(
    workdir: Path, device: torch.device, *, repeats: int, videos: int = 8
) -> float:
    """Seconds of video turned into features per second of wall time (decoding in threads)."""
    extractor = FeatureExtractor(device=device)
    clips = sorted((workdir / "videos").glob("*.mp4"))[:videos]

    def run() -> float:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            extractor.extract(
                [(c.stem, c) for c in clips], out, skip_existing=False, decode_workers=WORKERS
            )
            if device.type == "cuda":
                torch.cuda.synchronize()
            return len(clips) * CLIP_SECONDS / (time.perf_counter() - started)

    return median_of(repeats, run)


def main(*, workdir: str, videos: int = 16, repeats: int = 5, device: str | None = None) -> dict:
    root = Path(workdir)
    records, store = prepare(root, videos)
    devices = [resolve_device(device)] if device else [torch.device("cpu")]
    if not device and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    results: dict = {}
    for target in devices:
        name = (
            torch.cuda.get_device_name(target)
            if target.type == "cuda"
            else f"CPU ({torch.get_num_threads()} threads)"
        )
        figures = {}
        for mode in ("train", "infer"):
            for variant in SPEED_VARIANTS:
                rate, loading = model_speed(
                    records, store, variant, target, training=mode == "train", repeats=repeats
                )
                figures[f"{mode} {variant}"] = rate
                figures[f"{mode} {variant} loading share"] = loading
        figures["extract"] = extraction_speed(root, target, repeats=max(1, repeats // 2))
        results[str(target)] = figures
        print(f"\n{name}: median of {repeats} runs, batch {BATCH}")
        for mode in ("train", "infer"):
            base = figures[f"{mode} question_only"]
            for variant in SPEED_VARIANTS:
                rate = figures[f"{mode} {variant}"]
                share = figures[f"{mode} {variant} loading share"]
                print(
                    f"  {mode:5} {variant:<13} {rate:9.1f} samples/s   ratio to question-only"
                    f" {rate / base:6.3f}   making batches {share:6.1%} of the time"
                )
        print(f"  extract    {figures['extract']:9.1f} s of video per s of wall time")
        epochs = PAPER_EPOCHS + TrainConfig().grounding_epochs
        hours = PAPER_TRAIN_PAIRS * epochs / figures["train avst"] / 3600
        figures["projected full run hours"] = hours
        print(
            f"  projected full MUSIC-AVQA run ({PAPER_TRAIN_PAIRS} pairs × {epochs} epochs):"
            f" {hours:.1f} h ({hours * 60:.0f} min)"
        )
    return results
