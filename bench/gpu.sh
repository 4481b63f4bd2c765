#!/usr/bin/env bash
# Every GPU check in one go, for a machine with CUDA, within a time budget:
#   bench/gpu.sh OUT_DIR [ACCURACY_SECONDS]
# 1. the qa_model tests that touch the device (training and batches on CUDA);
# 2. the speed benchmark on the GPU (training / inference samples/s, extraction, projection);
# 3. the accuracy benchmark, variants in order of importance, for as long as the budget allows
#    (its results.json is copied out even when the budget cuts it short; rerun to resume).
# PYTHON names the interpreter (default python3). Each step's output lands in OUT_DIR.
set -u
out=${1:?usage: bench/gpu.sh OUT_DIR [ACCURACY_SECONDS]}
budget=${2:-1800}
py=${PYTHON:-python3}
work=${BENCH_WORKDIR:-var/bench}
mkdir -p "$out" "$work"
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=5

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  nproc
  $py -c "import torch, av; print('torch', torch.__version__, 'av', av.__version__)"
} > "$out/machine.txt" 2>&1

timeout 120 $py -m pytest -q -c /dev/null --rootdir . --confcutdir tests/qa_model \
  -p no:django -p no:cacheprovider \
  tests/qa_model/test_data.py tests/qa_model/test_model.py tests/qa_model/test_training.py \
  > "$out/tests.txt" 2>&1
echo "tests: exit $?" >> "$out/machine.txt"

timeout 150 $py -m bench.speed --device cuda --workdir "$work/speed" > "$out/speed.txt" 2>&1
echo "speed: exit $?" >> "$out/machine.txt"

# The comparison the model issue asks for first (two seeds, the loss mask both ways), then the
# rest of Table 3; both share results.json, so a cut-short run resumes where it stopped.
started=$SECONDS
timeout "$budget" $py -m bench.accuracy --workdir "$work/accuracy" --seeds 0,1 \
  --variants question_only,avst_plus,avst --loss-mask both > "$out/accuracy.txt" 2>&1
echo "accuracy: exit $?" >> "$out/machine.txt"
left=$((budget - (SECONDS - started)))
if [ "$left" -gt 60 ]; then
  timeout "$left" $py -m bench.accuracy --workdir "$work/accuracy" --seeds 0,1 \
    --variants audio_q,visual_q,av_q,av_q_tg > "$out/accuracy-ablations.txt" 2>&1
  echo "ablations: exit $?" >> "$out/machine.txt"
fi
cp "$work/accuracy/results.json" "$out/" 2>/dev/null
tail -n 3 "$out"/*.txt
