#!/usr/bin/env bash
# The fine-tuning demo (README quick start: `make demo`). From the repository root:
#   1. pretrain: SSD MobileNet V1 (depth 0.25, 128x128) from scratch on four shape classes
#      (examples/configs/shapes_pretrain.config, 2000 steps) -> build/demo/pretrain
#   2. fine-tune: from that checkpoint to three new classes (shapes_finetune.config, 600 steps;
#      the class heads start fresh because num_classes changed) -> build/demo/finetune
#   3. baseline: the same 600 steps from scratch (shapes_scratch.config) -> build/demo/scratch
# and prints both mAP@0.5 on 200 held-out images. The last two lines are, exactly,
#   demo: fine-tuned checkpoint DIR
#   demo: fine-tuned mAP@0.5 X, from scratch mAP@0.5 Y
#
# Usage: examples/finetune/demo.sh [path/to/warmstart-finetune]   (default build/release/...)
# DEMO_THREADS=N sets --threads (default 0: every core). About 3 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin="${1:-build/release/warmstart-finetune}"
if [ ! -x "$bin" ]; then
  echo "demo: $bin not found; build it first: cmake --preset release && cmake --build --preset release --target warmstart_finetune" >&2
  exit 1
fi
threads="${DEMO_THREADS:-0}"
out=build/demo
rm -rf "$out"
mkdir -p "$out"

map50() {  # mAP@0.5 of DIR/eval/metrics.json, 3 decimals
  awk -F': ' '/"DetectionBoxes_Precision\/mAP@.50IOU"/ { gsub(/,/, "", $2); printf "%.3f", $2 }' "$1/eval/metrics.json"
}

stage() {  # stage TITLE CONFIG MODEL_DIR
  echo
  echo "== $1"
  echo "   warmstart-finetune --config $2 --model_dir $3 --eval"
  "$bin" --config "$2" --model_dir "$3" --eval --threads "$threads" --log_every 200 --log-format text
}

start=$(date +%s)
stage "1/3 pretrain on circle, square, triangle, cross (from scratch)" examples/configs/shapes_pretrain.config "$out/pretrain"
stage "2/3 fine-tune to ring, diamond, star from the pretrained checkpoint" examples/configs/shapes_finetune.config "$out/finetune"
stage "3/3 the same from scratch, for comparison" examples/configs/shapes_scratch.config "$out/scratch"
end=$(date +%s)

echo
echo "demo: pretrained mAP@0.5 $(map50 "$out/pretrain") on its own classes; $((end - start)) s in all"
echo "demo: detections drawn in $out/finetune/eval/detections.png, loss curve in $out/finetune/eval/loss_curve.png"
echo "demo: fine-tuned checkpoint $out/finetune"
echo "demo: fine-tuned mAP@0.5 $(map50 "$out/finetune"), from scratch mAP@0.5 $(map50 "$out/scratch")"
