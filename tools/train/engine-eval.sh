#!/usr/bin/env bash
# Scores the long-range task's evaluation events with the Java engine (bin/lseq score) and
# prints the metrics per distance: the numbers of tools/train/README.md's engine tables.
#
#   tools/train/engine-eval.sh MODEL_DIR [TASK [SEED [KEYS [DISTANCES...]]]]
#   tools/train/engine-eval.sh examples/models/longrange-lru header 11 200 64 256 1024 4096 16384
#
# TASK: header (the first task) or switch (the switch task). Events are written once into
# $WORK (default /tmp/longrange-engine) and reused.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
cd "$root"
model=$1; task=${2:-header}; seed=${3:-11}; keys=${4:-200}
shift $(( $# < 4 ? $# : 4 ))
distances=${*:-64 256 1024 4096 16384}
work=${WORK:-/tmp/longrange-engine}
mkdir -p "$work"
name=$(basename "$model")
for d in $distances; do
  ev="$work/$task-d$d-k$keys-s$seed.jsonl"
  [ -s "$ev" ] || /usr/bin/python3 tools/train/longrange.py events --task "$task" --distance "$d" \
      --keys "$keys" --seed "$seed" --out "$ev" 2>/dev/null
  sc="$work/scores-$name-$task-d$d-k$keys-s$seed.jsonl"
  t0=$(date +%s.%N)
  bin/lseq score --model "$model" --input "$ev" --output "$sc" --quiet 2>/dev/null
  t1=$(date +%s.%N)
  /usr/bin/python3 -c '
import json, sys
sys.path.insert(0, "tools/train")
from longrange import score_metrics
for d, r in score_metrics(sys.argv[1]).items():
    print("%-28s %-6s D=%5d  normal %3d mean %.3f  anomaly %3d mean %.3f  AUC %.3f  (%s s)" % (
        sys.argv[2], sys.argv[3], d, r["normal"], r["mean_normal"], r["anomaly"], r["mean_anomaly"],
        r["auc"], sys.argv[4]))' "$sc" "$name" "$task" "$(printf %.0f "$(echo "$t1 - $t0" | bc)")"
done
