"""Training and inference speed at batch 64 and feature-extraction speed (medians of runs).

    .venv/bin/python -m bench.speed [--repeats 5] [--workdir var/bench/speed] [--device cuda]

Same as `python -m qa_model bench`; see qa_model/bench.py for what each figure measures.
"""

from __future__ import annotations

import argparse

from qa_model import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="var/bench/speed")
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device")
    args = parser.parse_args()
    bench.main(workdir=args.workdir, videos=args.videos, repeats=args.repeats, device=args.device)


if __name__ == "__main__":
    main()
